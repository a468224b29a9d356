"""Value objects returned by the rating engine, and its error type.

Everything here is immutable (frozen dataclasses holding ``Decimal``) because a
rating result is evidence in a financial settlement: once computed it must not
be mutated by whoever passes it around, and it must compare by value so that a
re-rating can be checked against a stored result.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .values import fast_init

#: Number of decimals of every money amount the engine produces.  OCPI 2.2.1
#: (Types, ``number``) says numbers use 4 decimals unless stated otherwise, so a
#: finer result could not be transported in a CDR anyway.
MONEY_DECIMALS = 4
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_DECIMALS)  # Decimal("0.0001")

# Labels used in BilledLine.dimension.  The first four are the OCPI
# TariffDimensionTypes; the reservation ones are priced by FLAT/TIME components of
# elements carrying a ``reservation`` restriction and are kept apart because OCPI
# reports them in ``total_reservation_cost``; the last two are the min/max price
# adjustments, so that the total is always the plain sum of the lines.
FLAT = "FLAT"
ENERGY = "ENERGY"
TIME = "TIME"
PARKING_TIME = "PARKING_TIME"
RESERVATION_FLAT = "RESERVATION_FLAT"
RESERVATION_TIME = "RESERVATION_TIME"
MIN_PRICE = "MIN_PRICE"
MAX_PRICE = "MAX_PRICE"

# RatingError codes (stable strings: callers may branch on them and store them).
NO_TARIFF = "no_tariff"
CURRENCY_MISMATCH = "currency_mismatch"
INVALID_NUMBER = "invalid_number"
INVALID_DATETIME = "invalid_datetime"
INVALID_TIME_ZONE = "invalid_time_zone"
MALFORMED_TARIFF = "malformed_tariff"
MALFORMED_CDR = "malformed_cdr"
NEGATIVE_VALUE = "negative_value"


class RatingError(ValueError):
    """Input the engine refuses to rate.

    A clearing house must never invent a price, so anything ambiguous or
    malformed (no applicable tariff, mixed currencies, unparsable numbers or
    timestamps, …) stops the computation instead of being guessed around.  The
    ``code`` is a stable machine-readable string (see the module constants); the
    ``message`` is for humans.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _fmt(value: Decimal) -> str:
    """Plain (never scientific) decimal string, as OCPI JSON numbers are written."""
    return format(value, "f")


@fast_init
@dataclass(frozen=True)
class Price:
    """An OCPI ``Price``: an amount excluding VAT and, when known, including VAT.

    ``incl_vat`` is ``None`` when some part of the amount came from a price
    component without a ``vat`` field: OCPI says such a component has no known
    VAT, and guessing 0 % would silently under-report the consumer price.
    """

    excl_vat: Decimal
    incl_vat: Decimal | None = None

    def to_ocpi(self) -> dict[str, str]:
        """OCPI ``Price`` object with decimal strings (``incl_vat`` omitted if unknown).

        Strings rather than JSON numbers so that no float ever touches the
        amount; the caller's JSON encoder decides how to emit them.
        """
        out = {"excl_vat": _fmt(self.excl_vat)}
        if self.incl_vat is not None:
            out["incl_vat"] = _fmt(self.incl_vat)
        return out

    @staticmethod
    def zero() -> Price:
        """A known zero amount (both parts known), the neutral element of sums."""
        return Price(Decimal("0.0000"), Decimal("0.0000"))


@fast_init
@dataclass(frozen=True)
class BilledLine:
    """One priced line of the computation, so a human can re-do the arithmetic.

    There is one line per price component actually used (per tariff, element and
    dimension), aggregating every charging period that component priced
    (``period_indexes``), plus the FLAT fee(s) and any min/max price adjustment.

    ``volume`` is what was consumed and ``billed_volume`` what was billed after
    the session's single ``step_size`` round-up (which OCPI puts on the last
    component used for the dimension, so only that line has
    ``step_rounded=True``).  Volumes are in the unit the price is expressed in:
    kWh for ENERGY, hours for TIME/PARKING_TIME/RESERVATION_TIME, 1 for FLAT.
    ``excl_vat``/``incl_vat`` are rounded to 4 decimals, half-up, from the exact
    product; ``incl_vat`` is ``None`` when the component gives no VAT.
    """

    dimension: str
    tariff_id: str
    element_index: int | None
    period_indexes: tuple[int, ...]
    volume: Decimal
    billed_volume: Decimal
    unit: str
    unit_price: Decimal
    vat: Decimal | None
    step_size: int | None
    step_rounded: bool
    excl_vat: Decimal
    incl_vat: Decimal | None

    @property
    def price(self) -> Price:
        """The line amount as a ``Price``."""
        return Price(self.excl_vat, self.incl_vat)


@fast_init
@dataclass(frozen=True)
class RatingResult:
    """The cost of one session and how it was obtained.

    The ``total_*`` prices follow the OCPI CDR fields of the same name.  The
    category totals (fixed, energy, time, parking, reservation) are sums of their
    lines *before* any min/max price adjustment; ``total_cost`` is the sum of all
    lines *including* the adjustment lines, so
    ``total_cost == sum(lines)`` always holds.  ``total_reservation_cost`` is
    ``None`` when the session had no reservation periods.

    Quantities: ``total_energy`` in kWh; ``total_time`` (charging plus parking,
    as in an OCPI CDR), ``total_charging_time``, ``total_parking_time`` and
    ``total_reservation_time`` in hours.  These are the consumed quantities, not
    the step-rounded billed ones (those are on the lines).
    """

    currency: str
    total_cost: Price
    total_fixed_cost: Price
    total_energy_cost: Price
    total_time_cost: Price
    total_parking_cost: Price
    total_reservation_cost: Price | None
    total_energy: Decimal
    total_time: Decimal
    total_parking_time: Decimal
    total_charging_time: Decimal
    total_reservation_time: Decimal
    lines: tuple[BilledLine, ...]

    def to_ocpi(self) -> dict[str, Any]:
        """The CDR cost fields as an OCPI-shaped dict (amounts as decimal strings)."""
        out: dict[str, Any] = {
            "currency": self.currency,
            "total_cost": self.total_cost.to_ocpi(),
            "total_fixed_cost": self.total_fixed_cost.to_ocpi(),
            "total_energy": _fmt(self.total_energy),
            "total_energy_cost": self.total_energy_cost.to_ocpi(),
            "total_time": _fmt(self.total_time),
            "total_time_cost": self.total_time_cost.to_ocpi(),
            "total_parking_time": _fmt(self.total_parking_time),
            "total_parking_cost": self.total_parking_cost.to_ocpi(),
        }
        if self.total_reservation_cost is not None:
            out["total_reservation_cost"] = self.total_reservation_cost.to_ocpi()
        return out
