"""OCPI 2.2.1 Tariff: shape and coherence rules.

Besides the types: the currency must be ISO 4217, prices and VAT must not be negative, a maximum
must not be below its minimum (energy, current, power, duration, dates, price caps), and a price
including VAT must not be below the same price without it. A time-of-day window may wrap past
midnight (start 20:00, end 00:00 is the evening), as OCPI allows, so its order is not checked.
"""

from __future__ import annotations

from typing import Any

from clearinghouse.lib.codes import is_currency

from .datetimes import parse_datetime
from .locations import DocumentError
from .schema import (
    INVALID,
    Problems,
    Shape,
    cistring,
    clean,
    day,
    enum,
    integer,
    join,
    many,
    moment,
    nested,
    number,
    string,
    time_of_day,
    url,
)
from .shapes import DISPLAY_TEXT, ENERGY_MIX

TARIFF_TYPE = frozenset({"AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"})
DIMENSION = frozenset({"ENERGY", "FLAT", "PARKING_TIME", "TIME"})
DAY_OF_WEEK = frozenset({"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"})
RESERVATION = frozenset({"RESERVATION", "RESERVATION_EXPIRES"})

# Pairs that must be ordered (minimum first) when both are given.
_RANGES = (
    ("min_kwh", "max_kwh"),
    ("min_current", "max_current"),
    ("min_power", "max_power"),
    ("min_duration", "max_duration"),
    ("start_date", "end_date"),
)


def _restrictions_check(obj: dict[str, Any], path: str, problems: Problems) -> None:
    for low, high in _RANGES:
        if obj.get(low) is not None and obj.get(high) is not None and obj[high] < obj[low]:
            problems.add(join(path, high), f"must not be below {low}")
    days = obj.get("day_of_week") or []
    if len(set(days)) != len(days):
        problems.add(join(path, "day_of_week"), "repeats a day")


def _price_check(obj: dict[str, Any], path: str, problems: Problems) -> None:
    if obj.get("incl_vat") is not None and obj["incl_vat"] < obj["excl_vat"]:
        problems.add(join(path, "incl_vat"), "must not be below excl_vat")


def _tariff_check(obj: dict[str, Any], path: str, problems: Problems) -> None:
    low, high = obj.get("min_price"), obj.get("max_price")
    if low and high and high["excl_vat"] < low["excl_vat"]:
        problems.add(join(path, "max_price"), "must not be below min_price")
    start, end = obj.get("start_date_time"), obj.get("end_date_time")
    if start and end and parse_datetime(end) < parse_datetime(start):
        problems.add(join(path, "end_date_time"), "must not be before start_date_time")


PRICE = Shape("Price", {"excl_vat": number(required=True), "incl_vat": number()}, check=_price_check)
PRICE_COMPONENT = Shape(
    "PriceComponent",
    {
        "type": enum(DIMENSION, required=True),
        "price": number(required=True),
        "vat": number(maximum=100),
        "step_size": integer(required=True),
    },
)
TARIFF_RESTRICTIONS = Shape(
    "TariffRestrictions",
    {
        "start_time": time_of_day(),
        "end_time": time_of_day(allow_24=True),
        "start_date": day(),
        "end_date": day(),
        "min_kwh": number(),
        "max_kwh": number(),
        "min_current": number(),
        "max_current": number(),
        "min_power": number(),
        "max_power": number(),
        "min_duration": integer(),
        "max_duration": integer(),
        "day_of_week": many(enum(DAY_OF_WEEK)),
        "reservation": enum(RESERVATION),
    },
    check=_restrictions_check,
)
TARIFF_ELEMENT = Shape(
    "TariffElement",
    {
        "price_components": many(nested(PRICE_COMPONENT), min_items=1, required=True),
        "restrictions": nested(TARIFF_RESTRICTIONS),
    },
)
TARIFF = Shape(
    "Tariff",
    {
        "country_code": cistring(2, required=True),
        "party_id": cistring(3, required=True),
        "id": cistring(36, required=True, coerce_int=True),
        "currency": string(
            3, required=True, predicate=is_currency, predicate_message="must be an ISO 4217 code"
        ),
        "type": enum(TARIFF_TYPE),
        "tariff_alt_text": many(nested(DISPLAY_TEXT)),
        "tariff_alt_url": url(),
        "min_price": nested(PRICE),
        "max_price": nested(PRICE),
        "elements": many(nested(TARIFF_ELEMENT), min_items=1, required=True),
        "start_date_time": moment(),
        "end_date_time": moment(),
        "energy_mix": nested(ENERGY_MIX),
        "last_updated": moment(required=True),
    },
    check=_tariff_check,
)


def tariff_clean(raw: Any, *, default_last_updated: str) -> dict[str, Any]:
    """A full Tariff object, checked; a missing last_updated takes `default_last_updated`."""
    if isinstance(raw, dict) and raw.get("last_updated") is None:
        raw = {**raw, "last_updated": default_last_updated}
    problems = Problems()
    cleaned = clean(TARIFF, raw, "", problems)
    if problems or cleaned is INVALID:
        raise DocumentError(problems.items)
    return cleaned
