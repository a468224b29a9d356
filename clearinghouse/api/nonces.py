"""Replay protection: each (partner, nonce) is accepted once within its time-to-live.

Nonces live in the cache (Redis in production). When the cache cannot be reached the database takes
over, so replay protection is never switched off: an outage degrades speed, not safety. Two races at
the switch are closed here:
- a request accepted just before the outage (its nonce only in Redis) and replayed during it: while
  the cache is down, a timestamp from more than a second before this process lost the cache cannot
  be proven fresh and is refused (the client signs again);
- a request made during the outage (its nonce only in the database) and replayed after Redis returns:
  while unexpired fallback rows exist, a nonce Redis accepts is also looked up in the database (the
  existence check is cached for a second per process).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from clearinghouse.models import UsedNonce

logger = logging.getLogger(__name__)

# Two failures further apart than this are not taken as one outage (see nonce_claim).
OUTAGE_CONTINUITY_SECONDS = 1.0

_lock = threading.Lock()
_state: dict[str, float | bool | None] = {
    "down_since": None,
    "last_failure": None,
    "checked_at": 0.0,
    "fallback_rows": False,
}


def nonce_key(partner_id: int, nonce: str) -> str:
    return f"i3:nonce:{partner_id}:{nonce}"


def nonce_claim(*, partner_id: int, nonce: str, timestamp: float | None = None) -> bool:
    """True if the nonce was unused (and is now used); False on a replay or an unprovable one."""
    ttl = settings.I3_NONCE_TTL_SECONDS
    try:
        added = bool(cache.add(nonce_key(partner_id, nonce), 1, timeout=ttl))
    except Exception:
        return nonce_claim_without_cache(partner_id=partner_id, nonce=nonce, timestamp=timestamp)
    return nonce_claimed_in_cache(partner_id=partner_id, nonce=nonce, added=added)


def nonce_claimed_in_cache(*, partner_id: int, nonce: str, added: bool) -> bool:
    """The outcome of a claim the cache answered (`added`: the key was new there)."""
    with _lock:
        _state["down_since"] = None
    if not added:
        return False
    if _fallback_rows_exist():
        now = timezone.now()
        if UsedNonce.objects.filter(partner_id=partner_id, nonce=nonce, expires_at__gt=now).exists():
            return False
    return True


def nonce_claim_without_cache(*, partner_id: int, nonce: str, timestamp: float | None) -> bool:
    """The claim when the cache cannot be reached: the database keeps the nonce."""
    logger.warning("nonce cache unavailable; using the database fallback")
    now = time.time()
    with _lock:
        # A new outage begins when none is known, or when this process has not met the failure
        # within the last second: the cache may have been back in between (serving other
        # processes, accepting nonces this one never saw), so an older start is not trusted.
        last_failure = _state["last_failure"]
        if (
            _state["down_since"] is None
            or last_failure is None
            or now - float(last_failure) > OUTAGE_CONTINUITY_SECONDS
        ):
            _state["down_since"] = now
        _state["last_failure"] = now
        down_since = float(_state["down_since"])  # type: ignore[arg-type]
    # A request signed more than a second before this process lost the cache is refused even if
    # genuine (its client signs again); one signed in that second or the one before passes, so
    # traffic keeps flowing through the switch (a request signed at 10.98 may reach a process
    # that notices the outage at 11.01). The replay window left is under two seconds.
    if timestamp is not None and timestamp < int(down_since) - 1:
        return False
    claimed = _nonce_claim_db(partner_id=partner_id, nonce=nonce, ttl=settings.I3_NONCE_TTL_SECONDS)
    with _lock:
        _state["fallback_rows"] = True
    return claimed


def _fallback_rows_exist() -> bool:
    now = time.monotonic()
    with _lock:
        if now - float(_state["checked_at"]) < 1.0:  # type: ignore[arg-type]
            return bool(_state["fallback_rows"])
    exists = UsedNonce.objects.filter(expires_at__gt=timezone.now()).exists()
    with _lock:
        _state["checked_at"] = now
        _state["fallback_rows"] = exists
    return exists


def _nonce_claim_db(*, partner_id: int, nonce: str, ttl: int) -> bool:
    now = timezone.now()
    try:
        with transaction.atomic():
            expires = now + timedelta(seconds=ttl)
            UsedNonce.objects.create(partner_id=partner_id, nonce=nonce, expires_at=expires)
        return True
    except IntegrityError:
        # Seen before; an expired row may be reused (its request is outside the skew window anyway).
        updated = UsedNonce.objects.filter(partner_id=partner_id, nonce=nonce, expires_at__lt=now).update(
            expires_at=now + timedelta(seconds=ttl)
        )
        return updated == 1


def nonces_purge_expired() -> int:
    """Delete database-fallback nonces past their time-to-live."""
    deleted, _ = UsedNonce.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
