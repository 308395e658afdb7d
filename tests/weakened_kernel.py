"""A trusted grading kernel with some of the kit's defences switched off, for the attack suite only.

    python -I weakened_kernel.py DEFENCES -f CONNECTION_FILE [kernel options]

DEFENCES is a comma-separated list of the defences to switch off (`tests/weakened.py` names them).
Each is put back to what the kit did before it had that defence, so that an attack is shown to
succeed against the old behaviour before it counts as contained by the new one.  Nothing in the
kit reads this file: a course uses it only through the kernelspec `tests/weakened.py` writes.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path


def switch_off(defences: set[str]) -> None:
    from mlkit.grading.kernel import boundary
    from mlkit.grading.sandbox import launcher as sandbox

    if "names" in defences:
        # Every name an answer cell binds reaches the tests, builtins' names included.
        class Everything(frozenset):
            def __contains__(self, name):
                return True

        run_cell = boundary.StudentProcess.run_cell
        boundary.StudentProcess.run_cell = lambda self, source, label, namespace, exports: run_cell(
            self, source, label, namespace, Everything())
        boundary._BUILTIN_NAMES = frozenset()

    if "writeback" in defences:
        # The student's in-place changes are copied into the caller's arrays.
        changed_keys = boundary._changed_keys

        def write_back(args, kwargs, changed):
            for key, value in changed if type(changed) is list else []:
                target = args[key] if type(key) is int and key < len(args) else kwargs.get(key)
                if type(target) is type(value) and getattr(target, "shape", None) == getattr(value, "shape", 0):
                    target[...] = value
            return changed_keys(args, kwargs, changed)

        boundary._changed_keys = write_back

    if "handles" in defences:
        # Any grader object becomes a handle, and any public attribute of it can be called.
        boundary.may_hand_over = lambda obj, tests=None: True

        def any_public(target, method, tests=None):
            if method is None:
                return target
            if not method.isidentifier() or method.startswith("_"):
                raise AttributeError(method)
            return getattr(target, method)

        boundary.callable_part = any_public

    if "environment" in defences:
        # bubblewrap starts with the grader's environment (its PID 1 keeps it).
        sandbox._launch_environment = lambda: dict(os.environ)

    if "system_files" in defences:
        # All of /usr, and the Python installation's whole folder.
        home = Path(sys.base_prefix).resolve()
        sandbox._system_files = lambda: ([Path("/usr"), home], [])

    if "folder" in defences:
        # The student process sees a copy of the whole folder nbgrader grades in.
        def whole_folder(workdir, folder):
            target = Path(tempfile.mkdtemp(prefix="mlkit-student-folder-"))
            for path, relative in sandbox._regular_files(workdir):
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target / relative)
            for path in [target, *target.rglob("*")]:
                os.chmod(path, 0o555 if path.is_dir() else 0o444)
            return target

        sandbox.private_copy = whole_folder

    if "private_copies" in defences:
        # The student's private copy as it was made before: readable by every account, left in /tmp after grading.
        made = sandbox.private_copy

        def open_copy(workdir, folder):
            target = made(workdir, folder)
            for path in [target, *target.rglob("*")]:
                os.chmod(path, 0o555 if path.is_dir() else 0o444)
            return target

        class NoWatch:
            def __init__(self, folders):
                pass

            def close(self):
                pass

        sandbox.private_copy = open_copy
        sandbox.hand_to = lambda copy, mode, uid: None
        sandbox.RemovalWatch = NoWatch
        sandbox.sweep_stale_folders = lambda *args: 0

    if "subordinate_ids" in defences:
        # The student process's user ID from a fixed window, whoever's subordinate range holds it.
        sandbox.student_uid = lambda: sandbox.FIRST_UID + os.getpid() % sandbox.UID_RANGE

    if "sort_watch" in defences:
        # The watch sees sorts, but not the calls that switch it off or go around it.
        copy = Path(tempfile.mkdtemp(prefix="mlkit-weakened-student-"))
        for name in sandbox.SERVER_FILES:
            shutil.copy(sandbox.HERE / name, copy / name)
        with open(copy / "watch.py", "a") as wire:
            wire.write("\nWATCH_BREAKERS = {}\n")
        sandbox.HERE = copy

    if "sandbox" in defences:
        # No sandbox: the student process is a plain process (the course allows it, see tests/weakened.py).
        sandbox.detect = lambda: sandbox.Mode("none", "the sandbox is switched off for the attack suite")

    if "output_budget" in defences:
        boundary.limits.OUTPUT_BUDGET = 10**12

    if "dev_readonly" in defences:
        # /dev as bubblewrap makes it: in the user-namespace mode, a tmpfs the sandbox user may write.
        plain = sandbox._bwrap

        def writable_dev(*args, **kwargs):
            command = plain(*args, **kwargs)
            at = command.index("--remount-ro")
            return command[:at] + command[at + 2:]

        sandbox._bwrap = writable_dev

    if "tree_bound" in defences:
        # Limits per process only: no control group for the tree, and forks allowed.
        sandbox.treebound.start = lambda: None
        bwrap = sandbox._bwrap
        sandbox._bwrap = lambda mode, uid, folder=None, no_fork=False: bwrap(mode, uid, folder, no_fork=False)


if __name__ == "__main__":
    defences = set(sys.argv[1].split(",")) - {""}
    switch_off(defences)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=sys.argv[2:])
