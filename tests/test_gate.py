"""The answer-cell gate: it refuses what SPEC.md's rules forbid and nothing an honest solution needs."""

from __future__ import annotations

import pytest

from mlkit import catalog, gate


def honest_cells():
    for assignment in catalog.assignments():
        for name, answers in catalog.catalog_answers(assignment).items():
            for cell, source in (answers or {}).items():
                yield pytest.param(source, id=f"{assignment}:{name}:{cell}")


@pytest.mark.parametrize("source", honest_cells())
def test_no_reference_alternative_or_mutant_is_flagged(source):
    assert gate.inspect_source(source) == []


REFUSED = {
    "eval": "x = eval('1 + 1')",
    "exec named, not called": "run = exec",
    "import os": "import os",
    "from import of a forbidden module": "from subprocess import run",
    "os bound by the setup cell": "def f():\n    return os.listdir('.')",
    "open": "text = open('/etc/passwd').read()",
    "get_ipython": "get_ipython().run_line_magic('env', '')",
    "line magic": "%env SECRET=1",
    "shell escape": "!ls /",
    "module attribute assignment": "np.allclose = lambda *a, **k: True",
    "module attribute via from-import": "from numpy import testing\ntesting.assert_allclose = print",
    "augmented module assignment": "np.pi += 1",
    "dunder attribute": "cls = (1).__class__",
    "dunder name": "b = __builtins__",
    "getattr on a module": "g = getattr(np, 'load')",
    "setattr on a module": "setattr(np, 'allclose', print)",
    "dunder method": "class A:\n    def __eq__(self, other):\n        return True",
    "dunder class attribute": "class A:\n    __slots__ = ()",
    "builtin replaced": "def isinstance(a, b):\n    return True",
    "builtin replaced through global": "def f():\n    global len\n    len = None",
    "np replaced": "np = None",
    "grader name": "def f():\n    check.that = print",
    "numpy file reading": "x = np.load('/tmp/x.npy')",
    "numpy file writing": "np.zeros(3).tofile('/tmp/x')",
    "star import": "from numpy import *",
    "relative import": "from . import x",
}
ALLOWED = {
    "numpy and allowed modules": "import numpy as np\nimport math\nfrom collections import Counter\nimport heapq",
    "numpy submodule": "from numpy.linalg import norm",
    "super().__init__": "class A(object):\n    def __init__(self):\n        super().__init__()",
    "repr and str": "class A:\n    def __repr__(self):\n        return 'A'\n    def __str__(self):\n        return 'A'",
    "setattr on self": "class A:\n    def f(self):\n        setattr(self, 'x', 1)\n        return getattr(self, 'x')",
    "local names that shadow builtins": "def f(values):\n    max = 0\n    for v in values:\n        max = v if v > max else max\n    return max",
    "a syntax error is a bug, not an attack": "def f(:\n    pass",
}


@pytest.mark.parametrize("source", REFUSED.values(), ids=REFUSED.keys())
def test_refused(source):
    violations = gate.inspect_source(source)
    assert violations and all(v.reason and v.line >= 1 for v in violations)


@pytest.mark.parametrize("source", ALLOWED.values(), ids=ALLOWED.keys())
def test_allowed(source):
    assert gate.inspect_source(source) == []
