"""The grading boundary's promises, one by one, on a real sandboxed student process.

What the attack and catalog suites show through nbgrader, shown here at the
level of single requests: identity, in-place changes, exceptions, warnings,
error state, printed output, callbacks limited to public methods, and
replies that are not data.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from mlkit import checks
from mlkit.grading.kernel import boundary
from mlkit.grading.sandbox import launcher as sandbox
from mlkit.grading.sandbox import wire

pytestmark = pytest.mark.skipif(sandbox.detect().name == "none", reason="needs a sandbox (bubblewrap)")

ANSWER = '''
import numpy as np

class Model:
    def __init__(self, scale=1.0):
        self.scale = scale
    def fit(self, X):
        self.mean = X.mean(axis=0) * self.scale
        print("fitted")
        return self
    def scale_in_place(self, X):
        X *= 2
    def sigmoid(self, z):
        return 1 / (1 + np.exp(-z))
    def fail(self):
        raise ValueError("bad input")
    def fail_own(self):
        class Oops(Exception):
            pass
        raise Oops("mine")
    def nodes(self):
        return [self, self]
    def cyclic(self):
        items = [1.0]
        items.append(items)
        return items
    def draw(self):
        return np.random.random()

def call_back(function, value):
    return function(value)

def peek(grader_object, name):
    return getattr(grader_object, name)

def make_and_use(model_class, X, method):
    return getattr(model_class(), method)(X)
'''


EXPORTS = frozenset({"Model", "call_back", "peek", "make_and_use", "len", "isinstance", "check"})


def start(folder: Path) -> boundary.StudentProcess:
    """A student process whose tests are this module's functions (in a kernel: the test cells')."""
    process = boundary.StudentProcess(folder, sandbox.Folder(None, None))
    process.test_module = __name__
    return process


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    process = start(Path(tmp_path_factory.mktemp("notebook")))
    namespace: dict = {}
    process.run_cell(ANSWER, "answer", namespace, EXPORTS)
    yield process, namespace
    process.close()


def test_what_a_cell_defines_appears_as_proxies(student):
    _, names = student
    assert type(names["Model"]) is boundary.StudentObject and type(names["call_back"]) is boundary.StudentObject
    assert "np" not in names, "modules stay in the student process"


def test_identity_data_and_printed_output(student, capsys):
    _, names = student
    model = names["Model"](scale=2.0)
    X = np.arange(6.0).reshape(3, 2)
    assert model.fit(X) is model
    assert type(model.mean) is np.ndarray and np.array_equal(model.mean, [4.0, 6.0])
    assert type(model.scale) is float
    assert capsys.readouterr().out == "fitted\n"
    first, second = model.nodes()
    assert first is model and second is model


def test_in_place_changes_never_reach_the_callers_array_but_are_reported(student):
    _, names = student
    X = np.ones(3)
    names["Model"]().scale_in_place(X)
    assert np.array_equal(X, [1.0, 1.0, 1.0]), "the grader's array was written by the student's code"
    _, changed = checks.call_watching_arguments(names["Model"]().scale_in_place, X)
    assert changed == [0] and np.array_equal(X, [1.0, 1.0, 1.0])
    _, changed = checks.call_watching_arguments(names["Model"]().sigmoid, X)
    assert changed == []


def test_the_same_observation_in_one_process():
    def scale_in_place(X, factor):
        X *= factor

    X = np.ones(3)
    assert checks.call_watching_arguments(scale_in_place, X, factor=2.0)[1] == [0]
    assert checks.call_watching_arguments(scale_in_place, X, factor=1.0)[1] == []


def test_only_the_release_names_reach_the_tests_and_never_over_builtins(student):
    process, _ = student
    namespace = {"check": "the grader's"}
    process.run_cell("len = lambda x: 7\nisinstance = lambda *a: True\ncheck = None\nExtra = 1\n"
                     "class Model2:\n    pass\n", "answer", namespace, EXPORTS | {"Model2"})
    assert "len" not in namespace and "isinstance" not in namespace and "Extra" not in namespace
    assert namespace["check"] == "the grader's" and type(namespace["Model2"]) is boundary.StudentObject


def test_exceptions_keep_builtin_types_and_messages(student):
    _, names = student
    with pytest.raises(ValueError, match="bad input"):
        names["Model"]().fail()
    with pytest.raises(boundary.StudentError, match="Oops: mine"):
        names["Model"]().fail_own()
    with pytest.raises(AttributeError):
        names["Model"]().missing


def test_warnings_and_error_state_apply_to_the_students_computation(student):
    _, names = student
    model = names["Model"]()
    with warnings.catch_warnings(record=True) as caught, np.errstate(over="warn"):
        warnings.simplefilter("always")
        model.sigmoid(np.array([-1000.0]))
    assert any(issubclass(w.category, RuntimeWarning) and "overflow" in str(w.message) for w in caught)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        model.sigmoid(np.array([-1000.0]))
    # The error state travels only when it changed: each request still gets the grader's current one.
    for over in ("ignore", "ignore", "raise", "raise", "ignore"):
        with warnings.catch_warnings(record=True) as caught, np.errstate(over=over):
            warnings.simplefilter("always")
            if over == "raise":
                with pytest.raises(FloatingPointError):
                    model.sigmoid(np.array([-1000.0]))
            else:
                model.sigmoid(np.array([-1000.0]))
                assert not caught


def test_the_global_generator_travels_with_each_request(student):
    _, names = student
    np.random.seed(7)
    drawn = names["Model"]().draw()
    np.random.seed(7)
    assert drawn == np.random.random()


def test_callbacks_reach_public_methods_only(student):
    _, names = student

    class Grader:
        secret = "hidden"

        def public(self):
            return 1.5

        def _private(self):
            return "private"

    assert names["call_back"](lambda v: v * 2, 3.0) == 6.0
    grader = Grader()
    assert names["peek"](grader, "public")() == 1.5
    for name in ("_private", "__dict__"):
        with pytest.raises(AttributeError):
            names["peek"](grader, name)
    # The student side's own stand-in class, not the grader's class.
    assert type(names["peek"](grader, "__class__")) is boundary.StudentObject
    with pytest.raises(AttributeError):  # an attribute that is not a method cannot be called for its value
        names["peek"](grader, "secret")()


def test_a_grader_object_is_called_with_data_only(student):
    _, names = student

    def measure(X):
        return len(X)  # a student object here would answer the grader's own len()

    with pytest.raises(TypeError, match="with data only"):
        names["call_back"](measure, names["Model"]())
    assert names["call_back"](measure, [1.0, 2.0]) == 2


def test_library_objects_never_become_handles(student, tmp_path):
    _, names = student
    for grader_object in (np.integer, np, len, np.save, np.random.default_rng(0), np.ndarray.tofile, type,
                          (lambda: None).__code__):
        with pytest.raises(TypeError, match="cannot be handed to student code"):
            names["call_back"](grader_object, 1.0)

    class Model(dict):
        def fit(self, X):
            return float(X.sum())

    # A class of the tests' may be called, and its instances' own methods, nothing inherited from a library.
    assert names["make_and_use"](Model, np.ones(3), "fit") == 3.0
    for method in ("keys", "clear", "_private"):
        with pytest.raises(AttributeError):
            names["make_and_use"](Model, np.ones(3), method)


def test_data_that_is_not_data_arrives_as_a_handle(student):
    _, names = student
    value = names["Model"]().cyclic()  # the list is data until it would contain itself
    assert type(value) is list and value[0] == 1.0 and type(value[1]) is boundary.StudentObject


def test_a_malformed_frame_is_refused_by_the_decoder():
    nested = b"l" + (1).to_bytes(8, "big")
    for bad in (b"\x00", b"a" + bytes([3]) + b"|O8" + bytes([0]), nested * (wire.MAX_DEPTH + 2) + b"N",
                b"s" + (10**9).to_bytes(8, "big"), b"N" + b"extra"):
        with pytest.raises(wire.WireError):
            wire.decode(bad, lambda marker: marker)


def test_a_stopped_process_says_why_and_stays_stopped(tmp_path):
    process = start(tmp_path)
    namespace: dict = {}
    process.run_cell("import os\ndef die():\n    os._exit(3)\n", "answer", namespace, frozenset({"die"}))
    with pytest.raises(boundary.StudentProcessStopped, match="exit code 3"):
        namespace["die"]()
    with pytest.raises(boundary.StudentProcessStopped, match="stopped earlier"):
        namespace["die"]()


SORTING_ANSWER = '''
import sys, threading
def full(X):
    return np.argsort(X)[:2]
def partial(X):
    return np.argpartition(X, 2)[:2]
def switched_off(X):
    sys.setprofile(None)
    return np.argsort(X)[:2]
class _Small(np.ndarray):
    shape = property(lambda self: (1,))       # what an attribute read of its shape says
def lying_shape(X):
    return X.view(_Small).argsort().view(np.ndarray)[:2]
def closed_link(X):
    import sys as _s
    open(int(_s.argv[3]), "wb").close()       # the watch's descriptor, closed without posix.close
    return np.argsort(X)[:2]
def with_fcntl(X):
    import fcntl
    fcntl.fcntl(0, fcntl.F_GETFD)
    return X[:2]
def in_a_thread(X):
    out = []
    worker = threading.Thread(target=lambda: out.append(np.argsort(X)[:2]))
    worker.start()
    worker.join()
    return out[0]
'''


def _watched(tmp_path) -> tuple[boundary.StudentProcess, dict]:
    process = boundary.StudentProcess(tmp_path, sandbox.Folder(None, None), watch_sorts=True)
    names: dict = {}
    process.run_cell("import numpy as np\n" + SORTING_ANSWER, "answer", names,
                     frozenset({"full", "partial", "switched_off", "in_a_thread", "lying_shape",
                                "closed_link", "with_fcntl"}))
    return process, names


def test_the_sort_watch_sees_full_sorts_only(tmp_path, monkeypatch):
    process, names = _watched(tmp_path)
    monkeypatch.setattr(boundary, "_PROCESS", process)
    X = np.arange(50.0)[::-1].copy()
    try:
        with checks.record_sorts() as sorts:
            names["partial"](X)
        assert sorts == []
        with checks.record_sorts() as sorts:
            names["full"](X)
        assert sorts == [("argsort", (50,))]
        with checks.record_sorts() as sorts:
            names["lying_shape"](X)
        assert sorts == [("argsort", (50,))], "the shape is read with NumPy's own getter"
    finally:
        process.close()


def test_a_watch_that_cannot_report_ends_the_student_process(tmp_path, monkeypatch):
    process, names = _watched(tmp_path)
    monkeypatch.setattr(boundary, "_PROCESS", process)
    try:
        with pytest.raises(boundary.StudentProcessStopped, match="SIGKILL"):  # before the sort goes unreported
            with checks.record_sorts():
                names["closed_link"](np.arange(50.0))
    finally:
        process.close()


@pytest.mark.parametrize("sneaky", ["switched_off", "in_a_thread", "with_fcntl"])
def test_the_sort_watch_fails_when_switched_off_or_gone_around(tmp_path, monkeypatch, sneaky):
    process, names = _watched(tmp_path)
    monkeypatch.setattr(boundary, "_PROCESS", process)
    X = np.arange(50.0)[::-1].copy()
    try:
        with checks.record_sorts():
            names["partial"](X)  # no problem before
        with pytest.raises(checks.WatchingDisabled,
                           match={"switched_off": "setprofile", "in_a_thread": "thread", "with_fcntl": "fcntl"}[sneaky]):
            with checks.record_sorts() as sorts:
                names[sneaky](X)
        assert sorts == [], "the sort itself was not seen: only the way around the watch"
    finally:
        process.close()


def test_without_the_watch_a_recording_fails_rather_than_sees_nothing(student, monkeypatch):
    process, names = student
    monkeypatch.setattr(boundary, "_PROCESS", process)
    with pytest.raises(checks.WatchingDisabled, match="not switched on"):
        with checks.record_sorts():
            names["Model"]().sigmoid(np.zeros(3))


def test_a_cells_outputs_are_capped_in_total_and_the_graders_own_stay():
    import nbformat

    from mlkit.grading.plugins.output_limits import LimitOutputSize

    cell = nbformat.v4.new_code_cell("pass")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout" if i % 2 else "stderr", text="x" * 19_000)
                    for i in range(300)]
    cell.outputs.append(nbformat.v4.new_output("display_data", data={checks.DIAGNOSIS_MIME: {"mistake": "m"}}))
    cell.outputs.append(nbformat.v4.new_output("error", ename="CheckFailed", evalue="wrong", traceback=["wrong"]))
    limited, _ = LimitOutputSize().preprocess_cell(cell, {}, 0)
    total = sum(len(output.get("text", "")) for output in limited.outputs)
    assert total <= 100_000 + 200
    assert limited.outputs[-1].text.startswith("... [")  # says what was left out
    kinds = [output.output_type for output in limited.outputs]
    assert "error" in kinds and any(checks.DIAGNOSIS_MIME in o.get("data", {}) for o in limited.outputs)


def test_in_one_process_the_recorder_sees_sorts_and_its_own_switching_off():
    import sys

    X = np.arange(20.0)
    with checks.record_sorts() as sorts:
        np.argpartition(X, 3)
    assert sorts == []
    with checks.record_sorts() as sorts:
        np.argsort(X)
        sorted([3, 1, 2])
    assert sorts == [("argsort", (20,)), ("sorted", (3,))]
    with pytest.raises(checks.WatchingDisabled):
        with checks.record_sorts():
            sys.setprofile(None)


# -- what student code sends back is bounded on the grader's side ---------------------------------------------

FLOOD = '''
import sys as _sys
_server = _sys.modules["__main__"].SERVER      # the student process's own reply sender, replaced
_send = _server.send
def _flooding(message):
    if type(message) is tuple and message[:1] == ("done",) and len(message) == 8:
        message = message[:5] + (list(message[5]) + [("UserWarning", "W" * 100_000)] * 50,) + message[6:]
    _send(message)
_server.send = _flooding
class Loud:
    def fail(self):
        raise ValueError("E" * 1_000_000)
    def __repr__(self):
        return "R" * 1_000_000
'''


def _flooded(tmp_path, monkeypatch, capped: bool) -> tuple[list, str, str]:
    if not capped:  # the bounds switched off: what the grader took before it had them
        for name in ("TEXT_CHARS", "WARNINGS_PER_CALL", "WARNINGS_PER_NOTEBOOK"):
            monkeypatch.setattr(boundary.limits, name, 10**9)
    process = start(tmp_path)
    try:
        names: dict = {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            process.run_cell(FLOOD, "answer", names, frozenset({"Loud"}))
            loud = names["Loud"]()
            text = repr(loud)
            with pytest.raises(ValueError) as error:
                loud.fail()
        return caught, text, str(error.value)
    finally:
        process.close()


def test_warnings_messages_and_reprs_of_student_code_are_capped_by_the_grader(tmp_path, monkeypatch):
    caught, text, message = _flooded(tmp_path, monkeypatch, capped=True)
    flood = [w for w in caught if str(w.message).startswith("WWW")]
    assert 0 < len(flood) <= 4 * boundary.limits.WARNINGS_PER_CALL  # four calls: the cell, Loud(), repr(), fail()
    assert all(len(str(w.message)) <= boundary.limits.TEXT_CHARS for w in flood)
    assert len(text) <= boundary.limits.TEXT_CHARS + 20 and len(message) <= boundary.limits.TEXT_CHARS


def test_without_the_caps_a_replaced_reply_sender_floods_the_grader(tmp_path, monkeypatch):
    """The attack is real: the student process's own caps are the student's to remove."""
    caught, _, _ = _flooded(tmp_path, monkeypatch, capped=False)
    assert sum(len(str(w.message)) == 100_000 for w in caught) >= 100
