"""Per-partner rate limits: a fixed-window counter in the cache, one increment per request.

A burst from one partner answers 429 with Retry-After to that partner only. When the cache is down
the limiter lets requests through (logging it) rather than failing them: throttling protects the hub,
it must not become the outage.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from clearinghouse.cache import SharedClientCacheClient

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[0].lower()]


@dataclass(frozen=True)
class Window:
    """The fixed window a request counts in: its counter key, the key's lifetime, the limit."""

    key: str
    ttl: int
    limit: int
    ends_at: float


def window_of(*, scope: str, partner_id: int, now: float | None = None) -> Window:
    limit, period = parse_rate(settings.I3_THROTTLE_RATES.get(scope, settings.I3_THROTTLE_RATES["default"]))
    now = time.time() if now is None else now
    window = int(now // period)
    return Window(f"i3:throttle:{scope}:{partner_id}:{window}", period + 1, limit, (window + 1) * period)


def scope_of(view: Any) -> str:
    return getattr(view, "throttle_scope", None) or PartnerRateThrottle.default_scope


def limits(view: Any) -> bool:
    """Whether the view counts requests with this limiter."""
    return any(
        isinstance(c, type) and issubclass(c, PartnerRateThrottle)
        for c in getattr(view, "throttle_classes", ())
    )


def count_in_window(window: Window) -> int:
    """Increment a window's counter: one round trip on Redis (INCR and EXPIRE NX in a pipeline)."""
    if isinstance(cache._cache if hasattr(cache, "_cache") else None, SharedClientCacheClient):
        full_key = cache.make_and_validate_key(window.key)
        pipe = cache._cache.get_client(full_key, write=True).pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, window.ttl, nx=True)
        count, _ = pipe.execute()
        return int(count)
    try:
        cache.add(window.key, 0, timeout=window.ttl)
        return int(cache.incr(window.key))
    except ValueError:  # the key expired between add and incr
        return 1


# Set by the authentication when it counted the request in its round trip (clearinghouse.api.roundtrip).
COUNTED = "_i3_throttle_counted"


class PartnerRateThrottle(BaseThrottle):
    """Limits requests per partner and scope; a view picks its scope with `throttle_scope`."""

    default_scope = "default"

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Any, view: Any) -> bool:
        partner_id = getattr(request.user, "partner_id", None)
        if partner_id is None:
            return True
        counted: tuple[Window, int] | None = getattr(request, COUNTED, None)
        if counted is not None:
            window, count = counted
        else:
            window = window_of(scope=scope_of(view), partner_id=partner_id)
            try:
                count = count_in_window(window)
            except Exception:
                logger.warning("throttle cache unavailable; not limiting")
                return True
        if count > window.limit:
            self._wait = max(0.0, window.ends_at - time.time())
            return False
        return True

    def wait(self) -> float | None:
        return self._wait
