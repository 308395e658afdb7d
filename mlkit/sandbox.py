"""The grading kernel's sandbox: bubblewrap + setpriv + resource limits, no Docker.

`python -m mlkit.sandbox install` writes the kernelspec `mlkit-sandbox` into
this environment; `nbgrader_config.py` makes autograding use it whenever the
machine can sandbox (`available()`).  Jupyter then starts every grading kernel
through `python -m mlkit.sandbox launch {connection_file}`, which runs, from
the notebook's working folder:

    bwrap  (a private filesystem view)
      --ro-bind / /                       everything read-only ...
      --tmpfs <course root>               ... but the course is hidden: source/, gradebook.db,
                                          submitted/, autograded/ and feedback/ of everyone
      --ro-bind <python, venv, mlkit>     what the kernel needs to run, read-only
      --ro-bind <working folder>          the notebook's own folder, read-only
      --tmpfs /tmp, /root (size-capped)   private scratch space
      --clearenv                          no inherited secrets
      setpriv --reuid nobody ...          no root, no capabilities, no new privileges
        python -m ipykernel_launcher -f <connection file>

with limits set before the exec: address space, CPU seconds, file size,
open files and processes (see `LIMITS`), plus a wall-clock limit on the
whole kernel.  The kernel reaches the grader over loopback TCP, so the
network namespace is shared; this machine has no other network to reach.
"""

from __future__ import annotations

import json
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "mlkit-sandbox"
PACKAGE_DIR = Path(__file__).resolve().parent

# Per kernel.  Generous for honest code (a notebook's tests need ~200 MB and ~2 CPU s).
LIMITS = {
    resource.RLIMIT_AS: 3 * 1024**3,        # bytes of address space
    resource.RLIMIT_CPU: 120,               # CPU seconds
    resource.RLIMIT_FSIZE: 16 * 1024**2,    # bytes per written file
    resource.RLIMIT_NOFILE: 256,            # open file descriptors
    resource.RLIMIT_NPROC: 512,             # processes and threads of the unprivileged user
}
WALL_CLOCK_SECONDS = 300                    # a whole notebook, on top of nbgrader's per-cell timeout
SCRATCH_BYTES = 64 * 1024**2                # size of the private /tmp
SANDBOX_USER = "nobody"
CONNECTION_IN_SANDBOX = "/tmp/kernel-connection.json"


def available() -> bool:
    """Whether this machine can run the sandbox: bwrap and setpriv present, and we are root."""
    return bool(shutil.which("bwrap") and shutil.which("setpriv")) and os.geteuid() == 0


def write_kernelspec(name: str, module: str, display_name: str) -> Path:
    """A kernelspec in this Python environment that starts `python -m <module and arguments> {connection_file}`."""
    folder = Path(sys.prefix) / "share" / "jupyter" / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", *module.split(), "{connection_file}"],
        "display_name": display_name,
        "language": "python",
        # The sandboxed kernel runs as another user, so interrupts travel as messages, not signals.
        "interrupt_mode": "message",
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=2))
    return folder


def install() -> Path:
    """Write the `mlkit-sandbox` kernelspec into this Python environment's share/jupyter/kernels."""
    return write_kernelspec(KERNEL_NAME, "mlkit.sandbox launch", "Python 3 (mlkit grading sandbox)")


def course_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding nbgrader_config.py."""
    for folder in [start, *start.parents]:
        if (folder / "nbgrader_config.py").exists():
            return folder
    return None


def bwrap_command(workdir: Path, argv: list[str], binds: dict[str, str] | None = None,
                  writable_workdir: bool = False) -> list[str]:
    """The sandbox around `argv`, run from `workdir`; `binds` maps host files to read-only paths inside."""
    user = pwd.getpwnam(SANDBOX_USER)
    python_home = Path(sys.base_prefix).resolve()
    venv = Path(sys.prefix).resolve()
    # No --new-session and no PID namespace: the kernel stays in the process group
    # Jupyter started, so Jupyter's kill of that group reaches it even after
    # setpriv's change of user has cleared bwrap's parent-death signal.
    command = ["bwrap", "--die-with-parent", "--unshare-ipc", "--unshare-uts",
               "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    # Hide the home of root and the course folder (and whatever else lies beside the
    # working folder), then bring back only what the kernel needs, read-only.
    hidden = [Path("/root"), Path("/tmp")]
    # The course being graded, and the kit's own repository (its source/ holds the
    # solutions) when the kit is installed from one.
    for root in (course_root(workdir), course_root(PACKAGE_DIR)):
        if root is not None and root not in hidden:
            hidden.append(root)
    for folder in hidden:
        command += ["--perms", "1777", "--size", str(SCRATCH_BYTES), "--tmpfs", str(folder)]
    for needed in (python_home, venv, PACKAGE_DIR):
        # bound back in the order hidden: a path under /tmp inside a course under /tmp works too
        if any(needed == h or h in needed.parents for h in hidden):
            command += ["--ro-bind", str(needed), str(needed)]
    command += ["--bind" if writable_workdir else "--ro-bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    for host, inside in (binds or {}).items():
        command += ["--ro-bind", host, inside]
    command += ["--clearenv"]
    for name, value in {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": "/tmp",
        "MPLCONFIGDIR": "/tmp",
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", ""),
        "JUPYTER_PLATFORM_DIRS": "1",
    }.items():
        command += ["--setenv", name, value]
    command += ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
                "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]
    return command + argv


def _apply_limits() -> None:
    for limit, value in LIMITS.items():
        resource.setrlimit(limit, (value, value))


def launch(connection_file: str) -> int:
    """Run one kernel in the sandbox and wait for it; Jupyter treats this process as the kernel."""
    workdir = Path.cwd().resolve()
    private = Path(tempfile.mkdtemp(prefix="mlkit-kernel-"))
    try:
        # The connection file is root-only (0600); the kernel's user gets its own copy.
        copy = private / "connection.json"
        shutil.copyfile(connection_file, copy)
        user = pwd.getpwnam(SANDBOX_USER)
        os.chown(copy, user.pw_uid, user.pw_gid)
        os.chmod(copy, 0o400)
        argv = bwrap_command(workdir, [sys.executable, "-m", "ipykernel_launcher", "-f", CONNECTION_IN_SANDBOX],
                             binds={str(copy): CONNECTION_IN_SANDBOX})
        # Jupyter signals (and at shutdown kills) the whole process group, this
        # launcher and the sandboxed kernel alike, so nothing needs forwarding.
        # The kernel's own chatter (connection notes, TCP warnings) would interleave with the
        # grader's log; what matters of a failing kernel is recorded by the grader itself.
        child = subprocess.Popen(argv, preexec_fn=_apply_limits, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            return child.wait(timeout=WALL_CLOCK_SECONDS)
        except subprocess.TimeoutExpired:
            shutil.rmtree(private, ignore_errors=True)
            os.killpg(os.getpgrp(), signal.SIGKILL)  # the kernel and this launcher: the notebook is over
            raise
    finally:
        shutil.rmtree(private, ignore_errors=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["install"]:
        print(install())
        return 0
    if argv[:1] == ["launch"] and len(argv) == 2:
        return launch(argv[1])
    print("usage: python -m mlkit.sandbox install | launch CONNECTION_FILE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
