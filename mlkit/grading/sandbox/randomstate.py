"""NumPy's global generator, kept the same on both sides of the grading boundary.

Runs on both sides: in the trusted kernel (`mlkit.grading.kernel.boundary`) and inside the sandbox (the server
finds this file beside it); it trusts no state it is handed beyond its shape (an MT19937 state of 624 words).
"""

from __future__ import annotations

import numpy as np


class GlobalRandomTracker:
    """Notices use of NumPy's global generator (`np.random.seed`, `np.random.choice`, ...) in this process.

    Both sides keep one, so the generator's state crosses the link only after
    one of them used it, not with every request (reading and writing it costs
    more than the rest of a request).
    """

    def __init__(self):
        self.dirty = True
        self._get, self._set = np.random.get_state, np.random.set_state
        # The legacy module-level functions (seed, set_state, random, choice, ...), not the classes.
        for name in np.random.mtrand.__all__:
            value = getattr(np.random, name, None)
            if callable(value) and not isinstance(value, type) and name != "get_state":
                setattr(np.random, name, self._wrap(value))

    def _wrap(self, function):
        def tracked(*args, **kwargs):
            self.dirty = True
            return function(*args, **kwargs)
        tracked.__name__ = tracked.__qualname__ = function.__name__
        tracked.__doc__ = function.__doc__
        return tracked

    def take(self):
        """The generator's state if it was used since the last call, else None."""
        if not self.dirty:
            return None
        self.dirty = False
        return self._get()

    def put(self, state) -> None:
        """Adopt the other side's state (None: it did not change there)."""
        if state is None:
            return
        if type(state) is tuple and len(state) == 5 and state[0] == "MT19937" and type(state[1]) is np.ndarray \
                and state[1].shape == (624,) and state[1].dtype == np.uint32:
            try:
                self._set(state)
            except (TypeError, ValueError):
                pass
