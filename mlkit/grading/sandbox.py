"""The student process's sandbox: what a submission's code can see and do while it is graded.

The student process (`mlkit/grading/student.py`) runs under bubblewrap with:

    a root file system of its own        /usr (system libraries, read-only), with Debian's Python
                                         packages hidden; the Python interpreter and its standard
                                         library, read-only, with its site-packages hidden
    /opt/mlkit                           student.py, wire.py and NumPy (site/numpy): the only
                                         importable packages
    the notebook's folder                a private read-only copy at the folder's own path, so
                                         `data/...` opens as in JupyterLab
    /tmp                                 private, size-capped scratch space (also HOME)
    no network                           a network namespace of its own: not even the machine's
                                         loopback; the grader talks to it over two pipes
    its own PID, IPC and UTS namespaces  it sees no other process; every process it forks dies
                                         with it
    a cleared environment                no grader variables, no connection files
    resource limits                      address space, CPU time, file size, open files, and (as
                                         root) processes of its own user ID

How it gets a user of its own depends on the machine (`detect()`):

    mode      when                                        the student runs as
    root      grading as root, bwrap and setpriv present  a fresh unprivileged user ID per
                                                          notebook, no capabilities
    userns    not root, bwrap can make an unprivileged    the grader's user, mapped to `nobody`
              user namespace                              inside a user namespace
    none      neither                                     not run, unless the course allows it
                                                          (`ResilientExecute.allow_unsandboxed`)

Everything here runs in the grader (outside the sandbox).
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSIDE = "/opt/mlkit"                         # where student.py, wire.py and NumPy appear

# Per student process.  Generous for honest code (a notebook's answers need ~100 MB and ~1 CPU s).
LIMITS = {
    resource.RLIMIT_AS: 3 * 1024**3,          # bytes of address space
    resource.RLIMIT_CPU: 120,                 # CPU seconds
    resource.RLIMIT_FSIZE: 16 * 1024**2,      # bytes per written file
    resource.RLIMIT_NOFILE: 256,              # open file descriptors
}
PROCESS_LIMIT = 64                            # processes and threads of the student's own user ID (root mode)
SCRATCH_BYTES = 64 * 1024**2                  # size of the private /tmp
FOLDER_COPY_BYTES = 64 * 1024**2              # the notebook folder is copied in up to this size
FIRST_UID = 200_000                           # student user IDs: FIRST_UID .. FIRST_UID + UID_RANGE
UID_RANGE = 100_000


class SandboxUnavailable(BaseException):
    """Grading must not start: student code would run without a sandbox.

    A BaseException, so that nbgrader's per-submission error handling does not
    turn it into one failed student after another: it stops the command.
    """


@dataclass(frozen=True)
class Mode:
    name: str            # "root", "userns" or "none"
    why: str = ""        # for "none": what is missing


def _python() -> Path:
    """The real interpreter (not a virtual environment's link to it)."""
    return Path(os.path.realpath(sys.executable))


def _numpy_dirs() -> list[Path]:
    import numpy

    package = Path(numpy.__file__).resolve().parent
    return [p for p in (package, package.parent / "numpy.libs") if p.exists()]


@functools.cache
def detect() -> Mode:
    """Which sandbox this machine can give the student process (probed once per process).

    MLKIT_SANDBOX=userns in the environment asks for the user-namespace sandbox even as root.
    """
    if not shutil.which("bwrap"):
        return Mode("none", "bubblewrap (bwrap) is not installed")
    if os.geteuid() == 0 and os.environ.get("MLKIT_SANDBOX") != "userns":
        if not shutil.which("setpriv"):
            return Mode("none", "setpriv (util-linux) is not installed")
        mode = Mode("root")
    else:
        mode = Mode("userns")
    probe = subprocess.run(_bwrap(mode, FIRST_UID) + ["/bin/true"], capture_output=True, text=True)
    if probe.returncode != 0:
        reason = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else f"exit {probe.returncode}"
        if mode.name == "userns":
            return Mode("none", f"not root, and bubblewrap cannot create an unprivileged user namespace ({reason})")
        return Mode("none", f"bubblewrap failed: {reason}")
    return mode


def require(allow_unsandboxed: bool) -> Mode:
    """This machine's sandbox; raises SandboxUnavailable, naming the cause, if there is none and the course
    has not allowed grading without one."""
    mode = detect()
    if mode.name == "none" and not allow_unsandboxed:
        raise SandboxUnavailable(
            f"mlkit: grading stopped before running any student code: {mode.why}. Install bubblewrap "
            "(and grade as root, or allow unprivileged user namespaces; see the README's sandbox matrix), or set "
            "c.ResilientExecute.allow_unsandboxed = True in nbgrader_config.py to accept unsandboxed grading.")
    return mode


def _hide_python_packages(python_home: Path) -> list[str]:
    """tmpfs over every folder of installed Python packages: only NumPy's copy in /opt/mlkit stays."""
    folders = [python_home / "lib", Path("/usr/lib"), Path("/usr/local/lib")]
    hidden = []
    for lib in folders:
        for folder in [*lib.glob("python3*/site-packages"), *lib.glob("python3*/dist-packages")]:
            if folder.is_dir() and str(folder) not in hidden:
                hidden += ["--tmpfs", str(folder)]
    return hidden


def _parents(*paths: Path | str) -> list[str]:
    """Create each path's parent folders inside the sandbox traversable by anyone (bwrap's are 0700)."""
    made: list[str] = []
    for path in paths:
        for parent in reversed(Path(path).parents):
            if str(parent) != "/" and str(parent) not in made:
                made.append(str(parent))
    return [arg for folder in made for arg in ("--perms", "0755", "--dir", folder)]


def _bwrap(mode: Mode, uid: int, folder: tuple[Path, Path] | None = None) -> list[str]:
    """The bwrap (and setpriv) command line; `folder` is (host copy, path inside) of the notebook's folder."""
    python = _python()
    python_home = Path(sys.base_prefix).resolve()
    command = ["bwrap", "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid",
               "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    if mode.name == "userns":
        command += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
    command += ["--ro-bind", "/usr", "/usr"]
    for top in ("bin", "lib", "lib64", "sbin"):
        host = Path("/") / top
        if host.is_symlink():
            command += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            command += ["--ro-bind", str(host), str(host)]
    # The interpreter and its standard library, wherever they live (a pyenv under /root, /usr/local, ...).
    inside = [python_home, python.parent, f"{INSIDE}/site/numpy"] + ([folder[1]] if folder else [])
    command += _parents(*[p for p in inside if not str(p).startswith("/usr/")])
    for needed in (python_home, python.parent):
        command += ["--ro-bind", str(needed), str(needed)]
    command += _hide_python_packages(python_home)
    command += ["--proc", "/proc", "--dev", "/dev",
                "--size", str(SCRATCH_BYTES), "--perms", "1777", "--tmpfs", "/tmp"]
    for name in ("student.py", "wire.py"):
        command += ["--ro-bind", str(HERE / name), f"{INSIDE}/{name}"]
    for package in _numpy_dirs():
        command += ["--ro-bind", str(package), f"{INSIDE}/site/{package.name}"]
    if folder is not None:
        command += ["--ro-bind", str(folder[0]), str(folder[1]), "--chdir", str(folder[1])]
    command += ["--clearenv"]
    for name, value in {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", "autograde"),
    }.items():
        command += ["--setenv", name, value]
    if mode.name == "root":
        command += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
                    "--inh-caps=-all", "--bounding-set=-all", "--"]
    return command


def _limits(mode_name: str):
    def apply() -> None:
        for limit, value in LIMITS.items():
            resource.setrlimit(limit, (value, value))
        if mode_name == "root":  # counted per user ID, and each student process has its own
            resource.setrlimit(resource.RLIMIT_NPROC, (PROCESS_LIMIT, PROCESS_LIMIT))
    return apply


def private_copy(folder: Path, uid: int | None) -> Path:
    """A read-only copy of the notebook's folder that the student's user can read, and nothing else."""
    target = Path(tempfile.mkdtemp(prefix="mlkit-student-folder-"))
    total = 0
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            continue  # links would point outside the copy; devices and sockets are no data
        if path.is_dir():
            (target / relative).mkdir(parents=True, exist_ok=True)
            continue
        total += path.stat().st_size
        if total > FOLDER_COPY_BYTES:
            break
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / relative)
    for path in [target, *target.rglob("*")]:
        os.chmod(path, 0o555 if path.is_dir() else 0o444)
    return target


def start(workdir: Path, request_fd: int, reply_fd: int, mode: Mode, uid: int) -> tuple[subprocess.Popen, list[Path]]:
    """Start student.py for the notebook in `workdir`; returns the process and folders to remove after it."""
    cleanup: list[Path] = []
    argv_tail = [str(_python()), "-I", "-S", f"{INSIDE}/student.py", str(request_fd), str(reply_fd)]
    if mode.name == "none":  # allowed by the course: still a separate process, just not sandboxed
        site = Path(tempfile.mkdtemp(prefix="mlkit-student-site-"))
        cleanup.append(site)
        for package in _numpy_dirs():
            (site / package.name).symlink_to(package)
        argv = [str(_python()), "-I", "-S", str(HERE / "student.py"), str(request_fd), str(reply_fd), str(site)]
        env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "OPENBLAS_NUM_THREADS": "1",
               "NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", "autograde")}
        process = subprocess.Popen(argv, cwd=workdir, env=env, pass_fds=(request_fd, reply_fd),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, preexec_fn=_limits("none"), start_new_session=True)
        return process, cleanup
    copy = private_copy(workdir, uid)
    cleanup.append(copy)
    process = subprocess.Popen(_bwrap(mode, uid, (copy, workdir)) + argv_tail, pass_fds=(request_fd, reply_fd), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               preexec_fn=_limits(mode.name), start_new_session=True)
    return process, cleanup


def student_uid() -> int:
    """A user ID of its own for this grading kernel's student process."""
    return FIRST_UID + os.getpid() % UID_RANGE


def describe() -> str:
    mode = detect()
    return {"root": "bubblewrap as root, a fresh unprivileged user per notebook",
            "userns": "bubblewrap in an unprivileged user namespace",
            "none": f"no sandbox: {mode.why}"}[mode.name]
