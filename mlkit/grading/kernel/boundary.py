"""The grader's side of the grading boundary: a sandboxed student process, and proxies for what it defines.

While a notebook is graded, the trusted grading kernel runs the test cells
(visible and hidden) and the whole checking library; the submission's answer
cells run in a separate, sandboxed student process (`mlkit/grading/sandbox/server.py`,
started by `mlkit.grading.sandbox.launcher`).  `mlkit.grading.plugins.execute.ResilientExecute` sends
each answer cell to the kernel as a call of `run_student_cell`; every name the
cell defines then appears in the kernel's namespace: data (arrays, floats,
lists, ...) as a copy, everything else (classes, functions, models) as a
`StudentObject` proxy.  Using a proxy (calling it, reading an attribute,
iterating) is a request to the student process; its answer is data or
another proxy (`mlkit.grading.sandbox.wire`).

What the tests could count on when student code ran in their own process
holds across the boundary:
- identity: the same student object is always the same proxy (`fit(X, y) is model`);
- a student exception is re-raised with its type (builtin and NumPy
  exceptions; others as `StudentError`) and message, its student-code
  traceback attached as a note;
- warnings are raised again here, and NumPy's error state here applies to
  the student's computation (so `np.errstate` and `warnings.catch_warnings`
  in a test see the student's floating-point trouble); NumPy's global random
  generator travels with each request and back, as if both sides shared it;
- what the student's code printed appears in the cell that caused it;
- `mlkit.checks.record_sorts` sees the student's sorts, reported by the student
  process as they happen, and fails if the student's code switched that
  watch off or went around it;
- an in-place change to an array argument never reaches the grader's array
  (a test computes references from its inputs), but is reported to
  `mlkit.checks.call_watching_arguments`.

Only names the release's answer cells define reach the kernel's namespace
(`run_cell`'s `exports`), and never over a builtin or a grader's name.
Objects of the grader reach student code only if a test cell defined them (a
`metric_fn`, a model class, a replacement method): a handle the student can
call with data, and whose own test-defined public methods it can call, and
nothing else (`may_hand_over`, `callable_part`); a module, a builtin, a NumPy
type or any library's function never becomes a handle.  A reply that is malformed, too
large, too deep or too slow stops the student process: that call and every
later one raise `StudentProcessStopped` naming the reason, and the grading
of the notebook goes on.
"""

from __future__ import annotations

import base64
import builtins
import os
import select
import signal
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np

from mlkit import checks
from mlkit.grading import limits
from mlkit.grading.sandbox import launcher, randomstate, wire

# Its limits (time per request, text, warnings and output taken from the student process): mlkit.grading.limits.


class StudentError(Exception):
    """An exception of the student's own class (or one that cannot be rebuilt here), by name and message."""


class StudentProcessStopped(RuntimeError):
    """The student process was stopped (it died, hung, or broke the protocol); the message says why."""


def _known_exceptions() -> dict[str, type]:
    known = {name: value for name, value in vars(builtins).items()
             if isinstance(value, type) and issubclass(value, Exception)}
    known["LinAlgError"] = np.linalg.LinAlgError
    for name in dir(np.exceptions):
        value = getattr(np.exceptions, name)
        if isinstance(value, type) and issubclass(value, Exception):
            known[name] = value
    return known


def _known_warnings() -> dict[str, type]:
    known = {name: value for name, value in vars(builtins).items()
             if isinstance(value, type) and issubclass(value, Warning)}
    for name in dir(np.exceptions):
        value = getattr(np.exceptions, name)
        if isinstance(value, type) and issubclass(value, Warning):
            known[name] = value
    return known


EXCEPTIONS = _known_exceptions()
WARNINGS = _known_warnings()


def rebuild_exception(name: str, message: str, where: str = "") -> BaseException:
    name, message, where = name[:100], message[:limits.TEXT_CHARS], where[-limits.TEXT_CHARS:]
    kind = EXCEPTIONS.get(name)
    error = None
    if kind is not None:
        try:
            error = kind(message)
        except Exception:
            error = None
    if error is None:
        error = StudentError(f"{name}: {message}" if message else name)
    if where:
        error.add_note("in the student's code:\n" + where.rstrip())
    return error


class StudentObject:
    """A proxy for an object that lives in the student process."""

    __slots__ = ("_mlkit_link", "_mlkit_id", "__weakref__")

    def __init__(self, link: "StudentProcess", number: int):
        object.__setattr__(self, "_mlkit_link", link)
        object.__setattr__(self, "_mlkit_id", number)

    def _mlkit_request(self, op, *payload):
        link = object.__getattribute__(self, "_mlkit_link")
        return link.request((op, wire.Ref(object.__getattribute__(self, "_mlkit_id")), *payload))

    def __getattr__(self, name):
        # Special names are never asked for: NumPy looks up __array_interface__ and friends on
        # the instance, and an answer to those would be read as a pointer into this process.
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._mlkit_request("getattr", name)

    def __setattr__(self, name, value):
        self._mlkit_request("setattr", name, value)

    def __call__(self, *args, **kwargs):
        return self._mlkit_request("call", args, kwargs)

    def __mlkit_call_watching__(self, args: tuple, kwargs: dict):
        """Call it; returns (result, the argument keys whose arrays the call changed in place)."""
        link = object.__getattribute__(self, "_mlkit_link")
        link.changed_arguments = ()
        result = self._mlkit_request("call", args, kwargs)
        return result, link.changed_arguments

    def __len__(self):
        return self._mlkit_request("op", "len", ())

    def __iter__(self):
        return self._mlkit_request("op", "iter", ())

    def __next__(self):
        return self._mlkit_request("op", "next", ())

    def __getitem__(self, key):
        return self._mlkit_request("op", "getitem", (key,))

    def __contains__(self, item):
        return self._mlkit_request("op", "contains", (item,))

    def __bool__(self):
        return self._mlkit_request("op", "bool", ())

    def _mlkit_text(self, how: str) -> str:
        try:
            text = self._mlkit_request("op", how, ())
        except Exception:
            text = None
        if type(text) is not str:
            return "<student object>"
        return text if len(text) <= limits.TEXT_CHARS else text[:limits.TEXT_CHARS] + "... [cut]"

    def __repr__(self):
        return self._mlkit_text("repr")

    def __str__(self):
        return self._mlkit_text("str")


RANDOM = randomstate.GlobalRandomTracker()


class StudentProcess:
    """One notebook's student process, and the grader's end of the link to it."""

    def __init__(self, workdir: Path, folder: "launcher.Folder", allow_unsandboxed: bool = False,
                 call_seconds: float = limits.CALL_SECONDS, watch_sorts: bool = False):
        self.call_seconds = call_seconds
        self.mode = mode = launcher.require(allow_unsandboxed)
        self.stopped: str | None = None
        self.sort_recorders: list[list] = []     # lists that mlkit.checks.record_sorts is filling
        self.changed_arguments: tuple = ()       # what the last call changed in place, never written back
        self.printed = 0                         # characters of the student's output shown so far
        self.warned = 0                          # warnings of the student's code passed on so far
        self.test_module = TEST_MODULE           # grader objects defined there may be handed to student code
        self.errstate_sent: dict | None = None
        self.proxies: dict[int, StudentObject] = {}
        self.handed = wire.HandleTable()         # grader objects the student holds handles to
        # The sort watch: what the student process reports on its own sorts, as they happen (watch_sorts).
        self.watch_fd, watch_write = os.pipe() if watch_sorts else (-1, -1)
        self.watch_problem: str | None = None if watch_sorts else "the sort watch was not switched on"
        self._watch_buffer = b""
        request_read, self.request_fd = os.pipe()
        self.reply_fd, reply_write = os.pipe()
        try:
            self.process, self.cleanup = launcher.start(workdir, folder, request_read, reply_write, mode,
                                                       launcher.student_uid(), watch_write)
        finally:
            for fd in (request_read, reply_write, watch_write):
                if fd >= 0:
                    os.close(fd)
        if self.watch_fd >= 0:
            os.set_blocking(self.watch_fd, False)
        try:
            hello = self._read(time.monotonic() + limits.START_SECONDS)
        except StudentProcessStopped as error:
            detail = self._stderr_tail()
            raise StudentProcessStopped(f"the student process did not start: {error}"
                                        + (f" ({detail})" if detail else "")) from None
        if not (type(hello) is tuple and hello[:1] == ("ready",)):
            self.stop("the student process did not start properly")
            raise StudentProcessStopped(self.stopped)

    # -- the wire ---------------------------------------------------------------------------------

    def to_wire(self, obj):
        if type(obj) is StudentObject:
            return wire.Ref(object.__getattribute__(obj, "_mlkit_id"))
        if not may_hand_over(obj, self.test_module):
            raise TypeError(f"a grader {type(obj).__name__} cannot be handed to student code: only functions, "
                            "classes and their instances defined in the test cells can")
        return wire.Handle(self.handed.number(obj))

    def from_wire(self, marker):
        if type(marker) is wire.Handle:
            proxy = self.proxies.get(marker.id)
            if proxy is None:
                proxy = self.proxies[marker.id] = StudentObject(self, marker.id)
            return proxy
        if type(marker) is wire.Ref and marker.id in self.handed.objects:
            return self.handed.get(marker.id)
        raise wire.WireError(f"the student process named an object it was never given ({marker!r})")

    def _send(self, message) -> None:
        self._write(wire.encode(message, self.to_wire))

    def _write(self, payload: bytes) -> None:
        try:
            wire.write_frame(self.request_fd, payload)
        except (BrokenPipeError, OSError) as error:
            self.stop(f"the student process is gone ({self._exit_description() or error})")
            raise StudentProcessStopped(self.stopped) from None

    def _read(self, deadline: float):
        def wait():
            while True:  # the sort watch is read while the reply is awaited, so its pipe never fills up
                remaining = deadline - time.monotonic()
                watched = [self.reply_fd] + ([self.watch_fd] if self.watch_fd >= 0 else [])
                ready = select.select(watched, [], [], remaining)[0] if remaining > 0 else []
                if not ready:
                    raise TimeoutError
                if self.watch_fd >= 0 and self.watch_fd in ready:
                    self._drain_watch()
                if self.reply_fd in ready:
                    return
        try:
            reply = wire.decode(wire.read_frame(self.reply_fd, wait), self.from_wire)
            self._drain_watch()  # everything reported before the reply is in the pipe by now
            return reply
        except TimeoutError:
            self.stop(f"the student's code did not answer within {self.call_seconds:g} s (an endless loop?)")
        except EOFError:
            self.stop(f"the student process died ({self._exit_description()})")
        except wire.WireError as error:
            self.stop(f"the student process sent a malformed reply: {error}")
        raise StudentProcessStopped(self.stopped)

    # -- requests ---------------------------------------------------------------------------------

    def request(self, message):
        """Send one request; serve the student's callbacks until its reply; return the result."""
        if self.stopped:
            raise StudentProcessStopped(f"the student process was stopped earlier: {self.stopped}")
        op, *payload = message
        self._send((op, self._context(), *payload))
        deadline = time.monotonic() + self.call_seconds
        while True:
            reply = self._read(deadline)
            if type(reply) is tuple and reply[:1] == ("callback",) and len(reply) == 5:
                self._serve_callback(*reply[1:])
                continue
            if type(reply) is tuple and reply[:1] == ("done",) and len(reply) == 8:
                RANDOM.put(reply[7])
                return self._finish(message, *reply[1:7])
            self.stop("the student process sent a reply that is not one")
            raise StudentProcessStopped(self.stopped)

    def _context(self) -> tuple:
        """What the student's computation inherits from the grader: NumPy's error state (None: as in the
        previous request) and NumPy's global generator (None: unchanged)."""
        errstate = np.geterr()
        if errstate == self.errstate_sent:
            errstate = None
        else:
            self.errstate_sent = errstate
        return (errstate, RANDOM.take())

    def _finish(self, message, status, value, out, err, noted, mutated):
        for text, stream in ((out, sys.stdout), (err, sys.stderr)):
            if type(text) is str and text:
                self._print(text, stream)
        # The student process caps what it reports itself, but its code can replace that process's reply
        # sender: every bound that matters is applied here, on the grader's side.
        for entry in noted[:limits.WARNINGS_PER_CALL] if type(noted) is list else []:
            if self.warned >= limits.WARNINGS_PER_NOTEBOOK:
                break
            if type(entry) is tuple and len(entry) == 2 and all(type(x) is str for x in entry):
                self.warned += 1
                warnings.warn_explicit(entry[1][:limits.TEXT_CHARS], WARNINGS.get(entry[0][:100], UserWarning),
                                       "<student code>", 0)
        if message[0] == "call":
            self.changed_arguments = _changed_keys(message[2], message[3], mutated)
        if status == "ok":
            return value
        if type(value) is tuple and len(value) == 3 and all(type(x) is str for x in value):
            raise rebuild_exception(*value)
        self.stop("the student process sent a malformed error")
        raise StudentProcessStopped(self.stopped)

    def _print(self, text: str, stream) -> None:
        """Show what the student's code printed, up to limits.OUTPUT_BUDGET characters for the whole notebook."""
        room = limits.OUTPUT_BUDGET - self.printed
        if room > 0:
            stream.write(text[:room])
            self.printed += min(room, len(text))
            if len(text) > room:
                stream.write(f"\n... [the student's code printed more than {limits.OUTPUT_BUDGET} characters; "
                             "the rest is left out]\n")

    def _drain_watch(self) -> None:
        """Read what the sort watch reported: sorts go to the tests recording them, breakers end the watch."""
        if self.watch_fd < 0:
            return
        while True:
            try:
                piece = os.read(self.watch_fd, 1 << 16)
            except BlockingIOError:
                break
            if not piece:  # every writer closed it: the watch cannot report any more
                self._watch_broken("the student's code closed the sort watch's link")
                os.close(self.watch_fd)
                self.watch_fd = -1
                break
            self._watch_buffer += piece
        *lines, self._watch_buffer = self._watch_buffer.split(b"\n")
        if len(self._watch_buffer) > 4096:
            self._watch_buffer = b""
            self._watch_broken("the sort watch's link carried something that is not a report")
        for line in lines:
            kind, _, rest = line.decode("ascii", "replace").partition(" ")
            if kind == "B":
                self._watch_broken(f"the student's code called {rest[:80]}, which can switch off or go around "
                                   "the watch on its sorts")
            elif kind == "S" and self.sort_recorders:
                name, _, dims = rest.partition(" ")
                try:
                    shape = tuple(int(n) for n in dims.split(",") if n)
                except ValueError:
                    continue
                for calls in self.sort_recorders:
                    if len(calls) < 100_000:
                        calls.append((name, shape))

    def _watch_broken(self, reason: str) -> None:
        if self.watch_problem is None:
            self.watch_problem = reason

    def _serve_callback(self, target, method, args, kwargs) -> None:
        """Student code calls a grader object it was handed (a test's function or class, or a public
        method of an instance of a test's class) with data; nothing else of the grader is reachable."""
        watched = [(k, v, v.tobytes()) for k, v in [*enumerate(args if type(args) is tuple else ()),
                                                    *(kwargs.items() if type(kwargs) is dict else ())]
                   if wire.is_data_array(v)]
        try:
            if type(target) is StudentObject or not self.handed.holds(target):
                raise TypeError("only grader objects handed to student code can be called back")
            if type(args) is not tuple or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
                raise TypeError("malformed call arguments")
            if _holds_student_object((args, kwargs)):
                # A grader function is called with data only: a student object among its arguments would
                # answer the grader's own len(), iteration or attribute reads (a len of 10**9, say).
                raise TypeError("a grader object can be called with data only (arrays, numbers, strings, "
                                "lists, tuples and dicts of them), not with objects of the student's code")
            function = callable_part(target, method, self.test_module)
            value = function(*args, **kwargs)
            changed = [(k, v) for k, v, before in watched if v.tobytes() != before]
            answer = ("return", "ok", value, changed)
            payload = wire.encode(answer, self.to_wire)
        except Exception as error:
            payload = wire.encode(("return", "error", (type(error).__name__, str(error)[:4000]), []), self.to_wire)
        self._write(payload)

    # -- cells ------------------------------------------------------------------------------------

    def run_cell(self, source: str, label: str, namespace: dict, exports: frozenset[str]) -> None:
        """Run an answer cell in the student process; bind in `namespace` the names of `exports` it defined.

        `exports` are the names the release's answer cells define (the notebook's API and its helpers):
        nothing else a submission defines reaches the tests, so a student's `len`, `int` or `check`
        never stands in for the builtin or the grader's own name in a test cell.
        """
        result = self.request(("exec", source, label))
        if not (type(result) is dict and type(result.get("names")) is dict):
            self.stop("the student process sent a malformed cell result")
            raise StudentProcessStopped(self.stopped)
        theirs = namespace.setdefault("__mlkit_student_names__", set())
        for name, value in result["names"].items():
            if type(name) is not str or name not in exports or name in _BUILTIN_NAMES:
                continue
            # Names of the grader's own (np, the checking helpers) are never replaced by the student's.
            if name not in namespace or name in theirs:
                namespace[name] = value
                theirs.add(name)
        error = result.get("error")
        if error is not None:
            if type(error) is tuple and len(error) == 3 and all(type(x) is str for x in error):
                raise rebuild_exception(*error)
            self.stop("the student process sent a malformed error")
            raise StudentProcessStopped(self.stopped)

    # -- the end ----------------------------------------------------------------------------------

    def stop(self, reason: str) -> None:
        if self.stopped is None:
            self.stopped = reason
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(timeout=10)
        except Exception:
            pass
        for fd in (self.request_fd, self.reply_fd, self.watch_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.request_fd = self.reply_fd = self.watch_fd = -1
        launcher.release(self.cleanup)
        self.cleanup = []

    def _exit_description(self) -> str:
        try:
            code = self.process.wait(timeout=2)
        except Exception:
            return "still running"
        met = launcher.bound_met(self.cleanup)
        if met:
            return met
        number = -code if code < 0 else code - 128  # bubblewrap exits with 128 + the signal its child died of
        if number in signal.valid_signals():
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
            extra = {"SIGKILL": ": killed, for example at the memory or CPU limit",
                     "SIGXCPU": ": its CPU time limit", "SIGSEGV": ": a crash"}.get(name, "")
            return f"signal {name}{extra}"
        return f"exit code {code}"

    def _stderr_tail(self) -> str:
        if self.process.stderr is None:
            return ""
        try:
            os.set_blocking(self.process.stderr.fileno(), False)
            text = (self.process.stderr.read() or b"").decode(errors="replace")
        except Exception:
            return ""
        lines = [line for line in text.strip().splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""


# -- what of the grader student code may hold ----------------------------------------------------------

TEST_MODULE = "__main__"        # the grading kernel's user namespace: where test cells define things


def may_hand_over(obj, tests: str = TEST_MODULE) -> bool:
    """Whether a grader object may reach student code as a handle: a function or class a test cell
    defined, an instance of such a class, or a method bound to one.  Never a module, a builtin, a
    library's function or type (NumPy's included), whose attributes would reach the grading machine."""
    kind = type(obj)
    if kind is types.FunctionType:
        return obj.__module__ == tests
    if kind is types.MethodType:
        return type(obj.__func__) is types.FunctionType and obj.__func__.__module__ == tests \
            and may_hand_over(obj.__self__, tests)
    if isinstance(obj, type):
        return kind is type and obj.__module__ == tests
    return type(kind) is type and kind.__module__ == tests


def callable_part(target, method, tests: str = TEST_MODULE):
    """What a callback may call: the handed-over function or class itself (`method` None), or a public
    method that an instance's own test-defined class defines as a plain function."""
    if method is None:
        if type(target) is types.FunctionType or isinstance(target, type) or type(target) is types.MethodType:
            return target
        raise TypeError("this grader object cannot be called")
    if type(method) is not str or not method.isidentifier() or method.startswith("_") \
            or isinstance(target, type) or type(target) in (types.FunctionType, types.MethodType):
        raise AttributeError(f"a grader object has no accessible attribute {method!r}")
    for klass in type(target).__mro__:
        if klass is object:
            break
        found = klass.__dict__.get(method)
        if found is not None:
            if type(found) is types.FunctionType and klass.__module__ == tests:
                return types.MethodType(found, target)
            break
    raise AttributeError(f"a grader object has no accessible method {method!r}")


_BUILTIN_NAMES = frozenset(vars(builtins))


def _holds_student_object(value) -> bool:
    """Whether decoded data holds a student object anywhere (the decoder bounds its size and depth)."""
    kind = type(value)
    if kind is StudentObject:
        return True
    if kind in (list, tuple):
        return any(_holds_student_object(item) for item in value)
    if kind is dict:
        return any(_holds_student_object(item) for item in value.values())
    return False


def _changed_keys(args, kwargs, changed) -> tuple:
    """Which array arguments of a call the student's code changed in place (positions and keyword names).

    The caller's arrays are never written to: a test keeps its inputs to compute references from.
    `mlkit.checks.call_watching_arguments` reads this to tell the test what changed."""
    if type(changed) is not list:
        return ()
    keys = []
    for entry in changed:
        if type(entry) is tuple and len(entry) == 2:
            key = entry[0]
            if (type(key) is int and 0 <= key < len(args)) or (type(key) is str and key in kwargs):
                keys.append(key)
    return tuple(keys)


# -- what the grading kernel calls -------------------------------------------------------------------

_PROCESS: StudentProcess | None = None


def student_process(settings: limits.KernelSettings) -> StudentProcess:
    """This kernel's student process, started on first use for the notebook in the kernel's folder."""
    global _PROCESS
    if _PROCESS is None:
        _PROCESS = StudentProcess(Path.cwd().resolve(), launcher.Folder.from_settings(settings),
                                  settings.allow_unsandboxed, settings.call_seconds, settings.watch_sorts)
    return _PROCESS


def _watched_sorts():
    """This kernel's student process, which `mlkit.checks.record_sorts` asks for the student's sorts."""
    return _PROCESS


checks.watch_sorts_elsewhere(_watched_sorts)


def run_student_cell(encoded: str, label: str, also_here: bool, settings: dict) -> None:
    """Run one cell's source (base64 of UTF-8) in the student process; with `also_here`, in the kernel too.

    `also_here` is for the release's read-only set-up cells: both sides need `np`.  `settings`:
    `mlkit.grading.limits.KernelSettings.as_call()`, from `mlkit.grading.plugins.execute.ResilientExecute`:
    the sandbox, the time per request, the names that may reach the tests (`exports`) and the release folder
    the student's files come from.
    """
    source = base64.b64decode(encoded).decode("utf-8")
    namespace = _user_namespace()
    if also_here:
        exec(compile(source, f"<{label}>", "exec"), namespace)
    typed = limits.KernelSettings.from_call(settings)
    student_process(typed).run_cell(source, label, namespace, frozenset(typed.exports))


def _user_namespace() -> dict:
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else sys.modules["__main__"].__dict__
