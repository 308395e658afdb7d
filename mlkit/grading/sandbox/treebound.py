"""Bounds on a student process tree as a whole, not per process: the kernel's cgroup controllers.

Per-process limits (`sandbox.LIMITS`) let a submission that forks hold processes x 3 GiB.  Where the grader
may make control groups (as root on cgroup v1, whose memory, pids and cpu controllers this machine kind
mounts, or on cgroup v2 where its own group is delegated to it), each student process gets a group of its own
before it runs any code, and everything it forks stays in it:

    memory   limits.TREE_MEMORY bytes for the whole tree; past it the kernel's OOM killer ends a process of that
             tree only
    pids     limits.TREE_PROCESSES processes and threads
    cpu      limits.TREE_CPUS cores' worth of time, however many processes share it

Where no group can be made (a grader who is not root on cgroup v1), `start` returns None and the sandbox
falls back on bounds that still hold in total: the student process limits its own user namespace to
`FALLBACK_PROCESSES` processes before any student code runs (server.py), so the tree holds at most that
many times the per-process address space.  `describe()` says which applies.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

from mlkit.grading import limits

# The bounds themselves: limits.TREE_MEMORY, limits.TREE_PROCESSES, limits.TREE_CPUS.
FALLBACK_PROCESSES = 2  # bubblewrap's PID 1 and the student process: no fork succeeds
CPU_PERIOD_US = 100_000
CGROUP = Path("/sys/fs/cgroup")


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _v2_parent() -> Path | None:
    """This process's own cgroup v2 folder, if it can make groups under it with the controllers needed."""
    if not (CGROUP / "cgroup.controllers").is_file():
        return None
    try:
        line = next(l for l in Path("/proc/self/cgroup").read_text().splitlines() if l.startswith("0::"))
    except (OSError, StopIteration):
        return None
    parent = CGROUP / line[3:].lstrip("/")
    wanted = {"memory", "pids", "cpu"}
    if not wanted <= set((parent / "cgroup.subtree_control").read_text().split()) or not os.access(parent, os.W_OK):
        return None
    return parent


def _v1_controllers() -> dict[str, Path] | None:
    folders = {name: CGROUP / name for name in ("memory", "pids", "cpu")}
    if all((folder / "cgroup.procs").is_file() and os.access(folder, os.W_OK) for folder in folders.values()):
        return folders
    return None


def kind() -> str:
    """'cgroup v2', 'cgroup v1' or '' (no group can be made here)."""
    if _v2_parent() is not None:
        return "cgroup v2"
    if _v1_controllers() is not None:
        return "cgroup v1"
    return ""


def describe() -> str:
    found = kind()
    if found:
        return (f"{found}: the whole student process tree holds at most {limits.TREE_MEMORY / 1024**3:g} GiB, "
                f"{limits.TREE_PROCESSES} processes and {limits.TREE_CPUS:g} CPU")
    return (f"no control group can be made here: at most {FALLBACK_PROCESSES} processes (no fork succeeds), each "
            "within the per-process limits")


class TreeBound:
    """The control group(s) of one student process tree."""

    def __init__(self, folders: list[Path], version: int):
        self.folders, self.version = folders, version

    def enter(self) -> None:
        """Put the calling process into the group (run in the child before it execs bubblewrap)."""
        for folder in self.folders:
            _write(folder / "cgroup.procs", str(os.getpid()))

    def _memory(self) -> Path:
        return self.folders[0]

    def peak_memory(self) -> int:
        """The most memory the tree has held at once, in bytes (0 if unknown)."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int((self._memory() / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def exceeded(self) -> str:
        """Which bound the tree met ('' if none): named in the notebook's grading issue."""
        met = []
        try:
            if self.version == 1:
                if int((self._memory() / "memory.failcnt").read_text()) > 0:
                    met.append(f"its processes together reached the {limits.TREE_MEMORY / 1024**3:g} GiB memory bound")
            else:
                events = dict(line.split() for line in (self._memory() / "memory.events").read_text().splitlines())
                if int(events.get("oom_kill", 0)) > 0 or int(events.get("max", 0)) > 0:
                    met.append(f"its processes together reached the {limits.TREE_MEMORY / 1024**3:g} GiB memory bound")
        except (OSError, ValueError):
            pass
        return "; ".join(met)

    def close(self) -> None:
        """End whatever is left in the group and remove it; a group still emptying is left to the next sweep."""
        pending = list(self.folders)
        for attempt in range(3):
            for folder in pending:
                try:
                    pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
                except OSError:
                    pids = []
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            left = []
            for folder in pending:
                try:
                    folder.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:  # a killed process not yet gone
                    left.append(folder)
            pending = left
            if not pending:
                return
            time.sleep(0.005)


PREFIX = "mlkit-student-"


def owner_ended(name: str, prefix: str) -> bool:
    """Whether `name`, made as `<prefix><process id>-...` by a grading process of this machine, is a leftover
    of a process that has ended (the one sweep rule of the sandbox's leftovers: control groups here, the
    launcher's folders in /tmp). False for another name, for this process, and for a process still running
    or not ours to ask about (left alone: a folder or group made a moment ago is never taken from under it)."""
    if not name.startswith(prefix):
        return False
    pid = name[len(prefix):].split("-", 1)[0]
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def _sweep(parents: list[Path]) -> None:
    """Remove the empty groups of grading kernels that have ended (one that is killed cannot remove its own).

    A group's name carries the process ID of the kernel that made it; a live kernel's groups are left alone,
    so a group made a moment ago and not yet entered is never taken from under it."""
    for parent in parents:
        try:
            names = [p.name for p in parent.iterdir() if p.name.startswith(PREFIX)]
        except OSError:
            continue
        for name in names:
            if not owner_ended(name, PREFIX):
                continue  # its kernel is still running
            try:
                (parent / name).rmdir()  # fails, and so keeps it, while a process is still in it
            except OSError:
                pass


def start() -> TreeBound | None:
    """A new control group for one student process tree, its bounds set; None where none can be made."""
    name = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    parent = _v2_parent()
    _sweep([parent] if parent is not None else list((_v1_controllers() or {}).values()))
    try:
        if parent is not None:
            folder = parent / name
            folder.mkdir()
            bound = TreeBound([folder], 2)
            _write(folder / "memory.max", str(limits.TREE_MEMORY))
            if (folder / "memory.swap.max").exists():
                _write(folder / "memory.swap.max", "0")
            _write(folder / "pids.max", str(limits.TREE_PROCESSES))
            _write(folder / "cpu.max", f"{int(limits.TREE_CPUS * CPU_PERIOD_US)} {CPU_PERIOD_US}")
            return bound
        controllers = _v1_controllers()
        if controllers is None:
            return None
        folders = [controllers[c] / name for c in ("memory", "pids", "cpu")]
        bound = TreeBound([], 1)
        for folder in folders:
            folder.mkdir()
            bound.folders.append(folder)
        memory, pids, cpu = folders
        _write(memory / "memory.limit_in_bytes", str(limits.TREE_MEMORY))
        if (memory / "memory.memsw.limit_in_bytes").exists():
            try:
                _write(memory / "memory.memsw.limit_in_bytes", str(limits.TREE_MEMORY))
            except OSError:  # swap accounting switched off on this kernel
                pass
        _write(pids / "pids.max", str(limits.TREE_PROCESSES))
        _write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
        _write(cpu / "cpu.cfs_quota_us", str(int(limits.TREE_CPUS * CPU_PERIOD_US)))
        return bound
    except OSError:
        if "bound" in locals():
            bound.close()
        return None
