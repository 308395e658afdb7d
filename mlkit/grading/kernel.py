"""The trusted grading kernel's kernelspec: an ordinary IPython kernel that never imports from its folder.

The kernel nbgrader starts for a notebook runs the test cells and the
checking library, and hands answer cells to the student process
(`mlkit.grading.boundary`).  It starts in the notebook's folder, which holds
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


def write_kernelspec(name: str, argv_tail: list[str], display_name: str, interrupt_mode: str = "signal") -> Path:
    """A kernelspec in this Python environment running `python -I ARGV_TAIL`."""
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
    return write_kernelspec(KERNEL_NAME, ["-m", "ipykernel_launcher", "-f", "{connection_file}", *KERNEL_OPTIONS],
                            "Python 3 (mlkit trusted grading kernel)")
