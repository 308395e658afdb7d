"""The trusted grading kernel: the IPython kernel nbgrader starts for a notebook being graded.

Runs in its own process (`python -I`, in the notebook's folder, forked from a warm zygote per notebook), on
the instructor's machine or a grading worker. It runs the test cells (visible and hidden) and the checking
library, and trusts them and the kit; it never runs student code, which it hands to a sandboxed student
process (`mlkit.grading.sandbox`), and takes back only as data or as proxies.

- `spec`: its kernelspecs (`kernels/`, used from the package, never installed; `mlkit-forked`'s points at
  `spawn.py` by a path relative to its folder);
- `zygote`: the warm parent that forks a fresh kernel per notebook; `spawn`: the small process Jupyter
  starts for each;
- `boundary`: the kernel's side of the boundary: the student process and the proxies for what answers define.
"""
