"""Jupyter's process for a forked grading kernel (the `mlkit-forked` kernelspec); see `mlkit.grading.kernel.zygote`.

Run as a script, `python -I -S spawn.py CONNECTION_FILE`, once per notebook:
it asks the worker's zygote (socket path in MLKIT_ZYGOTE_SOCKET) to fork a
kernel, then lives and dies with that kernel.  It imports only a few
standard-library modules, because its start-up is paid for every notebook.
"""

import json
import os
import signal
import socket
import sys

SOCKET_ENV = "MLKIT_ZYGOTE_SOCKET"
FORWARDED_ENV = ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING")


def spawn(connection_file: str) -> int:
    # Jupyter signals the kernel's process group at shutdown; this stand-in only waits for the real kernel,
    # which Jupyter interrupts with a message (the kernelspec's interrupt_mode).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(os.environ[SOCKET_ENV])
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    request = {"connection_file": os.path.abspath(connection_file), "env": env, "cwd": os.getcwd()}
    client.sendall((json.dumps(request) + "\n").encode())
    replies = client.makefile()
    replies.readline()  # the kernel's pid
    last = replies.readline()  # "exit N" when the kernel ends; "" if the zygote went away
    return int(last.split()[1]) if last.startswith("exit") else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -I -S spawn.py CONNECTION_FILE", file=sys.stderr)
        sys.exit(2)
    sys.exit(spawn(sys.argv[1]))
