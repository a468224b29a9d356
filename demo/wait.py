"""Bounded polling: asynchronous things (deliveries, command results) are waited for, never slept on."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(probe: Callable[[], T], *, timeout: float, interval: float = 0.1) -> T | None:
    """Call `probe` until it returns something truthy or `timeout` seconds have passed.

    Returns the truthy value, or None on timeout. The interval grows slowly (to at most 0.5 s) so a
    fast answer is seen at once and a slow one does not cost a busy loop.
    """
    deadline = time.monotonic() + timeout
    pause = interval
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 1.5, 0.5)
