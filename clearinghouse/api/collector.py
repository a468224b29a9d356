"""Pausing Python's cyclic garbage collector while a bulk request builds its batch.

A batch of 500 SDRs holds some 100,000 container objects alive for the whole request (the parsed
JSON, the checked records, the rows, the answer) and allocates many more. With the collector on,
every 700 allocations start a young-generation pass that walks the survivors again, and every
tenth a pass over the older ones: some 40 passes and a quarter of a full one per request, about
7% of the request's CPU, to find next to no garbage (nearly everything is freed by reference
counting when the request ends). Paused, the collector runs again as soon as the last bulk request
in the process resumes it, and then finds whatever cycles the batch left.

The collector is per process and a gunicorn worker serves several threads: the pause is counted,
so it ends when the last concurrent holder leaves, and the collector's state from before the first
holder (on, or off for some other reason) is what it returns to.
"""

from __future__ import annotations

import functools
import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# While bulk requests overlap without a gap the pause never ends on its own; the cycles of every
# request served meanwhile (DRF's request and view refer to each other) would pile up. A holder
# leaving a pause older than this collects the young generations itself.
LONGEST_PAUSE_SECONDS = 2.0

_lock = threading.Lock()
_holders = 0
_was_enabled = False
_collected_at = 0.0


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off (reference counting goes on)."""
    global _holders, _was_enabled, _collected_at
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            _collected_at = time.monotonic()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        collect = False
        with _lock:
            _holders -= 1
            if _holders == 0:
                if _was_enabled:
                    gc.enable()
            elif _was_enabled and time.monotonic() - _collected_at >= LONGEST_PAUSE_SECONDS:
                _collected_at = time.monotonic()
                collect = True
        if collect:
            gc.collect(1)


def pauses_collector(func: F) -> F:
    """Decorate a view method (or any function) to run under collector_paused()."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with collector_paused():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
