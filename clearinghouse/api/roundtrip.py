"""One cache round trip per authenticated request: claim the nonce, check the principal, count the
request against its rate limit.

A signed request needs three things of the cache: its nonce claimed (replay protection), its
principal confirmed current (a suspension or a new secret invalidates it at once), and its rate
limit counter incremented. On Redis they travel together in one pipeline; any other cache (the
local-memory one of the embedded mode) gets the same three operations one after the other. When
the cache cannot be reached the caller falls back on the database (nonces, principal) and lets the
request through the limiter, as each of those modules does on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from clearinghouse.cache import SharedClientCacheClient

from .throttling import Window, count_in_window


@dataclass(frozen=True)
class RoundTrip:
    nonce_added: bool
    principal: dict[str, Any] | None  # as the cache holds it; None when it holds nothing
    count: int | None  # the request's number in its rate-limit window (None: no limit applies)


def round_trip(*, nonce_key: str, nonce_ttl: int, principal_key: str, window: Window | None) -> RoundTrip:
    """Raises whatever the cache raises when it cannot be reached."""
    client = getattr(cache, "_cache", None)
    if not isinstance(client, SharedClientCacheClient):
        added = bool(cache.add(nonce_key, 1, timeout=nonce_ttl))
        stored = cache.get(principal_key)
        count = count_in_window(window) if window else None
        return RoundTrip(added, stored, count)
    keys = {name: cache.make_and_validate_key(key) for name, key in (("n", nonce_key), ("p", principal_key))}
    pipe = client.get_client(keys["n"], write=True).pipeline(transaction=False)
    pipe.set(keys["n"], 1, nx=True, ex=nonce_ttl)
    pipe.get(keys["p"])
    if window:
        counter = cache.make_and_validate_key(window.key)
        pipe.incr(counter)
        pipe.expire(counter, window.ttl, nx=True)
    answers = pipe.execute()
    stored = None if answers[1] is None else client._serializer.loads(answers[1])
    return RoundTrip(bool(answers[0]), stored, int(answers[2]) if window else None)
