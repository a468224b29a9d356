"""Which tariff element prices a dimension in a given charging period.

OCPI 2.2.1 (module Tariffs): for each dimension, the first element in list order
that has a price component for that dimension *and* whose restrictions all hold
is used; if none matches, that dimension is free.  Restrictions are not
session-wide: they are evaluated per charging period, at the period's start,
because the CPO must open a new period whenever a different element becomes
active (module CDRs, ChargingPeriod), so a period never straddles a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .parsing import RESERVATION_EXPIRES, Component, Element, Restrictions, Tariff, micros_of_day
from .values import fast_init


@fast_init
@dataclass(frozen=True)
class PeriodContext:
    """Everything restrictions can look at, as seen at the start of one period.

    ``local_start`` is the period start in the location's time zone.
    ``energy_before_kwh`` is the energy consumed by the session before this
    period (OCPI min/max_kwh: "valid from/until this amount of energy being
    used").  ``duration_seconds`` is the session duration at the period start
    (OCPI min/max_duration count from the start of the charging session).
    """

    local_start: datetime
    energy_before_kwh: Decimal
    duration_seconds: Decimal
    measurements: Mapping[str, Decimal]
    is_reservation: bool
    reservation_expired: bool

    def measured(self, preferred: str, fallback: str) -> Decimal | None:
        """A period measurement, e.g. MIN_CURRENT, else the average (CURRENT)."""
        value = self.measurements.get(preferred)
        return self.measurements.get(fallback) if value is None else value


def _in_time_window(start: int | None, end: int | None, now: int) -> bool:
    """Time-of-day window, end exclusive; ``end < start`` wraps past midnight.

    A missing start means 00:00 and a missing end means end of day; ``00:00``
    as an end means end of day too (OCPI: "To stop at end of the day use:
    00:00"), which the wrap rule gives for free.  Equal bounds cover the whole
    day.
    """
    lo = start or 0
    hi = end or 0
    if lo < hi:
        return lo <= now < hi
    if lo > hi:
        return now >= lo or now < hi
    return True


def _at_least(value: Decimal | None, bound: Decimal | None) -> bool:
    """``min_*`` restrictions are inclusive; unknown values fail a set bound."""
    return bound is None or (value is not None and value >= bound)


def _below(value: Decimal | None, bound: Decimal | None) -> bool:
    """``max_*`` restrictions are exclusive; unknown values fail a set bound."""
    return bound is None or (value is not None and value < bound)


def restrictions_hold(r: Restrictions, ctx: PeriodContext) -> bool:
    """Whether all restrictions of an element hold in this period (logical AND).

    Reservation elements describe reservation costs only, so they never apply to
    charging periods, and ordinary elements never apply to reservation periods.
    ``RESERVATION`` elements apply to any reservation; ``RESERVATION_EXPIRES``
    ones only to a reservation that expired without a charging session.

    Current and power: ``min_current`` is compared with the period's
    MIN_CURRENT (else its average CURRENT) and ``max_current`` with MAX_CURRENT
    (else CURRENT); likewise for power.  A restriction whose measurement the CDR
    does not carry does not hold: the engine cannot prove the condition, and the
    tariff's fallback element then applies.
    """
    if r.reservation is None:
        if ctx.is_reservation:
            return False
    else:
        if not ctx.is_reservation:
            return False
        if r.reservation == RESERVATION_EXPIRES and not ctx.reservation_expired:
            return False
    local = ctx.local_start
    if (r.start_time is not None or r.end_time is not None) and not _in_time_window(
        r.start_time, r.end_time, micros_of_day(local)
    ):
        return False
    today = local.date()
    if r.start_date is not None and today < r.start_date:
        return False
    if r.end_date is not None and today >= r.end_date:
        return False
    if r.days is not None and local.weekday() not in r.days:
        return False
    if not (_at_least(ctx.energy_before_kwh, r.min_kwh) and _below(ctx.energy_before_kwh, r.max_kwh)):
        return False
    if not (_at_least(ctx.duration_seconds, r.min_duration) and _below(ctx.duration_seconds, r.max_duration)):
        return False
    if not (
        _at_least(ctx.measured("MIN_CURRENT", "CURRENT"), r.min_current)
        and _below(ctx.measured("MAX_CURRENT", "CURRENT"), r.max_current)
    ):
        return False
    return _at_least(ctx.measured("MIN_POWER", "POWER"), r.min_power) and _below(
        ctx.measured("MAX_POWER", "POWER"), r.max_power
    )


def find_component(tariff: Tariff, dimension: str, ctx: PeriodContext) -> tuple[Element, Component] | None:
    """The first element of ``tariff`` pricing ``dimension`` in this period.

    For an expired reservation a matching ``RESERVATION_EXPIRES`` element wins
    over an earlier ``RESERVATION`` one, as OCPI requires for the time-based
    cost of an expired reservation; the engine applies the same precedence to
    the reservation FLAT fee so that one rule covers both.
    """
    fallback: tuple[Element, Component] | None = None
    for element, component, unrestricted in tariff.candidates.get(dimension, ()):
        # An element without restrictions holds in every charging period and no reservation one.
        if ctx.is_reservation if unrestricted else not restrictions_hold(element.restrictions, ctx):
            continue
        if not (ctx.is_reservation and ctx.reservation_expired):
            return element, component
        if element.restrictions.reservation == RESERVATION_EXPIRES:
            return element, component
        if fallback is None:
            fallback = (element, component)
    return fallback
