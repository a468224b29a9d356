"""Per-partner rate limits: a fixed-window counter in the cache, one increment per request.

A burst from one partner answers 429 with Retry-After to that partner only. When the cache is down
the limiter lets requests through (logging it) rather than failing them: throttling protects the hub,
it must not become the outage.
"""

from __future__ import annotations

import logging
import time
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


def _count(key: str, ttl: int) -> int:
    """Increment a window's counter: one round trip on Redis (INCR and EXPIRE NX in a pipeline)."""
    if isinstance(cache._cache if hasattr(cache, "_cache") else None, SharedClientCacheClient):
        full_key = cache.make_and_validate_key(key)
        pipe = cache._cache.get_client(full_key, write=True).pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, ttl, nx=True)
        count, _ = pipe.execute()
        return int(count)
    try:
        cache.add(key, 0, timeout=ttl)
        return int(cache.incr(key))
    except ValueError:  # the key expired between add and incr
        return 1


class PartnerRateThrottle(BaseThrottle):
    """Limits requests per partner and scope; a view picks its scope with `throttle_scope`."""

    default_scope = "default"

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Any, view: Any) -> bool:
        partner_id = getattr(request.user, "partner_id", None)
        if partner_id is None:
            return True
        scope = getattr(view, "throttle_scope", None) or self.default_scope
        limit, period = parse_rate(
            settings.I3_THROTTLE_RATES.get(scope, settings.I3_THROTTLE_RATES["default"])
        )
        now = time.time()
        window = int(now // period)
        key = f"i3:throttle:{scope}:{partner_id}:{window}"
        try:
            count = _count(key, period + 1)
        except Exception:
            logger.warning("throttle cache unavailable; not limiting")
            return True
        if count > limit:
            self._wait = (window + 1) * period - now
            return False
        return True

    def wait(self) -> float | None:
        return self._wait
