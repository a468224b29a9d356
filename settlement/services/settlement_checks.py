"""Configuration sanity of the settlement run and statement settings, as system checks."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

NUMBER_LENGTH = 32  # Statement.number: PREFIX-YYYY-NNNNNN


@register()
def settlement_settings_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if settings.SETTLEMENT_GRACE_DAYS < 0:
        errors.append(Error("SETTLEMENT_GRACE_DAYS must not be negative", id="settlement.E101"))
    if settings.SETTLEMENT_RUN_BATCH_SIZE < 1:
        errors.append(Error("SETTLEMENT_RUN_BATCH_SIZE must be at least 1", id="settlement.E102"))
    if settings.SETTLEMENT_RUN_STALE_SECONDS < 30:
        # A run's heartbeat beats once per window and per statement; shorter than that, two
        # workers would take a healthy run from each other.
        errors.append(Error("SETTLEMENT_RUN_STALE_SECONDS must be at least 30", id="settlement.E103"))
    prefix = settings.SETTLEMENT_NUMBER_PREFIX
    if not prefix or len(prefix) > NUMBER_LENGTH - len("-2026-000000") or not prefix.isprintable():
        errors.append(
            Error("SETTLEMENT_NUMBER_PREFIX must be 1 to 20 printable characters", id="settlement.E104")
        )
    if settings.SETTLEMENT_PAYMENT_TERMS_DAYS < 0:
        errors.append(Error("SETTLEMENT_PAYMENT_TERMS_DAYS must not be negative", id="settlement.E105"))
    return errors
