"""The sort watch's policy: which calls sort, and which calls would let student code go around the watch.

Read by the server inside the sandbox (`mlkit.grading.sandbox.server.watch_sorts`, which finds this file beside
it), where the watch runs on the student's own process; data only.
"""

from __future__ import annotations

# Methods of ndarray and list that sort in full (and the builtin `sorted`, watched by a stand-in).  np.lexsort
# is a C-level dispatcher whose call no profile sees.
SORTING = frozenset({"sort", "argsort"})

# Calls that would let code go around a watch on its own process, by module: switching the watch
# off, reading it, threads and processes it does not see, the descriptor it reports on, and walking
# the heap or loading libraries to reach it.
WATCH_BREAKERS = {
    "sys": frozenset({"setprofile", "settrace", "getprofile", "gettrace"}),
    "_thread": frozenset({"start_new_thread", "start_joinable_thread", "_start_new_thread"}),
    "posix": frozenset({"fork", "forkpty", "register_at_fork", "posix_spawn", "posix_spawnp", "system", "execv",
                        "execve", "close", "closerange", "dup", "dup2", "set_blocking", "set_inheritable"}),
    "_posixsubprocess": frozenset({"fork_exec"}),
    "gc": frozenset({"get_objects", "get_referrers", "get_referents"}),
    "_ctypes": frozenset({"dlopen", "dlsym", "call_function", "call_cdeclfunction", "in_dll", "from_address"}),
    "fcntl": frozenset({"fcntl", "ioctl", "flock", "lockf"}),
}
# Python-level entry points of ctypes that reach foreign functions or raw addresses (seen as calls).
WATCH_BREAKING_CTYPES = ("CDLL.__init__", "CDLL.__getattr__", "CDLL.__getitem__", "CFUNCTYPE", "PYFUNCTYPE",
                         "cast", "string_at", "wstring_at")
