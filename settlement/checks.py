"""Configuration sanity of the SDR settings, as system checks."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


def _decimal(name: str) -> Decimal | None:
    try:
        value = Decimal(str(getattr(settings, name)))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


@register()
def sdr_settings_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for code, name in (
        ("settlement.E001", "SDR_COST_TOLERANCE"),
        ("settlement.E002", "SDR_ENERGY_CAPACITY_TOLERANCE"),
    ):
        value = _decimal(name)
        if value is None or value < 0:
            errors.append(Error(f"{name} must be a non-negative decimal number", id=code))
    if not 1 <= settings.SDR_BULK_MAX_ITEMS <= 10000:
        errors.append(Error("SDR_BULK_MAX_ITEMS must be between 1 and 10000", id="settlement.E003"))
    if settings.SDR_DELIVERY_BATCH_SIZE < 1:
        errors.append(Error("SDR_DELIVERY_BATCH_SIZE must be at least 1", id="settlement.E004"))
    if settings.SDR_DISPUTE_WINDOW_DAYS < 0 or settings.SDR_TOTAL_TIME_TOLERANCE_SECONDS < 0:
        errors.append(
            Error(
                "SDR_DISPUTE_WINDOW_DAYS and SDR_TOTAL_TIME_TOLERANCE_SECONDS must not be negative",
                id="settlement.E005",
            )
        )
    return errors
