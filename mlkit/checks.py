"""Checking helpers shared by every notebook's visible and hidden tests.

One API, defined once here and used the same way in all ten notebooks:

    check = Check("02_logistic_regression", "test_one_step_update")
    check.ndarray(model.weights, "weights", shape=(d,))
    check.close(model.weights, expected_w, "weights after one step",
                mistakes={"sign_flipped": -expected_w})
    check.fail("unstable_sigmoid")

`assignment` is the assignment folder name, `test_id` the nbgrader
`grade_id` of the test cell.  Every mistake a check can recognise is declared
as data in `mlkit/diagnostics/<assignment>.toml` under that test id (see
`mlkit.diagnostics`); the test code refers to it by its short id, so the
feedback report, the self-study summary and the class report all read the
same sentence and hint.

Every failed check raises `CheckFailed`, an AssertionError whose message is one
sentence a student can act on.  Inside a Jupyter kernel it also publishes the
diagnosis as a small JSON display output (`DIAGNOSIS_MIME`), which the
reports read instead of parsing tracebacks.

Shapes are written as tuples: `(n, d)` for a design matrix, `(n,)` for a vector.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from typing import Callable, Iterator, Mapping

import numpy as np

from mlkit import diagnostics

DIAGNOSIS_MIME = "application/vnd.mlkit.diagnosis+json"

# Exact types accepted as "a real float scalar": what float arithmetic and
# NumPy reductions return.  bool, int and complex are rejected on purpose.
REAL_FLOAT_TYPES = (float, np.float64, np.float32)


class CheckFailed(AssertionError):
    """A failed check; `str(error)` is the one-sentence diagnosis."""

    def __init__(self, message: str, assignment: str, test_id: str, mistake: str | None):
        super().__init__(message)
        self.assignment = assignment
        self.test_id = test_id
        self.mistake = mistake


def _publish(payload: dict) -> None:
    """Show the diagnosis as structured output when running inside a kernel."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python / pytest: the exception carries it all
        return
    if get_ipython() is None:
        return
    display({DIAGNOSIS_MIME: payload}, raw=True)


def relative_error(actual, expected) -> float:
    """Largest elementwise |a - e| / max(1e-8, |a| + |e|).

    ~1e-7 or smaller means a correct analytic gradient against central
    differences; ~1e-2 or larger means a real mistake.
    """
    a = np.asarray(actual, dtype=float)
    e = np.asarray(expected, dtype=float)
    return float(np.max(np.abs(a - e) / np.maximum(1e-8, np.abs(a) + np.abs(e)), initial=0.0))


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of scalar `f` at `x` (any shape); `x` is not modified."""
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        f_plus = f(x.copy())
        x[index] = original - h
        f_minus = f(x.copy())
        x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


class WatchingDisabled(AssertionError):
    """A check that watches the student's code could not: the code switched the watch off or went around it."""


# While grading, student code runs in another process, which watches its own sorts; the grading
# kernel tells this module how to reach it (`watch_sorts_elsewhere`), so that nothing here imports
# the grading machinery.
_sorts_elsewhere: Callable[[], object] | None = None


def watch_sorts_elsewhere(provider: Callable[[], object]) -> None:
    """`provider()` returns the process running the student's code (None: this one): an object with a
    list `sort_recorders` that it fills with (name, shape) and `watch_problem` (None, or what broke it)."""
    global _sorts_elsewhere
    _sorts_elsewhere = provider


@contextlib.contextmanager
def record_sorts() -> Iterator[list]:
    """Collect the full sorts the block's student code makes: a list of (name, shape sorted).

    `np.sort` / `np.argsort` / `ndarray.sort` / `ndarray.argsort` give the
    array's shape, `sorted` and `list.sort` the list's length;
    `np.partition`, `np.argpartition` and `heapq` are partial and not listed.
    Calls made from C code are not seen: `np.lexsort` (a C-level dispatcher),
    or a sort method handed to `map` or `operator.methodcaller`.
    While grading, the student's code runs in the student process, which
    reports every sort as it happens (`mlkit.grading.kernel.boundary`); in JupyterLab
    they are recorded here, so the block should hold the student's call only.
    If the watch was switched off or gone around (`sys.setprofile`, a thread,
    a forked process), leaving the block raises `WatchingDisabled`.
    """
    calls: list = []
    elsewhere = _sorts_elsewhere() if _sorts_elsewhere is not None else None
    if elsewhere is not None:
        elsewhere.sort_recorders.append(calls)
        try:
            yield calls
        finally:
            elsewhere.sort_recorders.remove(calls)
        problem = elsewhere.watch_problem
    else:
        recorder = SortRecorder(calls)
        with recorder:
            yield calls
        problem = recorder.problem
    if problem:
        raise WatchingDisabled(f"the sorts of the student's code could not be watched: {problem}.")


class SortRecorder:
    """Records the full sorts made in this process while it is active (see `record_sorts`)."""

    SORTING = frozenset({"sort", "argsort"})

    def __init__(self, calls: list):
        self.calls = calls
        self.problem: str | None = None
        self._leaving = False   # the recorder's own sys.setprofile on the way out is no breach

    def _profile(self, frame, event, arg):
        if event != "c_call":
            return
        name = getattr(arg, "__name__", None)
        owner = getattr(arg, "__self__", None)
        if name in self.SORTING:
            if isinstance(owner, np.ndarray):
                self.calls.append((name, tuple(int(n) for n in owner.shape)))
            elif isinstance(owner, list):
                self.calls.append((name, (len(owner),)))
        elif owner is sys and name in ("setprofile", "settrace") and not self._leaving:
            self.problem = f"the code called sys.{name}"

    def __enter__(self):
        import builtins

        self._builtins = builtins
        self._sorted = original = builtins.sorted
        calls = self.calls

        def sorted(iterable, /, *, key=None, reverse=False):  # noqa: A001  (stands in for the builtin)
            items = list(iterable)
            calls.append(("sorted", (len(items),)))
            return original(items, key=key, reverse=reverse)

        builtins.sorted = sorted
        self._previous = sys.getprofile()
        self._watch = self._profile  # one bound method, to tell it from another later
        sys.setprofile(self._watch)
        return self.calls

    def __exit__(self, *exc):
        if sys.getprofile() is not self._watch and self.problem is None:
            self.problem = "the watch on this process was replaced"
        self._leaving = True
        sys.setprofile(self._previous)
        self._builtins.sorted = self._sorted
        return False


def call_watching_arguments(function: Callable, *args, **kwargs) -> tuple[object, list]:
    """Call `function(*args, **kwargs)`; returns (its result, the arguments it changed in place).

    The second item lists the positions (ints) and keyword names (strs) of the
    array arguments whose contents the call changed.  In JupyterLab the arrays
    are compared before and after the call; while grading, the student's code
    runs in another process, which reports what it changed: the test's own
    arrays are never written to, so a reference computed from them afterwards
    stays right.
    """
    watching = getattr(type(function), "__mlkit_call_watching__", None)
    if watching is not None:
        result, changed = watching(function, args, kwargs)
        return result, list(changed)
    before = [(key, value, value.tobytes()) for key, value in [*enumerate(args), *kwargs.items()]
              if type(value) is np.ndarray]
    result = function(*args, **kwargs)
    return result, [key for key, value, was in before if value.tobytes() != was]


def _describe(value) -> str:
    if type(value) is np.ndarray:
        return f"numpy.ndarray of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__module__}.{type(value).__qualname__}"


class Check:
    """The checks of one graded test cell; see the module docstring."""

    def __init__(self, assignment: str, test_id: str):
        self.assignment = assignment
        self.test_id = test_id
        self.mistakes = diagnostics.mistakes_for(assignment, test_id)

    # -- failing -------------------------------------------------------------

    def fail(self, mistake: str) -> None:
        """Fail with a declared mistake (its id must be in the diagnostics file)."""
        if mistake not in self.mistakes:
            raise KeyError(f"{self.assignment}/{self.test_id} declares no mistake {mistake!r}")
        declared = self.mistakes[mistake]
        self._raise(declared.message, mistake, hint=declared.hint)

    def fail_because(self, message: str) -> None:
        """Fail with a message for a problem that is not a catalogued mistake."""
        self._raise(message, None, hint="")

    def _raise(self, message: str, mistake: str | None, hint: str) -> None:
        _publish({
            "assignment": self.assignment,
            "test": self.test_id,
            "mistake": mistake,
            "message": message,
            "hint": hint,
        })
        raise CheckFailed(message, self.assignment, self.test_id, mistake)

    def that(self, condition: bool, message: str) -> None:
        """Fail with `message` unless `condition` holds."""
        if not condition:
            self.fail_because(message)

    # -- types and shapes ------------------------------------------------------

    def ndarray(self, value, name: str, shape: tuple | None = None, kind: str = "f") -> None:
        """`value` is exactly a numpy.ndarray of `shape` whose dtype kind is in `kind`.

        kind: "f" real floating, "i" integer ("iu" signed or unsigned), "b" bool.
        """
        if type(value) is not np.ndarray:
            self.fail_because(f"{name} must be a numpy.ndarray, got {_describe(value)}.")
        if shape is not None and value.shape != tuple(shape):
            self.fail_because(f"{name} has shape {value.shape}, expected {tuple(shape)}.")
        if value.dtype.kind not in kind:
            wanted = {"f": "a real floating", "i": "an integer", "iu": "an integer", "b": "a boolean"}.get(kind, kind)
            self.fail_because(f"{name} has dtype {value.dtype}, expected {wanted} dtype.")

    def real_float(self, value, name: str) -> float:
        """`value` is a Python float or a NumPy float scalar (not an array, int or complex)."""
        if type(value) not in REAL_FLOAT_TYPES:
            self.fail_because(f"{name} must be a float (Python float or NumPy float64), got {_describe(value)}.")
        return float(value)

    def finite(self, value, name: str, mistake: str | None = None) -> None:
        """Every entry of `value` is finite (no NaN, no inf)."""
        if not np.all(np.isfinite(np.asarray(value, dtype=float))):
            if mistake:
                self.fail(mistake)
            self.fail_because(f"{name} contains NaN or inf.")

    # -- values --------------------------------------------------------------

    def close(self, actual, expected, name: str, rtol: float = 1e-7, atol: float = 1e-9,
              mistakes: Mapping[str, object] | None = None) -> None:
        """`actual` equals `expected` within tolerance; otherwise name the mistake.

        `mistakes` maps a declared mistake id to the value that mistake would
        produce; the first one `actual` matches is reported.
        """
        a = np.asarray(actual, dtype=float)
        e = np.asarray(expected, dtype=float)
        if a.shape == e.shape and np.allclose(a, e, rtol=rtol, atol=atol):
            return
        for mistake, wrong_value in (mistakes or {}).items():
            w = np.asarray(wrong_value, dtype=float)
            if a.shape == w.shape and np.allclose(a, w, rtol=rtol, atol=atol):
                self.fail(mistake)
        if a.shape != e.shape:
            self.fail_because(f"{name} has shape {a.shape}, expected {e.shape}.")
        with np.errstate(invalid="ignore"):
            worst = float(np.nanmax(np.abs(a - e))) if a.size else 0.0
        self.fail_because(
            f"{name} is wrong: largest absolute difference from the reference is {worst:.3g} "
            f"(relative error {relative_error(a, e):.1e}, tolerance rtol={rtol:g}, atol={atol:g})."
        )

    def gradient(self, analytic, numeric, name: str, tol: float = 1e-5,
                 mistakes: Mapping[str, object] | None = None) -> float:
        """Analytic gradient matches a numerical one; prints and returns the relative error."""
        analytic = np.asarray(analytic, dtype=float)
        numeric = np.asarray(numeric, dtype=float)
        if analytic.shape != numeric.shape:
            self.fail_because(f"{name} has shape {analytic.shape}, expected {numeric.shape}.")
        error = relative_error(analytic, numeric)
        print(f"{name}: relative error {error:.1e} (a correct gradient gives about 1e-7 or smaller)")
        if error > tol:
            for mistake, wrong_value in (mistakes or {}).items():
                if relative_error(analytic, wrong_value) <= tol:
                    self.fail(mistake)
            self.fail_because(
                f"{name} does not match the finite-difference gradient "
                f"(relative error {error:.1e}, allowed {tol:.0e})."
            )
        return error

    def decreasing(self, history, name: str, factor: float = 1.0) -> None:
        """`history` (a list of floats) ends below `factor` times its first entry and never rises by more than rounding."""
        values = np.asarray(history, dtype=float)
        self.that(values.size > 1, f"{name} has {values.size} entries; expected one per iteration.")
        self.finite(values, name)
        rises = np.diff(values) > 1e-12 * np.maximum(1.0, np.abs(values[:-1]))
        self.that(not rises.any(), f"{name} goes up at iteration {int(np.argmax(rises)) + 1}: the step is too large or has the wrong sign.")
        self.that(values[-1] <= factor * values[0],
                  f"{name} fell only from {values[0]:.4g} to {values[-1]:.4g}; expected below {factor:g} times the start.")

    @contextlib.contextmanager
    def shape_errors(self, mistake: str) -> Iterator[None]:
        """Run the block; a NumPy error about operand shapes in it (a matrix product or a broadcast whose
        shapes do not fit) fails with the declared `mistake` instead of a bare ValueError."""
        try:
            yield
        except ValueError as error:
            text = str(error)
            if "matmul" in text or "could not be broadcast" in text or "not aligned" in text:
                self.fail(mistake)
            raise

    # -- warnings ------------------------------------------------------------

    @contextlib.contextmanager
    def no_warnings(self, what: str, mistake: str | None = None,
                    by_text: Mapping[str, str] | None = None) -> Iterator[None]:
        """Run the block with every warning recorded; fail if any was raised.

        Floating-point trouble (overflow in exp, log of zero, 0/0) shows up as
        a RuntimeWarning, so this is how the stability checks see it.
        `by_text` maps a piece of the warning's text ("exp", "log") to the
        declared mistake it reveals; otherwise `mistake` is reported.
        """
        # Underflow to 0 is harmless (exp(-1e4) == 0.0), so only overflow, division by
        # zero and invalid operations count.
        with warnings.catch_warnings(record=True) as caught, \
                np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
            warnings.simplefilter("always")
            yield
        if caught:
            text = str(caught[0].message)
            for piece, named in (by_text or {}).items():
                if piece in text:
                    self.fail(named)
            if mistake:
                self.fail(mistake)
            self.fail_because(f"{what} raised {caught[0].category.__name__}: {text}.")


__all__ = ["Check", "CheckFailed", "DIAGNOSIS_MIME", "WatchingDisabled", "call_watching_arguments", "numerical_gradient",
           "record_sorts", "relative_error"]
