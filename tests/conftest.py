"""What several test modules share: the kit installed from its wheel, built once per run of the suite.

tests/test_installed.py and tests/test_hostile_classmate.py both need the kit as an instructor installs it
(docs/instructor/workflow.md: `pip wheel` in a clone, `pip install -c requirements.lock` of that wheel), and
building and installing it costs minutes on the reference machine. The `installed_kit` fixture
runs the documented block's two install lines once per run into an environment of the machine's own Python
(Debian's 3.11, the Python a hub has), in a folder of /opt that root owns and every account may read and run
but not change (what the hub's classmates need). pytest-xdist's workers are separate processes: the first that
asks builds it while holding a lock file, the other waits on the lock and uses what was built. The folder is
named after the run (a key the controlling process puts in the environment its workers inherit) and removed
when the run ends.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlkit import layout

import support

RUN_KEY = "MLKIT_TEST_RUN"  # one value per run of the suite; xdist's workers inherit it from the controller
DEBIAN_PYTHON = Path("/usr/bin/python3.11")  # the machine's own Python, which a hub's environment is made of
SHARED_ROOT = Path("/opt") if Path("/opt").is_dir() and os.access("/opt", os.W_OK) else Path(tempfile.gettempdir())


@dataclass(frozen=True)
class InstalledKit:
    """The kit as the workflow's install lines leave it.

    base: the run's folder (mode 0755, root's);  venv: the environment the kit is installed in;
    wheel: the wheel the first install line built (base/dist/mlkit-*.whl);  python: the interpreter it was made from.
    """

    base: Path
    venv: Path
    wheel: Path
    python: Path

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name


def install_lines() -> list[str]:
    """The first two lines of the documented instructor workflow: the wheel built in a clone, then installed."""
    lines = support.doc_commands("instructor/workflow.md", "instructor-workflow")[:2]
    assert lines[0].startswith("pip wheel") and lines[1].startswith("pip install"), lines
    return lines


def _dist_elsewhere(line: str, dist: Path) -> str:
    """A line of the block with its `dist/` folder moved out of the clone (the clone stays as it was)."""
    return line.replace("-w dist .", f"-w {dist} .").replace("dist/mlkit-", f"{dist}/mlkit-")


def _build(base: Path, python: Path) -> None:
    """The install lines, run as they stand in bash with the new environment activated, from the clone."""
    if base.exists():
        shutil.rmtree(base)  # what a failed attempt left
    base.mkdir(parents=True)
    os.chmod(base, 0o755)
    venv = base / "venv"
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv))
    for line in install_lines():
        line = _dist_elsewhere(line, base / "dist")
        done = subprocess.run(["bash", "-c", line], cwd=layout.ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    (base / "installed").write_text("\n".join(install_lines()) + "\n")


def _run_folder() -> Path:
    return SHARED_ROOT / f"mlkit-tests-installed-{os.environ[RUN_KEY]}"


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist): a new key for this run
        os.environ[RUN_KEY] = secrets.token_hex(6)


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput") and RUN_KEY in os.environ:  # the workers have all ended
        folder = _run_folder()
        shutil.rmtree(folder, ignore_errors=True)
        Path(f"{folder}.lock").unlink(missing_ok=True)


@pytest.fixture(scope="session")
def installed_kit() -> InstalledKit:
    """The kit installed from its wheel by the workflow's own lines, once per run, shared by every worker."""
    if not DEBIAN_PYTHON.is_file():
        pytest.skip("needs the machine's own Python 3.11 (/usr/bin/python3.11)")
    base = _run_folder()
    with open(f"{base}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits here while this one builds
        try:
            if not (base / "installed").is_file():
                _build(base, DEBIAN_PYTHON)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    (wheel,) = (base / "dist").glob("mlkit-*.whl")
    return InstalledKit(base=base, venv=base / "venv", wheel=wheel, python=DEBIAN_PYTHON)


UNGROUPED = pytest.StashKey[set]()


@pytest.hookimpl(trylast=True)  # after pytest-xdist's worker has named each grouped test's group in its node id
def pytest_collection_modifyitems(config, items):
    """Under `--dist loadgroup`, the grouped tests whose node id names no group: they would run on either worker,
    beside the tests they must not meet (pytest 9.2 with pytest-xdist 3.8 lose every group: its issue #1386)."""
    if getattr(config.option, "loadgroup", False):
        config.stash[UNGROUPED] = {item.nodeid for item in items
                                   if item.get_closest_marker("xdist_group") and "@" not in item.nodeid}


@pytest.hookimpl(tryfirst=True)  # before any fixture is set up
def pytest_runtest_setup(item):
    if item.nodeid in item.config.stash.get(UNGROUPED, ()):
        pytest.fail(f"--dist loadgroup did not put this test in its xdist_group (pytest {pytest.__version__}, "
                    "pytest-xdist issue #1386): install the pytest pyproject.toml pins", pytrace=False)
