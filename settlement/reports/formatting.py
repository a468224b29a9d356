"""Text forms shared by the report renderers: exact decimals, UTC timestamps, safe spreadsheet text.

Nothing here rounds. A Decimal is printed with at least the places asked for (trailing zeros are
added, which is exact) and with all of its own places if it has more: a renderer shows what the
settlement computed, it never computes money itself.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ..money import minor_unit

ENERGY_PLACES = 3  # kWh shown to the watt-hour

# A spreadsheet opened from a CSV runs a cell starting with one of these as a formula
# (CSV injection); partner-supplied text such as a company name must never do that.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# C0 control characters other than tab, LF and CR: XML (XLSX, PDF markup) cannot carry them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def decimal_text(amount: Decimal, places: int, *, grouping: bool = False) -> str:
    """Fixed-point text of `amount` with at least `places` decimals, never rounded."""
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {amount!r}")
    if amount.is_zero():
        amount = amount.copy_abs()  # never print "-0.00"
    # String padding rather than quantize: this runs for every amount of a million-row report.
    text = format(amount, ",f" if grouping else "f")
    point = text.find(".")
    if point < 0:
        return text + "." + "0" * places if places else text
    return text + "0" * (places - (len(text) - point - 1))


def money_text(amount: Decimal, currency: str, *, grouping: bool = False) -> str:
    return decimal_text(amount, minor_unit(currency), grouping=grouping)


def energy_text(kwh: Decimal, *, grouping: bool = False) -> str:
    return decimal_text(kwh, ENERGY_PLACES, grouping=grouping)


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamps in reports must be timezone-aware")
    return moment.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z suffix: 2026-11-01T00:00:00Z."""
    return utc(moment).isoformat().replace("+00:00", "Z")


def naive_utc(moment: datetime) -> datetime:
    """The UTC wall time without tzinfo, for formats that cannot hold an offset (XLSX cells)."""
    return utc(moment).replace(tzinfo=None)


def period_days(start: datetime, end: datetime) -> str:
    """The half-open period [start, end) as inclusive UTC dates: 2026-11-01 – 2026-11-30."""
    last = utc(end) - timedelta(microseconds=1)
    return f"{utc(start).date().isoformat()} – {last.date().isoformat()}"


def spreadsheet_safe(text: str) -> str:
    """Text that a spreadsheet shows as text, never evaluates (OWASP's CSV injection advice)."""
    return "'" + text if text.startswith(_FORMULA_TRIGGERS) else text


def printable(text: str) -> str:
    """`text` without control characters that XML-based formats refuse."""
    return _CONTROL.sub("", text)
