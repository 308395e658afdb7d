"""A private PostgreSQL server for the tests: Debian's PostgreSQL, a new cluster in a temporary folder.

The server listens on a Unix socket in its own folder only (no TCP port), with
trust authentication for local connections, so nothing else on the machine
can reach it and nothing needs a password.  PostgreSQL refuses to run as root;
when the tests run as root the cluster belongs to Debian's `postgres` user.

`./run tests` installs Debian's `postgresql` package where it can (as root with apt).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

PORT = 54329  # names the socket file only: the server listens on no TCP port


def binaries() -> Path | None:
    """The folder of PostgreSQL's server programs (initdb, pg_ctl), newest version first; None if absent."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]), reverse=True)
    if found:
        return Path(found[0]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


class Server:
    def __init__(self) -> None:
        self.bin = binaries()
        if self.bin is None:
            raise RuntimeError("PostgreSQL's server programs are not installed (Debian package postgresql)")
        self.folder = Path(tempfile.mkdtemp(prefix="mlkit-postgres-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.owner: str | None = None
        if os.geteuid() == 0:
            self.owner = "postgres"
            account = pwd.getpwnam(self.owner)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        self._as_owner([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                        "--locale=C", "--encoding=UTF8"])
        options = f"-c listen_addresses='' -c unix_socket_directories={self.folder} -p {PORT}"
        self._as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                        "-w", "start"])

    def _as_owner(self, argv: list[str]) -> None:
        if self.owner:
            argv = ["runuser", "-u", self.owner, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, cwd=self.folder)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr or result.stdout}{log[-2000:]}")

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its SQLAlchemy URL (psycopg 3 over the Unix socket)."""
        import psycopg

        with psycopg.connect(host=str(self.folder), port=PORT, user="postgres", dbname="postgres",
                             autocommit=True) as connection:
            connection.execute(f'create database "{name}"')
        return f"postgresql+psycopg://postgres@/{name}?host={self.folder}&port={PORT}"

    def stop(self) -> None:
        try:
            self._as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
