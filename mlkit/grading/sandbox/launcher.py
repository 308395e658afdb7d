"""The student process's sandbox: what a submission's code can see and do while it is graded.

The student process (`mlkit/grading/sandbox/server.py`) runs under bubblewrap with:

    a root file system of its own        the interpreter's executable, its standard library (its
                                         site-packages hidden) and the folders of the shared
                                         libraries it and NumPy load, read-only; nothing else of
                                         /usr, and no /etc
    /opt/mlkit                           server.py with wire.py, watch.py, randomstate.py, limits.py,
                                         and NumPy (site/numpy): the only
                                         importable packages
    the notebook's folder                at the folder's own path, so `data/...` opens as in
                                         JupyterLab: a private read-only folder holding the
                                         release's files of the assignment and the student's
                                         notebook, nothing else of the submission or the course;
                                         on the host, that copy is readable by the student's user
                                         ID only (`hand_to`) and removed when the grading kernel
                                         ends, however it ends (`RemovalWatch`)
    /tmp                                 private, size-capped scratch space (also HOME)
    no network                           a network namespace of its own: not even the machine's
                                         loopback; the grader talks to it over two pipes
    its own PID, IPC and UTS namespaces  it sees no other process; every process it forks dies
                                         with it
    a minimal environment                bubblewrap itself starts with it, so no process inside,
                                         its PID 1 included, holds a variable of the grader's
    resource limits                      address space, CPU time, file size, open files, and (as
                                         root) processes of its own user ID, per process; and for
                                         the whole tree a control group (memory, processes, CPU)
                                         where one can be made, or no fork at all (treebound.py)

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
import grp
import importlib.util
import os
import pwd
import resource
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlkit.grading import limits
from mlkit.grading.sandbox import treebound

HERE = Path(__file__).resolve().parent
INSIDE = "/opt/mlkit"                         # where SERVER_FILES, limits.py and NumPy appear
SERVER_FILES = ("server.py", "wire.py", "watch.py", "randomstate.py")  # the server and what it imports, from HERE
LIMITS_FILE = Path(limits.__file__).resolve()  # every limit's default: the server inside reads its own there

# Per student process: limits.RLIMITS, limits.PROCESS_LIMIT, limits.SCRATCH_BYTES, limits.FOLDER_COPY_BYTES.
NO_FORK_VARIABLE = "MLKIT_NO_FORK"           # set where no control group bounds the tree (treebound)
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
    # Found, not imported: the grader's own process (self-study's included) has no other use for NumPy.
    package = Path(importlib.util.find_spec("numpy").origin).resolve().parent
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
    probe = subprocess.run(_bwrap(mode, FIRST_UID) + [str(_python()), "-I", "-S", "-c", "pass"],
                           capture_output=True, text=True, env=_launch_environment())
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
            "(and grade as root, or allow unprivileged user namespaces; see docs/security/sandbox.md), or set "
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


@functools.cache
def _system_files() -> tuple[list[Path], list[Path]]:
    """(folders, files) of the machine the student process needs: the interpreter, its standard library and
    the shared libraries it and NumPy load, found in this process's own memory map (it has loaded them).
    Nothing else of /usr: no /usr/local/etc, no other programs, no Python packages."""
    python = _python()
    folders = {Path(os.__file__).resolve().parent}          # the standard library (a venv's lib/ holds none of it)
    if sysconfig.get_config_var("DESTSHARED"):              # its extension modules
        folders.add(Path(sysconfig.get_config_var("DESTSHARED")).resolve())
    files = {python}
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(None, 5)
            if len(fields) < 6 or not fields[5].startswith("/"):
                continue
            path = Path(fields[5].strip())
            if "site-packages" in path.parts or "dist-packages" in path.parts or not path.is_file() \
                    or path.resolve() == python:
                continue
            folders.add(path.resolve().parent)
    # The dynamic loader is named by its link in /lib64 (or /lib), whose target folder holds only links.
    for top in ("/lib64", "/usr/lib64"):
        if Path(top).is_dir() and not Path(top).is_symlink():
            folders.add(Path(top))
    if shutil.which("setpriv"):
        files.add(Path(os.path.realpath(shutil.which("setpriv"))))
    # A folder inside another bound one needs no bind of its own.
    kept = sorted(f for f in folders if not any(other != f and other in f.parents for other in folders))
    return kept, sorted(f for f in files if not any(folder in f.parents for folder in kept))


def _bwrap(mode: Mode, uid: int, folder: tuple[Path, Path] | None = None, no_fork: bool = False) -> list[str]:
    """The bwrap (and setpriv) command line; `folder` is (host copy, path inside) of the notebook's folder."""
    python_home = Path(sys.base_prefix).resolve()
    command = [_bwrap_program(), "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid",
               "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    if mode.name == "userns":
        command += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
    folders, files = _system_files()
    command += _parents(*folders, *files, f"{INSIDE}/site/numpy", *([folder[1]] if folder else []))
    for top in ("bin", "lib", "lib64", "sbin"):
        host = Path("/") / top
        if host.is_symlink():
            command += ["--symlink", os.readlink(host), str(host)]
    for needed in [*folders, *files]:
        command += ["--ro-bind", str(needed), str(needed)]
    command += _hide_python_packages(python_home)
    # /dev is read-only: in the user-namespace mode its tmpfs (and /dev/shm in it) would be the student's to
    # fill, unsized, in memory no process is charged for.  Its device nodes work as ever.
    command += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
                "--size", str(limits.SCRATCH_BYTES), "--perms", "1777", "--tmpfs", "/tmp"]
    for name in SERVER_FILES:
        command += ["--ro-bind", str(HERE / name), f"{INSIDE}/{name}"]
    command += ["--ro-bind", str(LIMITS_FILE), f"{INSIDE}/limits.py"]  # the server reads its limits there
    for package in _numpy_dirs():
        command += ["--ro-bind", str(package), f"{INSIDE}/site/{package.name}"]
    if folder is not None:
        command += ["--ro-bind", str(folder[0]), str(folder[1]), "--chdir", str(folder[1])]
    command += ["--clearenv"]
    for name, value in STUDENT_ENVIRONMENT.items():
        command += ["--setenv", name, value]
    command += ["--setenv", "NBGRADER_EXECUTION", os.environ.get("NBGRADER_EXECUTION", "autograde")]
    if no_fork:  # no control group bounds the tree: server.py forbids its sandbox any new process
        command += ["--setenv", NO_FORK_VARIABLE, "1"]
    if mode.name == "root":
        command += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
                    "--inh-caps=-all", "--bounding-set=-all", "--"]
    return command


# The whole environment of the sandbox, bubblewrap's own process (PID 1 inside) included: nothing of the
# grader's (a JupyterHub's API token, database passwords) is ever in it.
STUDENT_ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def _bwrap_program() -> str:
    return shutil.which("bwrap") or "bwrap"


def _limits(mode_name: str, bound: treebound.TreeBound | None = None):
    def apply() -> None:
        if bound is not None:  # before bubblewrap starts: everything it and the student fork stays in the group
            bound.enter()
        for limit, value in limits.RLIMITS.items():
            resource.setrlimit(limit, (value, value))
        if mode_name == "root":  # counted per user ID, and each student process has its own
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.PROCESS_LIMIT, limits.PROCESS_LIMIT))
    return apply


def release(cleanup: list) -> None:
    """Remove what `start` left for after the student process: its folders and its control group."""
    for item in cleanup:
        if isinstance(item, treebound.TreeBound):
            item.close()
        elif isinstance(item, RemovalWatch):
            continue  # closed last: its folders are removed here first
        else:
            _remove_tree(item)
    for item in cleanup:
        if isinstance(item, RemovalWatch):
            item.close()


class RemovalWatch:
    """A small process that removes the student process's folders when this grading kernel ends, however it
    ends (nbclient's shutdown, where a forked kernel leaves through os._exit, a crash, a kill): it waits for
    the end of a pipe only this process holds open, so the notebook's copy never outlives its grading.

    It runs in a session of its own, so the signal that stops the kernel's process group leaves it to work."""

    def __init__(self, folders: list[Path]):
        read_end, self._write_end = os.pipe()  # neither is inherited by other children (Python's default)
        try:
            self.process = subprocess.Popen(
                ["sh", "-c", 'cat >/dev/null; for f in "$@"; do chmod -R u+rwx "$f"; rm -rf "$f"; done',
                 "mlkit-removal-watch", *map(str, folders)],
                stdin=read_end, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        finally:
            os.close(read_end)

    def close(self) -> None:
        if self._write_end >= 0:
            os.close(self._write_end)
            self._write_end = -1


def _remove_tree(path: Path) -> None:
    """Remove a folder the student process read, made read-only for it (so first writable for its owner)."""
    for folder, _, _ in os.walk(path):
        try:
            os.chmod(folder, 0o700)
        except OSError:
            pass
    shutil.rmtree(path, ignore_errors=True)


# A grading kernel ends without a word when nbclient shuts it down (a forked one leaves through os._exit), so
# the folders of its student process are not released then: each folder's name carries the kernel's process
# id, and the next student process started on the machine removes the folders whose kernel is gone.
COPY_PREFIX, SITE_PREFIX = "mlkit-student-folder-", "mlkit-student-site-"


def sweep_stale_folders(prefixes: tuple[str, ...] = (COPY_PREFIX, SITE_PREFIX)) -> int:
    """Remove the temporary folders named `<prefix><pid>-...` whose process has ended; returns how many."""
    removed = 0
    with os.scandir(tempfile.gettempdir()) as entries:
        for entry in entries:
            for prefix in prefixes:
                if treebound.owner_ended(entry.name, prefix) and entry.is_dir(follow_symlinks=False) \
                        and _ours(entry.stat(follow_symlinks=False).st_uid):
                    _remove_tree(Path(entry.path))
                    removed += 1
    return removed


def _ours(uid: int) -> bool:
    """A folder this grader made: its own, or (as root) handed to a student process's user ID."""
    if uid == os.geteuid():
        return True
    if os.geteuid() != 0:
        return False
    first = student_uid_window()
    return first <= uid < first + UID_RANGE


def bound_met(cleanup: list) -> str:
    """Which bound on the whole process tree the student process met ('' if none, or none applied)."""
    return "; ".join(filter(None, (item.exceeded() for item in cleanup if isinstance(item, treebound.TreeBound))))


@dataclass(frozen=True)
class Folder:
    """What the student process's folder holds: the release's files of the assignment (its data) and the
    student's notebook, nothing else of the submission or of the course."""
    release: Path | None       # the assignment's folder in release/ (None: no files but the notebook)
    notebook: str | None       # the notebook's file name, copied from the folder being graded

    @classmethod
    def from_settings(cls, settings: limits.KernelSettings) -> "Folder":
        release = settings.release_folder
        return cls(Path(release) if release else None, settings.notebook)


def _regular_files(top: Path):
    """(path, relative path) of the regular files under `top`; links, devices, FIFOs and sockets are left out
    and never opened, and nothing is followed out of `top`."""
    for folder, subfolders, names in os.walk(top, followlinks=False):
        here = Path(folder)
        subfolders[:] = sorted(d for d in subfolders if not (here / d).is_symlink())
        for name in sorted(names):
            path = here / name
            if stat.S_ISREG(os.lstat(path).st_mode):
                yield path, path.relative_to(top)


def private_copy(workdir: Path, folder: Folder) -> Path:
    """A read-only copy for the student process: the release's files (but its notebooks) and the notebook."""
    target = Path(tempfile.mkdtemp(prefix=f"{COPY_PREFIX}{os.getpid()}-"))
    wanted: list[tuple[Path, Path]] = []
    if folder.release is not None and folder.release.is_dir():
        wanted += [(path, relative) for path, relative in _regular_files(folder.release)
                   if relative.suffix != ".ipynb" and ".ipynb_checkpoints" not in relative.parts]
    if folder.notebook:
        notebook = workdir / folder.notebook
        if notebook.is_file() and not notebook.is_symlink():
            wanted.append((notebook, Path(folder.notebook)))
    total = 0
    for path, relative in wanted:
        total += os.lstat(path).st_size
        if total > limits.FOLDER_COPY_BYTES:
            break
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        _copy_regular_file(path, target / relative)
    for path in [target, *target.rglob("*")]:
        os.chmod(path, 0o500 if path.is_dir() else 0o400)
    return target


def hand_to(copy: Path, mode: Mode, uid: int) -> None:
    """Make the private copy readable by the student process's user alone.

    Its folders and files are its owner's only (mkdtemp's folder and `private_copy`'s modes): as root the
    owner becomes the student process's user ID; in a user namespace the grader's own user is the student's
    (mapped to nobody inside); unsandboxed the student process is the grader.  Another account on the
    machine (a classmate polling /tmp while the class is graded) opens nothing in it."""
    if mode.name != "root":
        return
    for path in [copy, *copy.rglob("*")]:
        os.lchown(path, uid, uid)


class NotARegularFile(OSError):
    """A submitted file that is a link, a FIFO, a socket or a device: never followed, opened for data or waited on."""


def open_regular_file(path):
    """`path` opened for reading (binary) if it is a regular file; a symbolic link (to the instructor's
    `source/`, say) or a special file raises NotARegularFile without being followed or blocked on."""
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        raise NotARegularFile(f"it is a symbolic link, which is not followed ({path})")
    if not stat.S_ISREG(mode):
        raise NotARegularFile(f"it is not a regular file ({path})")
    handle = os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb")
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # swapped since the look
        handle.close()
        raise NotARegularFile(f"it is not a regular file ({path})")
    return handle


def _copy_regular_file(source: Path, target: Path) -> None:
    """Copy one file without following a link or blocking on a FIFO put there since it was listed."""
    try:
        reading = open_regular_file(source)
    except NotARegularFile:
        return
    with reading, open(target, "wb") as writing:
        shutil.copyfileobj(reading, writing)


def _launch_environment() -> dict[str, str]:
    """The environment bubblewrap itself starts with (its PID 1 keeps it): the student's, nothing more."""
    return dict(STUDENT_ENVIRONMENT)


def start(workdir: Path, folder: Folder, request_fd: int, reply_fd: int, mode: Mode, uid: int,
          watch_fd: int = -1) -> tuple[subprocess.Popen, list[Path]]:
    """Start server.py for the notebook in `workdir`; returns the process and folders to remove after it.

    `watch_fd` (-1: none) is where the student process reports its sorts (`student.watch_sorts`)."""
    try:
        sweep_stale_folders()
    except OSError:
        pass  # a folder that cannot be swept now is swept by a later start
    copy = private_copy(workdir, folder)
    cleanup: list = [copy]
    try:
        hand_to(copy, mode, uid)
        cleanup.append(RemovalWatch([copy]))
    except BaseException:
        release(cleanup)
        raise
    fds = (request_fd, reply_fd, *([watch_fd] if watch_fd >= 0 else []))
    argv_tail = [str(_python()), "-I", "-S", f"{INSIDE}/server.py", str(request_fd), str(reply_fd), str(watch_fd)]
    if mode.name == "none":  # allowed by the course: still a separate process, just not sandboxed
        site = Path(tempfile.mkdtemp(prefix=f"{SITE_PREFIX}{os.getpid()}-"))
        cleanup.insert(0, site)
        for package in _numpy_dirs():
            (site / package.name).symlink_to(package)
        (site / "limits.py").symlink_to(LIMITS_FILE)
        argv = [str(_python()), "-I", "-S", str(HERE / "server.py"), str(request_fd), str(reply_fd), str(watch_fd),
                str(site)]
        env = {**STUDENT_ENVIRONMENT, "HOME": str(copy),
               "NBGRADER_EXECUTION": os.environ.get("NBGRADER_EXECUTION", "autograde")}
        process = subprocess.Popen(argv, cwd=copy, env=env, pass_fds=fds,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, preexec_fn=_limits("none"), start_new_session=True)
        return process, cleanup
    bound = treebound.start()
    if bound is not None:
        cleanup.append(bound)
    try:
        process = subprocess.Popen(_bwrap(mode, uid, (copy, workdir), no_fork=bound is None) + argv_tail,
                                   pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, env=_launch_environment(),
                                   preexec_fn=_limits(mode.name, bound), start_new_session=True)
    except BaseException:
        release(cleanup)
        raise
    return process, cleanup


def student_uid() -> int:
    """A user ID of its own for this grading kernel's student process (as root), one that no account holds.

    Not an account's (`getpwuid`, `getgrgid`; NSS answers for LDAP or SSSD accounts too), and in the window of
    `student_uid_window`, which no account's subordinate range reaches."""
    first = student_uid_window()
    for step in range(UID_RANGE):
        uid = first + (os.getpid() + step) % UID_RANGE
        if not _held_by_an_account(uid):
            return uid
    raise SandboxUnavailable(f"no user ID in {first}..{first + UID_RANGE - 1} is free of accounts for the "
                             "student process")


def student_uid_window() -> int:
    """The first of UID_RANGE user IDs for student processes: FIRST_UID, or past every subordinate range that
    would overlap the window.

    `useradd` gives each account a subordinate range of 65 536 IDs in /etc/subuid and /etc/subgid (from 100 000
    on: the third account of a Debian machine holds 231 072..296 607), and with newuidmap (the uidmap package)
    the account may become any of them in a user namespace of its own: a student process running as one of
    them is that account's to read the notebook copy of, signal and trace."""
    ranges = _subordinate_ranges()
    first = FIRST_UID
    moved = True
    while moved:
        moved = False
        for start, end in ranges:
            if start < first + UID_RANGE and first < end:
                first, moved = end, True
    if first + UID_RANGE > 2**31:
        raise SandboxUnavailable("the subordinate user ID ranges (/etc/subuid, /etc/subgid) leave no room for the "
                                 "student processes' user IDs below 2**31")
    return first


SUBORDINATE_ID_FILES = (Path("/etc/subuid"), Path("/etc/subgid"))


def _subordinate_ranges() -> list[tuple[int, int]]:
    """(first, past last) of each subordinate ID range any account holds (lines `name:first:count`)."""
    ranges = []
    for path in SUBORDINATE_ID_FILES:
        try:
            lines = path.read_text().splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.strip().split(":")
            if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                ranges.append((int(fields[1]), int(fields[1]) + int(fields[2])))
    return ranges


def _held_by_an_account(uid: int) -> bool:
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
            return True
        except KeyError:
            pass
    return False


def describe() -> str:
    mode = detect()
    return {"root": "bubblewrap as root, a fresh unprivileged user per notebook",
            "userns": "bubblewrap in an unprivileged user namespace",
            "none": f"no sandbox: {mode.why}"}[mode.name]
