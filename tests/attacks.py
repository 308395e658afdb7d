"""Hostile and broken submissions of 01_linear_regression, each with the outcome the kit must give.

Each attack is applied to the reference answers (so everything it does not
break is correct) and graded by the real `nbgrader autograde` in
tests/test_integrity.py.  `max_points` is the most the submission may score
(12 is full automatic marks for this notebook); `reason` is a piece of the
reason that must be recorded in the gradebook (None: nothing to record).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Callable

import nbformat

ASSIGNMENT = "01_linear_regression"
FULL = 12.0
REFUSED = "not graded: answer code outside what SPEC.md allows"


@dataclass(frozen=True)
class Attack:
    name: str
    what: str
    max_points: float
    reason: str | None
    append: str = ""                        # code added at the end of the gradient_descent answer cell
    in_fit: str = ""                        # code run at the start of LinearRegressionGD.fit
    tamper: Callable | None = None          # edits the notebook node directly
    raw: bytes | None = None                # the file's bytes, replacing the notebook entirely


def _fit_hook(answers: dict[str, str], code: str) -> dict[str, str]:
    marker = "        n, d = X.shape\n"
    body = "".join(f"        {line}\n" for line in code.splitlines())
    return {**answers, "gradient_descent": answers["gradient_descent"].replace(marker, body + marker, 1)}


def _cells_with(nb, grade_id):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]


def _delete_test_cell(nb):
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_gd_one_step"]


def _strip_metadata(nb):
    for grade_id in ("test_gd_convergence", "setup", "gradient_descent"):
        for cell in _cells_with(nb, grade_id):
            cell.metadata = {}


def _duplicate_ids(nb):
    answer = _cells_with(nb, "gradient_descent")[0]
    wrong = copy.deepcopy(answer)
    wrong.source = "class LinearRegressionGD:\n    pass\n"
    wrong["id"] = "second-copy"
    test = copy.deepcopy(_cells_with(nb, "test_gd_convergence")[0])
    test["id"] = "test-copy"
    test.source = "pass"
    nb.cells += [wrong, test]


def _change_points(nb):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.metadata["nbgrader"]["points"] = 100


def _move_cells(nb):
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    rest = [c for c in nb.cells if c not in tests]
    nb.cells = tests + rest


def _empty_tests(nb):
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            cell.source = "# Checks nothing.\npass"


ATTACKS = [
    # Code the gate refuses: it never runs, the notebook scores 0 with the offending lines recorded.
    Attack("gradebook_write", "opens gradebook.db with sqlite3 and raises every score", 0, REFUSED,
           append="import sqlite3\nsqlite3.connect('../../../gradebook.db').execute('update grade set auto_score = 99')"),
    Attack("read_hidden_tests", "reads the source notebook with the hidden tests", 0, REFUSED,
           append="SECRET = open('../../../source/01_linear_regression/linear_regression.ipynb').read()"),
    Attack("input_transformer", "registers an IPython input transformer that turns later cells into `pass`", 0, REFUSED,
           append="get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])"),
    Attack("patch_allclose", "replaces np.allclose so that every comparison passes", 0, REFUSED,
           append="np.allclose = lambda *args, **kwargs: True"),
    Attack("patch_testing", "replaces np.testing.assert_allclose through a from-import", 0, REFUSED,
           append="from numpy import testing\ntesting.assert_allclose = lambda *args, **kwargs: None"),
    Attack("always_equal_object", "returns an object whose comparisons always pass", 0, REFUSED,
           append="class Anything:\n    def __eq__(self, other):\n        return True\n    def __array__(self, *a, **k):\n        return np.zeros(3)"),
    Attack("os_exit", "calls os._exit to crash the kernel", 0, REFUSED, append="import os\nos._exit(0)"),
    Attack("os_from_setup_cell", "uses the os module the setup cell imported, to list the course", 0, REFUSED,
           in_fit="print(os.listdir('../../..'))"),
    Attack("environment", "reads the grader's environment variables", 0, REFUSED,
           append="import os\nprint(dict(os.environ))"),
    Attack("write_other_student", "overwrites another student's autograded notebook", 0, REFUSED,
           append="open('../../honest/01_linear_regression/linear_regression.ipynb', 'w').write('{}')"),
    Attack("fork_bomb", "forks without end", 0, REFUSED, append="import os\nwhile True:\n    os.fork()"),
    Attack("disk_fill", "fills the disk through NumPy", 0, REFUSED,
           append="while True:\n    np.save('fill', np.zeros(10**7))"),
    Attack("shell_escape", "runs a shell command with an IPython escape", 0, REFUSED, append="!rm -rf ../../honest"),
    Attack("magic", "uses a cell magic to write a file", 0, REFUSED, append="%env SECRET=1"),
    Attack("builtin_monkeypatch", "replaces the built-in `type` so the tests' type checks pass", 0, REFUSED,
           append="type = lambda value: np.ndarray"),
    Attack("dunder_escape", "climbs to object.__subclasses__ to reach the interpreter", 0, REFUSED,
           append="LEAK = ().__class__.__base__.__subclasses__()"),
    Attack("grader_object", "disables the test helper `check` from inside fit", 0, REFUSED,
           in_fit="check.that = lambda *args: None"),
    Attack("getattr_escape", "reaches a builtin through getattr on a module", 0, REFUSED,
           append="EVIL = getattr(np, 'load')"),
    # Code the gate lets through: the sandbox and the resilient executor deal with it.
    Attack("endless_loop_ignoring_interrupt", "loops forever in fit and swallows KeyboardInterrupt", 5,
           "time limit", in_fit="while True:\n    try:\n        pass\n    except BaseException:\n        pass"),
    Attack("kernel_crash", "crashes the kernel with an out-of-bounds strided view", 5, "kernel died",
           in_fit="np.lib.stride_tricks.as_strided(np.zeros(1), shape=(10**9,), strides=(10**6,)).sum()"),
    Attack("memory_exhaustion", "allocates far more memory than the machine has", 5, None,
           in_fit="hog = [np.ones(10**8) for _ in range(400)]"),
    Attack("deep_recursion", "recurses without end at import time", FULL, None,
           append="def dive(depth):\n    return dive(depth + 1)\ntry:\n    dive(0)\nexcept RecursionError:\n    pass"),
    Attack("huge_output", "prints a 20 MB line", FULL, None, append="print('x' * 20_000_000)"),
    # Broken or tampered notebooks: repaired from the release, or graded as empty with the reason.
    Attack("not_utf8", "a notebook file that is not UTF-8", 0, "could not be read", raw=b"\xff\xfe\x00{not a notebook"),
    Attack("not_json", "a truncated notebook file", 0, "could not be read", raw=b'{"cells": [ {"cell_type": "code"'),
    Attack("deleted_test_cell", "deletes a graded test cell", FULL, None, tamper=_delete_test_cell),
    Attack("stripped_metadata", "strips nbgrader metadata from a test, a read-only and an answer cell", FULL,
           "lost its nbgrader metadata", tamper=_strip_metadata),
    Attack("duplicated_grade_ids", "duplicates an answer cell (wrong code) and a test cell (emptied)", FULL, None,
           tamper=_duplicate_ids),
    Attack("changed_points", "sets every test cell to 100 points", FULL, None, tamper=_change_points),
    Attack("moved_cells", "moves every test cell before the answers", FULL, None, tamper=_move_cells),
    Attack("emptied_tests", "replaces every test cell's code by `pass`, for the wrong answer", 6, None,
           tamper=_empty_tests),
]


def submission(attack: Attack, answers: dict[str, str], release_nb) -> bytes:
    """The bytes of the attacker's notebook file."""
    if attack.raw is not None:
        return attack.raw
    if attack.in_fit:
        answers = _fit_hook(answers, attack.in_fit)
    if attack.append:
        answers = {**answers, "gradient_descent": answers["gradient_descent"] + "\n\n" + attack.append + "\n"}
    if attack.name == "emptied_tests":  # emptied tests only pay off for a wrong answer
        answers = {**answers, "gradient_descent": answers["gradient_descent"].replace(
            "self.weights - self.learning_rate * grad_w", "self.weights + self.learning_rate * grad_w")}
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers and cell.metadata["nbgrader"].get("solution") and cell.cell_type == "code":
            cell.source = answers[grade_id]
    if attack.tamper is not None:
        attack.tamper(nb)
    return json.dumps(nbformat.from_dict(nb), indent=1).encode()
