"""The trusted grading kernel's kernelspec: an ordinary IPython kernel that never imports from its folder.

The kernel nbgrader starts for a notebook runs the test cells and the
checking library, and hands answer cells to the student process
(`mlkit.grading.kernel.boundary`).  It starts in the notebook's folder, which holds
whatever the student submitted, so it runs with `python -I`: neither that
folder nor the folder grading was started from is on `sys.path`, and
`PYTHON*` variables are ignored.  A `numpy/` or `mlkit/` folder in a
submission, or the kit's own `mlkit/` folder in a copied course, is never
imported in its place.

Its tracebacks are in IPython's Plain mode (Python's own layout): they are
read by instructors in the autograded notebook (students see the failure
messages only), and IPython's default Context mode highlights the source of
every frame, which costs more than most tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

KERNEL_NAME = "mlkit-grading"
TRACEBACK_MODE = "Plain"
KERNEL_OPTIONS = [f"--InteractiveShell.xmode={TRACEBACK_MODE}"]
# The kit's kernelspecs (this one and zygote's `mlkit-forked`) come with the package: Jupyter runs a kernelspec
# whose program is "python" with the Python that starts it, so nothing is written into the environment
# (which may be root's and read-only on a hub) or the user's folders.  Grading finds them through
# `spec_folders`, ahead of Jupyter's own folders.
SPECS = Path(__file__).resolve().parent / "kernels"


def spec_folders(existing: list[str]) -> list[str]:
    """Jupyter's kernelspec folders `existing` with the kit's in front (once)."""
    return [str(SPECS), *[folder for folder in existing if folder != str(SPECS)]]


def write_kernelspec(name: str, argv_tail: list[str], display_name: str, interrupt_mode: str = "signal") -> Path:
    """A kernelspec in this Python environment running `python -I ARGV_TAIL` (the tests' weakened kernels;
    the kit's own are in SPECS)."""
    folder = Path(sys.prefix) / "share" / "jupyter" / "kernels" / name
    spec = {
        "argv": [sys.executable, "-I", *argv_tail],
        "display_name": display_name,
        "language": "python",
        "interrupt_mode": interrupt_mode,
    }
    text = json.dumps(spec, indent=2)
    path = folder / "kernel.json"
    if not path.exists() or path.read_text() != text:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def install() -> Path:
    """The grading kernel's kernelspec folder, which comes with the kit (a course's configuration written
    before it did calls this; it writes nothing)."""
    return SPECS / KERNEL_NAME
