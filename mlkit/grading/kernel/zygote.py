"""Grading kernels forked from a warm parent: a fresh trusted kernel per notebook without the start-up cost.

Starting an IPython kernel costs most of a second, nearly all of it imports.
`mlkit grade` therefore gives each worker one *zygote*: a process started
once (`python -I`, like the `mlkit-grading` kernel) that imports ipykernel,
IPython, NumPy, the checking library and the grading boundary, and then
waits.  For every notebook, Jupyter starts the `mlkit-forked` kernelspec,
whose process (`mlkit/grading/kernel/spawn.py CONNECTION_FILE`) asks the
zygote over a Unix socket to fork; the child moves to the notebook's folder
and becomes the trusted grading kernel.  The child has never run a
notebook before, so every notebook still gets a fresh kernel, and it starts
its own sandboxed student process (`mlkit.grading.kernel.boundary`) as any
grading kernel does.  No student code ever runs in the zygote or its
children.

The spawn process stands in for the kernel towards Jupyter: it exits with
the kernel, and if Jupyter kills it, the zygote sees the socket close and
kills the kernel.  The zygote also kills a kernel after the wall-clock limit.
"""

from __future__ import annotations

import importlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlkit.grading.kernel import spawn

KERNEL_NAME = "mlkit-forked"
SOCKET_ENV = spawn.SOCKET_ENV


WALL_CLOCK_SECONDS = 300  # one kernel, one notebook
KERNEL_FIRST_USE_MODULES = (
    "ipykernel.debugger", "ipykernel.zmqshell", "ipykernel.iostream", "ipykernel.heartbeat",
    "IPython.core.debugger", "IPython.core.completerlib", "IPython.core.oinspect",
    "IPython.extensions.storemagic", "tornado.platform.asyncio", "tornado.queues", "tornado.locks",
    "psutil", "sqlite3", "pdb", "http.server",
)


def install() -> Path:
    """The forked kernel's kernelspec folder, which comes with the kit (`mlkit.grading.kernel.spec.SPECS`): its
    program is spawn.py beside this file.  Nothing is written."""
    from mlkit.grading.kernel import spec as kernel_spec

    return kernel_spec.SPECS / KERNEL_NAME


# -- the zygote ---------------------------------------------------------------------------------------


def _become_kernel(connection_file: str, env: dict[str, str], cwd: str) -> None:
    os.environ.update(env)
    os.chdir(cwd)
    from ipykernel.kernelapp import IPKernelApp

    from mlkit.grading.kernel import spec as kernel_spec

    app = IPKernelApp.instance()
    app.initialize(["-f", connection_file, "--HistoryManager.hist_file=:memory:", *kernel_spec.KERNEL_OPTIONS])
    # IPython formats every error twice: once for the cell's output, once more for its own history
    # (for %tb), which nothing reads in a grading kernel; the second is most of a failed test's cost.
    app.shell._format_exception_for_storage = _error_for_history
    app.start()


def _error_for_history(exception, filename=None, running_compiled_code=False) -> dict:
    return {"ename": type(exception).__name__, "evalue": str(exception), "traceback": []}


def _warm_up_tracebacks() -> None:
    """Format one traceback as the kernel will: the syntax highlighter compiles its rules on first use."""
    from IPython.core import ultratb

    from mlkit.grading.kernel import spec as kernel_spec

    try:
        raise AssertionError("a traceback formatted once in the zygote")
    except AssertionError:
        formatter = ultratb.AutoFormattedTB(mode=kernel_spec.TRACEBACK_MODE, theme_name="neutral")
        formatter.structured_traceback(*sys.exc_info())


def serve(socket_path: str, wall_clock: float) -> None:
    # The imports a kernel needs, done once; forked children inherit them.
    import numpy  # noqa: F401
    import IPython  # noqa: F401
    import ipykernel.ipkernel  # noqa: F401
    import ipykernel.kernelapp  # noqa: F401
    import mlkit.checks  # noqa: F401
    from mlkit.grading.kernel import boundary  # noqa: F401
    from mlkit.grading.sandbox import launcher  # noqa: F401
    # What IPKernelApp.initialize imports on first use (its debugger alone is most of it).
    for name in KERNEL_FIRST_USE_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # an optional part missing only means the kernel imports less
            pass

    _warm_up_tracebacks()
    launcher.detect()  # probed once; every kernel forked from here knows the answer

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(16)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    # A child's exit wakes the loop at once (SIGCHLD through a pipe), so the loop can sleep otherwise.
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector.register(wake_read, selectors.EVENT_READ)
    parent = os.getppid()
    children: dict[int, tuple[socket.socket, float]] = {}  # pid -> (its spawn connection, deadline)
    while os.getppid() == parent:  # the grading worker (through bwrap) is still there
        for key, _ in selector.select(timeout=1.0):
            if key.fileobj == wake_read:
                while True:
                    try:
                        if not os.read(wake_read, 512):
                            break
                    except BlockingIOError:
                        break
            elif key.fileobj is listener:
                connection, _ = listener.accept()
                request = json.loads(connection.makefile().readline())
                pid = os.fork()
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    selector.close()
                    listener.close()
                    os.close(wake_read)
                    os.close(wake_write)
                    for other, _ in children.values():
                        other.close()
                    connection.close()
                    try:
                        _become_kernel(request["connection_file"], request["env"], request["cwd"])
                    finally:
                        os._exit(0)
                connection.sendall(f"{pid}\n".encode())
                children[pid] = (connection, time.monotonic() + wall_clock)
                selector.register(connection, selectors.EVENT_READ, data=pid)
            else:  # the spawn process went away (Jupyter killed it): end its kernel
                selector.unregister(key.fileobj)
                _kill(key.data)
        now = time.monotonic()
        for pid, (connection, deadline) in list(children.items()):
            if now > deadline:
                _kill(pid)
            try:
                finished, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                finished, status = pid, 0
            if finished:
                try:
                    selector.unregister(connection)
                except (KeyError, ValueError):
                    pass
                try:
                    connection.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                except OSError:
                    pass
                connection.close()
                del children[pid]
    for pid in children:
        _kill(pid)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- the worker's side ----------------------------------------------------------------------------


class Zygote:
    """One zygote per grading worker; kernels find it through the SOCKET_ENV variable."""

    def __init__(self, wait: bool = True):
        self.folder = Path(tempfile.mkdtemp(prefix="mlkit-zygote-"))  # private (0700): the socket lives here
        self.socket_path = self.folder / "zygote.sock"
        argv = [sys.executable, "-I", "-m", "mlkit.grading.kernel.zygote", "serve", str(self.socket_path), str(WALL_CLOCK_SECONDS)]
        self.process = subprocess.Popen(argv, cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait:
            self.wait()

    def wait(self, seconds: float = 60) -> None:
        """Until the zygote serves (its imports done); then kernels started from here are forked by it."""
        deadline = time.monotonic() + seconds
        while not self.socket_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the kernel zygote did not start")
            time.sleep(0.02)
        os.environ[SOCKET_ENV] = str(self.socket_path)

    def close(self) -> None:
        self.process.kill()
        subprocess.run(["pkill", "-9", "-f", f"mlkit.grading.kernel.zygote serve {self.socket_path}"], check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"] and len(argv) == 3:
        serve(argv[1], float(argv[2]))
        return 0
    if argv[:1] == ["install"]:
        print(install())
        return 0
    print("usage: python -m mlkit.grading.kernel.zygote install | serve SOCKET SECONDS", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
