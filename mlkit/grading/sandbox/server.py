"""The student process: runs a submission's answer cells and serves the grader's requests over a pipe.

This file runs *inside* the grading sandbox (`mlkit.grading.sandbox.launcher`) as a
script, with Python's standard library, NumPy and `wire.py`, `watch.py`, `randomstate.py`, `limits.py` beside it and
nothing else importable: not the kit, not nbgrader, not the tests.

    python -I -S server.py REQUEST_FD REPLY_FD WATCH_FD [SITE]

SITE is the folder holding NumPy (default: `site` beside this file).  WATCH_FD,
if not -1, is where the sort watch (`watch_sorts`) reports, as it happens.

The grader (`mlkit.grading.kernel.boundary.StudentProcess`) sends requests; each is
answered by exactly one `done` reply, possibly after `callback` requests of
ours that the grader answers first (a test's `metric_fn`, `loss_fn`, ...).

    exec     source, label            run an answer cell in the notebook namespace
    call     target, args, kwargs     call a student object (a class, function, method)
    getattr  target, name             read an attribute
    setattr  target, name, value      set an attribute (the tests replace a method)
    op       target, name, args       len, iter, next, getitem, contains, bool, repr, str
    get      name                     a name of the notebook namespace

Every request carries the grader's floating-point error state, applied to
the student's computation, and the state of NumPy's global random generator
(so code that wrongly draws from `np.random` behaves as it would in one
process); what the computation printed and warned is sent back with the
result, and so are the generator's new state and the new contents of array
arguments that it changed in place.

For a notebook whose tests look at sorts (`mlkit.checks.record_sorts`), the
sort watch is switched on before any student code runs and stays on: every
full sort, and every call that could switch the watch off or go around it
(`watch.WATCH_BREAKERS`), is written to WATCH_FD at the moment it is made, so
nothing the student's code does afterwards can take it back.
"""

import builtins
import io
import os
import sys
import traceback
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, sys.argv[4] if len(sys.argv) > 4 else os.path.join(HERE, "site")]

import numpy as np  # noqa: E402

import limits  # noqa: E402  (mlkit/grading/limits.py, bound beside this file)
import randomstate  # noqa: E402
import watch  # noqa: E402
import wire  # noqa: E402

RANDOM = randomstate.GlobalRandomTracker()
RANDOM.dirty = False  # the grader's state arrives with the first request
# What is sent back per request is bounded by limits.MAX_OUTPUT, limits.MAX_WARNINGS and limits.MAX_MESSAGE.


class _Capped(io.TextIOBase):
    """A text stream keeping the first limits.MAX_OUTPUT characters."""

    def __init__(self):
        self.parts, self.size, self.dropped = [], 0, False

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        room = limits.MAX_OUTPUT - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(room, len(text))
        if len(text) > room:
            self.dropped = True
        return len(text)

    def value(self) -> str:
        return "".join(self.parts) + ("\n... [output truncated]\n" if self.dropped else "")


class TrustedObject:
    """A grader object handed to student code: callable, with its public methods, and nothing else."""

    __slots__ = ("_mlkit_id",)

    def __init__(self, number):
        object.__setattr__(self, "_mlkit_id", number)

    def __call__(self, *args, **kwargs):
        return SERVER.callback(object.__getattribute__(self, "_mlkit_id"), None, args, kwargs)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(f"a grader object has no accessible attribute {name!r}")
        number = object.__getattribute__(self, "_mlkit_id")
        return lambda *args, **kwargs: SERVER.callback(number, name, args, kwargs)

    def __setattr__(self, name, value):
        raise AttributeError("a grader object cannot be changed")

    def __repr__(self):
        return "<grader object>"


class Server:
    def __init__(self, request_fd: int, reply_fd: int):
        self.request_fd, self.reply_fd = request_fd, reply_fd
        self.namespace = {"__name__": "__main__", "__builtins__": builtins}
        self.handed = wire.HandleTable()           # our objects the grader holds handles to
        self.trusted: dict[int, TrustedObject] = {}
        self.errstate = np.geterr()

    # -- the wire ---------------------------------------------------------------------------------

    def to_wire(self, obj):
        if type(obj) is TrustedObject:
            return wire.Ref(object.__getattribute__(obj, "_mlkit_id"))
        return wire.Handle(self.handed.number(obj))

    def from_wire(self, marker):
        if type(marker) is wire.Ref:
            if marker.id not in self.handed.objects:
                raise wire.WireError(f"no student object {marker.id}")
            return self.handed.get(marker.id)
        if type(marker) is wire.Handle:
            return self.trusted.setdefault(marker.id, TrustedObject(marker.id))
        raise wire.WireError(f"unexpected {marker!r}")

    def send(self, message) -> None:
        try:
            payload = wire.encode(message, self.to_wire)
        except Exception as error:  # too large, or an unencodable result: say so instead
            payload = wire.encode(("done", "error", ("RuntimeError", f"the result could not be sent: {error}", ""),
                                   "", "", [], [], RANDOM.take()), self.to_wire)
        wire.write_frame(self.reply_fd, payload)

    def receive(self):
        return wire.decode(wire.read_frame(self.request_fd), self.from_wire)

    # -- serving ----------------------------------------------------------------------------------

    def serve(self) -> None:
        self.send(("ready", np.__version__))
        while True:
            try:
                message = self.receive()
            except EOFError:
                return
            self.send(self.handle(message))

    def handle(self, message):
        op, (errstate, random_state), *payload = message
        if errstate is None:  # as in the previous request
            errstate = self.errstate
        self.errstate = errstate
        RANDOM.put(random_state)
        out, err = _Capped(), _Capped()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        mutated: list = []
        try:
            with warnings.catch_warnings(record=True) as caught, np.errstate(**errstate):
                warnings.simplefilter("always")
                try:
                    value = getattr(self, "op_" + op)(*payload, mutated=mutated)
                    status = "ok"
                except BaseException as error:  # noqa: B036  (student code may raise anything)
                    value, status = _describe(error), "error"
        finally:
            sys.stdout, sys.stderr = saved
        noted = [(w.category.__name__, str(w.message)[:limits.MAX_MESSAGE]) for w in caught[:limits.MAX_WARNINGS]]
        return ("done", status, value, out.value(), err.value(), noted, mutated, RANDOM.take())

    def callback(self, number, method, args, kwargs):
        """Call a grader object from student code; the grader may call us back meanwhile."""
        self.send(("callback", wire.Ref(number), method, args, kwargs))
        while True:
            message = self.receive()
            if message[0] == "return":
                _, status, value, changed = message
                _write_back(args, kwargs, changed)
                if status == "ok":
                    return value
                name, text = value
                raise _rebuild(name, text)
            self.send(self.handle(message))

    # -- operations -------------------------------------------------------------------------------

    def op_exec(self, source, label, mutated):
        """Run a cell; returns the names it (re)bound, and its error if it raised."""
        before = dict(self.namespace)
        error = None
        try:
            exec(compile(source, f"<{label}>", "exec"), self.namespace)
        except BaseException as raised:  # noqa: B036
            error = _describe(raised)
        exports = {name: value for name, value in self.namespace.items()
                   if not name.startswith("__") and type(value) is not type(sys)
                   and before.get(name, _MISSING) is not value}
        return {"names": exports, "error": error}

    def op_get(self, name, mutated):
        return self.namespace[name]

    def op_call(self, target, args, kwargs, mutated):
        watched = _watch(args, kwargs)
        try:
            return target(*args, **kwargs)
        finally:
            mutated.extend(_changes(watched))

    def op_getattr(self, target, name, mutated):
        return getattr(target, name)

    def op_setattr(self, target, name, value, mutated):
        setattr(target, name, value)

    def op_op(self, target, name, args, mutated):
        if name == "len":
            return len(target)
        if name == "iter":
            return iter(target)
        if name == "next":
            return next(target)
        if name == "getitem":
            return target[args[0]]
        if name == "contains":
            return args[0] in target
        if name == "bool":
            return bool(target)
        if name == "repr":
            return repr(target)[:limits.MAX_MESSAGE]
        if name == "str":
            return str(target)[:limits.MAX_MESSAGE]
        raise TypeError(f"unknown operation {name!r}")


_MISSING = object()


def _watch(args, kwargs):
    """Array arguments and a copy of their bytes, to see what the call changed in place."""
    watched = []
    for key, value in [*enumerate(args), *kwargs.items()]:
        if wire.is_data_array(value):
            watched.append((key, value, value.tobytes()))
    return watched


def _changes(watched):
    return [(key, value) for key, value, before in watched if value.tobytes() != before]


def _write_back(args, kwargs, changed) -> None:
    for key, value in changed or []:
        target = args[key] if type(key) is int and key < len(args) else kwargs.get(key)
        if wire.is_data_array(target) and wire.is_data_array(value) and target.shape == value.shape \
                and target.flags.writeable:
            target[...] = value


def _describe(error: BaseException):
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith("<")]
    where = "".join(traceback.format_list(frames[-5:]))
    return (type(error).__name__[:100], str(error)[:limits.MAX_MESSAGE], where[:limits.MAX_MESSAGE])


def _rebuild(name: str, text: str) -> BaseException:
    kind = getattr(builtins, name, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(text)
        except Exception:
            pass
    return RuntimeError(f"{name}: {text}")


def watch_sorts(fd: int) -> None:
    """Report every full sort and every watch breaker this process makes to `fd`, from now on.

    Everything the watch uses is bound here, before any student code runs: the functions it calls,
    the modules it tells breakers by (by identity, not by name), NumPy's own shape getter.  It is
    reachable only through the interpreter's profile slot, and reading that is itself a breaker,
    so replacing names, builtins or attributes afterwards changes nothing.  `sorted` becomes a
    stand-in that sorts with `list.sort`, which the watch sees; the builtin itself is then a breaker.
    A report that cannot reach the grader's pipe (closed, or another file put at its number) ends
    the process: the tests then fail, never pass unwatched.
    A line is `S name dim,dim,...` or `B module.name`.
    """
    import signal

    write, fstat, kill, pid, to_bytes = os.write, os.fstat, os.kill, os.getpid(), str.encode
    is_instance, text, join = isinstance, str, ",".join

    def name_of(function, get=getattr):   # builtins bound now: the student may replace them later
        return get(function, "__name__", None)

    def owner_of(function, get=getattr):
        return get(function, "__self__", None)

    shape_of, list_length, ndarray = np.ndarray.shape.__get__, list.__len__, np.ndarray
    link = fstat(fd)
    link_id = (link.st_dev, link.st_ino)
    sorting = watch.SORTING
    breakers: dict[int, tuple[str, frozenset, object]] = {}   # by id; the module is kept, so its id stays its own
    for module_name, names in watch.WATCH_BREAKERS.items():
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        breakers[id(module)] = (module_name, names, module)
    breaking_codes = set()
    try:
        import ctypes

        for dotted in watch.WATCH_BREAKING_CTYPES:
            found = ctypes
            for part in dotted.split("."):
                found = getattr(found, part)
            breaking_codes.add(found.__code__)
    except (ImportError, AttributeError):
        pass
    original_sorted = builtins.sorted

    def report(line: str) -> None:
        try:
            now = fstat(fd)
            if (now.st_dev, now.st_ino) != link_id:
                raise OSError("another file at the watch's descriptor")
            write(fd, to_bytes(line[:3000] + "\n"))
        except OSError:
            kill(pid, signal.SIGKILL)

    def profile(frame, event, arg):
        if event == "call":
            if frame.f_code in breaking_codes:
                report("B ctypes." + frame.f_code.co_name)
            return
        if event != "c_call":
            return
        name, owner = name_of(arg), owner_of(arg)
        if name in sorting:
            if is_instance(owner, ndarray):
                report(f"S {name} " + join([text(n) for n in shape_of(owner)]))
            elif is_instance(owner, list):
                report(f"S {name} {list_length(owner)}")
            return
        if arg is original_sorted:
            report("B builtins.sorted")
        else:
            known = breakers.get(id(owner))
            if known is not None and known[2] is owner and name in known[1]:
                report(f"B {known[0]}.{name}")

    def sorted(iterable, /, *, key=None, reverse=False, make_list=list):  # noqa: A001  (stands in for the builtin)
        items = make_list(iterable)
        items.sort(key=key, reverse=reverse)  # seen by the watch as a list sort of len(items)
        return items

    builtins.sorted = sorted
    sys.setprofile(profile)


SERVER: Server


def forbid_new_processes() -> None:
    """Where no control group bounds the sandbox's process tree, no process in it may start another.

    RLIMIT_NPROC counts the processes and threads of a user ID; in the sandbox's own user namespace (or the
    fresh user ID of root mode) those are this sandbox's alone, so the limit is the number it has now."""
    if os.environ.pop("MLKIT_NO_FORK", "") != "1":
        return
    import resource

    uid, mine = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                mine += os.stat(f"/proc/{entry}").st_uid == uid
            except OSError:
                pass
    resource.setrlimit(resource.RLIMIT_NPROC, (max(mine, 1), max(mine, 1)))


def main(argv) -> int:
    global SERVER
    request_fd, reply_fd, watch_fd = int(argv[1]), int(argv[2]), int(argv[3])
    forbid_new_processes()
    # What the student's code prints goes back with each reply; nothing may reach the grader's
    # streams directly.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    SERVER = Server(request_fd, reply_fd)
    if watch_fd >= 0:
        watch_sorts(watch_fd)
    SERVER.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
