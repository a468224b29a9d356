"""Read OCPI scalars (numbers, timestamps, times, zones) and Tariff objects into typed values.

The engine works on JSON as parsed by someone else, so every number may arrive
as ``int``, ``float`` (the default of ``json.loads``), ``str`` or ``Decimal``,
and every timestamp as an RFC 3339 string.  All of that is normalised here, once,
so the pricing code only ever sees ``Decimal`` and aware ``datetime`` values and
can stay free of defensive checks.  Anything that cannot be read unambiguously
raises ``RatingError``: a settlement must not rest on a guess.

Fields the engine does not need (``last_updated``, ``country_code``,
``tariff_alt_text``, …) are ignored, so the spec's examples that lack some of
them are still accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .model import (
    ENERGY,
    FLAT,
    INVALID_DATETIME,
    INVALID_NUMBER,
    INVALID_TIME_ZONE,
    MALFORMED_TARIFF,
    NEGATIVE_VALUE,
    PARKING_TIME,
    TIME,
    Price,
    RatingError,
)

COMPONENT_TYPES = frozenset({ENERGY, FLAT, TIME, PARKING_TIME})
RESERVATION = "RESERVATION"
RESERVATION_EXPIRES = "RESERVATION_EXPIRES"
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
SECONDS_PER_HOUR = Decimal(3600)
WH_PER_KWH = Decimal(1000)

# OCPI DateTime is RFC 3339; OCPI additionally says a missing offset means UTC.
_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?$"
)
_TIME_RE = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --------------------------------------------------------------------------- scalars


def to_decimal(value: Any, field: str, *, allow_negative: bool = False) -> Decimal:
    """Read an OCPI ``number`` exactly.

    Floats are converted through ``repr`` (their shortest round-tripping text,
    i.e. what the JSON said), never through binary expansion, so ``0.1`` becomes
    ``Decimal("0.1")``.  Booleans are refused even though Python treats them as
    ints: ``true`` is not a price.
    """
    if isinstance(value, bool) or value is None:
        raise RatingError(INVALID_NUMBER, f"{field}: expected a number, got {value!r}")
    try:
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, int):
            result = Decimal(value)
        elif isinstance(value, float):
            result = Decimal(repr(value))
        elif isinstance(value, str):
            result = Decimal(value.strip())
        else:
            raise RatingError(INVALID_NUMBER, f"{field}: expected a number, got {value!r}")
    except InvalidOperation:
        raise RatingError(INVALID_NUMBER, f"{field}: not a number: {value!r}") from None
    if not result.is_finite():
        raise RatingError(INVALID_NUMBER, f"{field}: not a finite number: {value!r}")
    if result < 0 and not allow_negative:
        raise RatingError(NEGATIVE_VALUE, f"{field}: must not be negative, got {value!r}")
    return result


def to_int(value: Any, field: str) -> int:
    """Read an OCPI ``int`` (an integral, non-negative number)."""
    number = to_decimal(value, field)
    if number != number.to_integral_value():
        raise RatingError(INVALID_NUMBER, f"{field}: expected an integer, got {value!r}")
    return int(number)


def parse_datetime(value: Any, field: str) -> datetime:
    """Parse an OCPI DateTime into an aware UTC ``datetime``.

    Accepts ``Z``, numeric offsets, no offset (UTC per OCPI), and fractional
    seconds of any length (truncated to microseconds, the resolution of
    ``datetime``).  Already-parsed ``datetime`` objects are accepted too.
    """
    if isinstance(value, datetime):
        parsed = value
    elif type(value) is str and (known := _PARSED_MOMENTS.get(value)) is not None:
        return known
    elif isinstance(value, str):
        text = value.strip()
        match = _DATETIME_RE.match(text)
        if match is None:
            raise RatingError(INVALID_DATETIME, f"{field}: not an RFC 3339 date-time: {value!r}")
        if len(text) in _UTC_LENGTHS and text[-1] == "Z" and text[10] == "T":
            # The common shape (UTC, no fraction or one of 3 or 6 digits): fromisoformat reads
            # it to the same value at a quarter of the cost, and refuses (ValueError) what it
            # cannot read alike (hour 24, non-ASCII digits), which the general path then reads.
            try:
                parsed = datetime.fromisoformat(text[:-1] + "+00:00")
            except ValueError:
                pass
            else:
                return _remember(value, parsed)
        year, month, day, hour, minute, second, fraction, offset = match.groups()
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        tz = UTC
        if offset and offset not in ("Z", "z"):
            sign = 1 if offset[0] == "+" else -1
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if hours > 23 or minutes > 59:
                raise RatingError(INVALID_DATETIME, f"{field}: bad UTC offset in {value!r}")
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        try:
            parsed = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz)
        except ValueError as exc:
            raise RatingError(INVALID_DATETIME, f"{field}: {exc}: {value!r}") from None
    else:
        raise RatingError(INVALID_DATETIME, f"{field}: expected a date-time string, got {value!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return _remember(value, parsed) if type(value) is str else parsed


def _remember(text: str, moment: datetime) -> datetime:
    if len(_PARSED_MOMENTS) >= _PARSED_MOMENTS_MAX:
        _PARSED_MOMENTS.clear()
    _PARSED_MOMENTS[text] = moment
    return moment


# YYYY-MM-DDTHH:MM:SSZ with no fraction, or one of 3 or 6 digits.
_UTC_LENGTHS = frozenset({20, 24, 27})


# The texts parsed last (a CDR names its start again as its first period's start, a batch of CDRs
# shares its moments) with their results: datetimes are immutable. Emptied when full.
_PARSED_MOMENTS: dict[str, datetime] = {}
_PARSED_MOMENTS_MAX = 4096


def parse_time_of_day(value: Any, field: str) -> int:
    """Parse a restriction time ``HH:MM`` into microseconds since local midnight.

    ``24:00`` is tolerated as a synonym of the ``00:00`` end-of-day marker.
    """
    if not isinstance(value, str) or (match := _TIME_RE.match(value.strip())) is None:
        raise RatingError(MALFORMED_TARIFF, f"{field}: expected HH:MM, got {value!r}")
    if match.group(3):  # 24:00
        return 0
    return (int(match.group(1)) * 60 + int(match.group(2))) * 60 * 1_000_000


def parse_date(value: Any, field: str) -> date:
    """Parse a restriction date ``YYYY-MM-DD``."""
    if not isinstance(value, str) or not _DATE_RE.match(value.strip()):
        raise RatingError(MALFORMED_TARIFF, f"{field}: expected YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise RatingError(MALFORMED_TARIFF, f"{field}: {exc}: {value!r}") from None


def load_zone(name: Any) -> ZoneInfo:
    """Load the location's IANA time zone (restrictions are in local time)."""
    if not isinstance(name, str) or not name:
        raise RatingError(INVALID_TIME_ZONE, f"time_zone: expected an IANA name, got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise RatingError(INVALID_TIME_ZONE, f"time_zone: unknown IANA time zone {name!r}") from None


def as_mapping(value: Any, field: str, code: str) -> Mapping[str, Any]:
    if type(value) is not dict and not isinstance(value, Mapping):  # a dict skips the ABC check
        raise RatingError(code, f"{field}: expected an object, got {type(value).__name__}")
    return value


def as_sequence(value: Any, field: str, code: str) -> Sequence[Any]:
    if type(value) is list:  # as JSON arrays arrive: no ABC check
        return value
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise RatingError(code, f"{field}: expected a list, got {type(value).__name__}")
    return value


def optional_decimal(data: Mapping[str, Any], key: str, field: str) -> Decimal | None:
    value = data.get(key)
    return None if value is None else to_decimal(value, f"{field}.{key}")


# --------------------------------------------------------------------------- tariffs


@dataclass(frozen=True)
class Component:
    """A PriceComponent: ``price`` per kWh / per hour / per session, VAT %, step."""

    dimension: str
    price: Decimal
    vat: Decimal | None
    step_size: int


@dataclass(frozen=True)
class Restrictions:
    """TariffRestrictions, pre-parsed (times as microseconds since local midnight)."""

    start_time: int | None = None
    end_time: int | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: Decimal | None = None
    max_duration: Decimal | None = None
    days: frozenset[int] | None = None
    reservation: str | None = None

    @cached_property
    def unrestricted(self) -> bool:
        """No restriction at all: the element holds in every charging period (and in no
        reservation period), whatever the period's time, energy, duration or measurements."""
        return self == _NO_RESTRICTIONS


_NO_RESTRICTIONS = Restrictions()


@dataclass(frozen=True)
class Element:
    """A TariffElement with its position in the tariff (kept for the audit lines)."""

    index: int
    components: tuple[Component, ...]
    restrictions: Restrictions

    def component(self, dimension: str) -> Component | None:
        """The element's component for ``dimension`` (the first, if listed twice)."""
        for component in self.components:
            if component.dimension == dimension:
                return component
        return None


@dataclass(frozen=True)
class Tariff:
    """A Tariff reduced to what rating needs; ``position`` is its index in the input list."""

    position: int
    id: str
    currency: str
    elements: tuple[Element, ...]
    min_price: Price | None
    max_price: Price | None
    start_date_time: datetime | None
    end_date_time: datetime | None

    @cached_property
    def candidates(self) -> dict[str, tuple[tuple[Element, Component, bool], ...]]:
        """Per dimension, the elements that price it (in tariff order) with their component for
        it and whether they are unrestricted: what finding a period's element walks, worked out
        once per parsed tariff instead of once per period and dimension."""
        found: dict[str, list[tuple[Element, Component, bool]]] = {}
        for element in self.elements:
            for dimension in dict.fromkeys(c.dimension for c in element.components):
                component = element.component(dimension)
                assert component is not None
                found.setdefault(dimension, []).append(
                    (element, component, element.restrictions.unrestricted)
                )
        return {dimension: tuple(entries) for dimension, entries in found.items()}

    def valid_at(self, moment: datetime) -> bool:
        """Whether ``moment`` lies in [start_date_time, end_date_time].

        The end is inclusive because OCPI calls it "the time after which this
        tariff is no longer valid" (and its example ends at ``23:59:59``).
        """
        if self.start_date_time is not None and moment < self.start_date_time:
            return False
        return self.end_date_time is None or moment <= self.end_date_time


def _parse_price(value: Any, field: str) -> Price | None:
    if value is None:
        return None
    data = as_mapping(value, field, MALFORMED_TARIFF)
    if data.get("excl_vat") is None:
        raise RatingError(MALFORMED_TARIFF, f"{field}.excl_vat is required")
    return Price(
        to_decimal(data["excl_vat"], f"{field}.excl_vat"),
        optional_decimal(data, "incl_vat", field),
    )


def _parse_component(value: Any, field: str) -> Component:
    data = as_mapping(value, field, MALFORMED_TARIFF)
    dimension = data.get("type")
    if dimension not in COMPONENT_TYPES:
        raise RatingError(MALFORMED_TARIFF, f"{field}.type: unknown dimension {dimension!r}")
    if data.get("price") is None:
        raise RatingError(MALFORMED_TARIFF, f"{field}.price is required")
    step = data.get("step_size")
    return Component(
        dimension=dimension,
        price=to_decimal(data["price"], f"{field}.price"),
        vat=optional_decimal(data, "vat", field),
        # A missing step_size (required by OCPI) is read as "bill exactly".
        step_size=0 if step is None else to_int(step, f"{field}.step_size"),
    )


def _parse_restrictions(value: Any, field: str) -> Restrictions:
    if value is None:
        return Restrictions()
    data = as_mapping(value, field, MALFORMED_TARIFF)

    def number(key: str) -> Decimal | None:
        return optional_decimal(data, key, field)

    days: frozenset[int] | None = None
    raw_days = data.get("day_of_week")
    if raw_days:  # absent or [] both mean "every day"
        names = as_sequence(raw_days, f"{field}.day_of_week", MALFORMED_TARIFF)
        for name in names:
            if name not in DAYS:
                raise RatingError(MALFORMED_TARIFF, f"{field}.day_of_week: unknown day {name!r}")
        days = frozenset(DAYS.index(name) for name in names)
    reservation = data.get("reservation")
    if reservation is not None and reservation not in (RESERVATION, RESERVATION_EXPIRES):
        raise RatingError(MALFORMED_TARIFF, f"{field}.reservation: unknown value {reservation!r}")

    def clock(key: str) -> int | None:
        raw = data.get(key)
        return None if raw is None else parse_time_of_day(raw, f"{field}.{key}")

    def day(key: str) -> date | None:
        raw = data.get(key)
        return None if raw is None else parse_date(raw, f"{field}.{key}")

    return Restrictions(
        start_time=clock("start_time"),
        end_time=clock("end_time"),
        start_date=day("start_date"),
        end_date=day("end_date"),
        min_kwh=number("min_kwh"),
        max_kwh=number("max_kwh"),
        min_current=number("min_current"),
        max_current=number("max_current"),
        min_power=number("min_power"),
        max_power=number("max_power"),
        min_duration=number("min_duration"),
        max_duration=number("max_duration"),
        days=days,
        reservation=reservation,
    )


def _above(low: Price, high: Price) -> bool:
    """Whether a min_price exceeds a max_price in either of its parts."""
    if low.excl_vat > high.excl_vat:
        return True
    return low.incl_vat is not None and high.incl_vat is not None and low.incl_vat > high.incl_vat


def parse_tariff(value: Any, position: int) -> Tariff:
    """Validate and normalise one OCPI Tariff object."""
    field = f"tariffs[{position}]"
    data = as_mapping(value, field, MALFORMED_TARIFF)
    tariff_id = data.get("id")
    if not isinstance(tariff_id, str) or not tariff_id:
        raise RatingError(MALFORMED_TARIFF, f"{field}.id is required")
    field = f"tariff {tariff_id!r}"
    currency = data.get("currency")
    if not isinstance(currency, str) or not currency:
        raise RatingError(MALFORMED_TARIFF, f"{field}.currency is required")
    raw_elements = as_sequence(data.get("elements"), f"{field}.elements", MALFORMED_TARIFF)
    if not raw_elements:
        raise RatingError(MALFORMED_TARIFF, f"{field}.elements must not be empty")
    elements = []
    for index, raw in enumerate(raw_elements):
        element_field = f"{field}.elements[{index}]"
        element = as_mapping(raw, element_field, MALFORMED_TARIFF)
        raw_components = as_sequence(
            element.get("price_components"), f"{element_field}.price_components", MALFORMED_TARIFF
        )
        if not raw_components:
            raise RatingError(MALFORMED_TARIFF, f"{element_field}.price_components must not be empty")
        components = tuple(
            _parse_component(c, f"{element_field}.price_components[{i}]")
            for i, c in enumerate(raw_components)
        )
        restrictions = _parse_restrictions(element.get("restrictions"), f"{element_field}.restrictions")
        elements.append(Element(index, components, restrictions))
    min_price = _parse_price(data.get("min_price"), f"{field}.min_price")
    max_price = _parse_price(data.get("max_price"), f"{field}.max_price")
    if min_price is not None and max_price is not None and _above(min_price, max_price):
        raise RatingError(MALFORMED_TARIFF, f"{field}: min_price is above max_price")
    start = data.get("start_date_time")
    end = data.get("end_date_time")
    return Tariff(
        position=position,
        id=tariff_id,
        currency=currency.upper(),
        elements=tuple(elements),
        min_price=min_price,
        max_price=max_price,
        start_date_time=None if start is None else parse_datetime(start, f"{field}.start_date_time"),
        end_date_time=None if end is None else parse_datetime(end, f"{field}.end_date_time"),
    )


def micros_of_day(moment: datetime) -> int:
    """Microseconds since local midnight of a (local) datetime."""
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1_000_000 + moment.microsecond


__all__ = [
    "COMPONENT_TYPES",
    "DAYS",
    "RESERVATION",
    "RESERVATION_EXPIRES",
    "SECONDS_PER_HOUR",
    "WH_PER_KWH",
    "Component",
    "Element",
    "Restrictions",
    "Tariff",
    "as_mapping",
    "as_sequence",
    "load_zone",
    "micros_of_day",
    "optional_decimal",
    "parse_date",
    "parse_datetime",
    "parse_tariff",
    "parse_time_of_day",
    "to_decimal",
    "to_int",
]
