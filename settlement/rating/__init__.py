"""OCPI 2.2.1 tariff rating engine: the cost of a charging session from its tariffs.

Framework-free on purpose (standard library only, no Django): the same code
rates a CDR in a request handler, a batch re-settlement, or a test, and a
rating can be reproduced years later from the stored JSON alone.

Public API::

    rate_cdr(*, tariffs, cdr, time_zone) -> RatingResult
    rate_session(*, tariff, cdr, time_zone) -> RatingResult
    RatingResult, BilledLine, Price, RatingError

All money is ``Decimal``; every line is rounded once to 4 decimals (half-up) and
totals are sums of rounded lines.  The rules, their sources in the OCPI
specification, and the decisions taken where the specification is ambiguous are
in ``docs/rating.md``.
"""

from __future__ import annotations

from .engine import rate_cdr, rate_session
from .model import (
    CURRENCY_MISMATCH,
    ENERGY,
    FLAT,
    INVALID_DATETIME,
    INVALID_NUMBER,
    INVALID_TIME_ZONE,
    MALFORMED_CDR,
    MALFORMED_TARIFF,
    MAX_PRICE,
    MIN_PRICE,
    MONEY_DECIMALS,
    NEGATIVE_VALUE,
    NO_TARIFF,
    PARKING_TIME,
    RESERVATION_FLAT,
    RESERVATION_TIME,
    TIME,
    BilledLine,
    Price,
    RatingError,
    RatingResult,
)

__all__ = [
    "CURRENCY_MISMATCH",
    "ENERGY",
    "FLAT",
    "INVALID_DATETIME",
    "INVALID_NUMBER",
    "INVALID_TIME_ZONE",
    "MALFORMED_CDR",
    "MALFORMED_TARIFF",
    "MAX_PRICE",
    "MIN_PRICE",
    "MONEY_DECIMALS",
    "NEGATIVE_VALUE",
    "NO_TARIFF",
    "PARKING_TIME",
    "RESERVATION_FLAT",
    "RESERVATION_TIME",
    "TIME",
    "BilledLine",
    "Price",
    "RatingError",
    "RatingResult",
    "rate_cdr",
    "rate_session",
]
