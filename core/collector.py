"""Pausing Python's cyclic garbage collector around allocation-heavy work that creates no reference cycles.

A bulk request allocates hundreds of thousands of objects (the parsed JSON, then the columns built from it),
all acyclic and all freed by reference counting when the request ends. With the collector on, those
allocations trigger many young-generation collections and, every few requests, a full collection that
traverses the whole heap: a stall inside ``orjson.loads`` (figures in bench/README.md). Pausing the collector for the request removes the stalls; nothing is leaked, since
the collector runs again afterwards and the objects were never cyclic garbage to begin with.

The collector is process-wide, so overlapping pauses (threads) are counted: it is switched back on when the
last one ends, and only if it was on when the first one began.
"""

import gc
import threading
from contextlib import ContextDecorator

_lock = threading.Lock()
_depth = 0
_was_enabled = False


class gc_paused(ContextDecorator):  # lower case: used like contextlib's own context managers
    """``with gc_paused():`` or ``@gc_paused()``: no cyclic collection inside."""

    def __enter__(self):
        global _depth, _was_enabled
        with _lock:
            if _depth == 0:
                _was_enabled = gc.isenabled()
                gc.disable()
            _depth += 1
        return self

    def __exit__(self, *exc):
        global _depth
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
        return False
