"""Replay protection: each (partner, nonce) is accepted once within its time-to-live.

Nonces live in the cache (Redis in production). When the cache cannot be reached the database takes
over, so replay protection is never switched off: an outage degrades speed, not safety.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from clearinghouse.models import UsedNonce

logger = logging.getLogger(__name__)


def nonce_claim(*, partner_id: int, nonce: str) -> bool:
    """True if the nonce was unused (and is now used); False on a replay."""
    ttl = settings.I3_NONCE_TTL_SECONDS
    try:
        return bool(cache.add(f"i3:nonce:{partner_id}:{nonce}", 1, timeout=ttl))
    except Exception:
        logger.warning("nonce cache unavailable; using the database fallback")
    return _nonce_claim_db(partner_id=partner_id, nonce=nonce, ttl=ttl)


def _nonce_claim_db(*, partner_id: int, nonce: str, ttl: int) -> bool:
    now = timezone.now()
    try:
        with transaction.atomic():
            UsedNonce.objects.create(
                partner_id=partner_id, nonce=nonce, expires_at=now + timedelta(seconds=ttl)
            )
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
