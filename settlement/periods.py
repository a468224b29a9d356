"""Settlement periods: boundaries by cadence, keys, and when a period closes.

Framework-free. Periods are half-open [start, end) in UTC, so an SDR that ends exactly at midnight
belongs to the period that starts then, and consecutive periods never overlap or leave gaps.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum


class Cadence(StrEnum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"


@dataclass(frozen=True, order=True)
class Period:
    start: datetime
    end: datetime
    cadence: Cadence
    key: str

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def closes_at(self, grace_days: int) -> datetime:
        """When the period stops taking late SDRs: its end plus the grace time."""
        return self.end + timedelta(days=grace_days)

    def is_closed(self, now: datetime, grace_days: int) -> bool:
        return now >= self.closes_at(grace_days)

    def next(self) -> Period:
        return period_containing(self.end, self.cadence)

    def previous(self) -> Period:
        return period_containing(self.start - timedelta(microseconds=1), self.cadence)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def period_containing(moment: datetime, cadence: Cadence | str) -> Period:
    """The period of a cadence that contains a moment (aware; converted to UTC)."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    cadence = Cadence(cadence)
    day = moment.astimezone(UTC).date()
    if cadence is Cadence.DAILY:
        return Period(_midnight(day), _midnight(day + timedelta(days=1)), cadence, day.isoformat())
    if cadence is Cadence.WEEKLY:
        monday = day - timedelta(days=day.weekday())
        iso_year, iso_week, _ = monday.isocalendar()
        return Period(
            _midnight(monday), _midnight(monday + timedelta(days=7)), cadence, f"{iso_year}-W{iso_week:02d}"
        )
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(_midnight(first), _midnight(following), cadence, f"{first.year}-{first.month:02d}")


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_period_key(key: str) -> Period:
    """A period from its key: 2026-11 (month), 2026-W48 (ISO week), 2026-11-26 (day)."""
    key = (key or "").strip()
    try:
        if m := _MONTH.match(key):
            return period_containing(_midnight(date(int(m[1]), int(m[2]), 1)), Cadence.MONTHLY)
        if m := _WEEK.match(key):
            return period_containing(_midnight(date.fromisocalendar(int(m[1]), int(m[2]), 1)), Cadence.WEEKLY)
        if m := _DAY.match(key):
            return period_containing(_midnight(date(int(m[1]), int(m[2]), int(m[3]))), Cadence.DAILY)
    except ValueError:
        pass
    raise ValueError(f"not a period key: {key!r} (expected 2026-11, 2026-W48 or 2026-11-26)")


def first_open_period(
    moment: datetime, cadence: Cadence | str, *, is_final: Callable[[Period], bool]
) -> Period:
    """The period an SDR ending at `moment` settles in: its own, or the next one not yet final.

    A late SDR whose period is already final falls into the next open period, never into a
    finalised statement.
    """
    period = period_containing(moment, cadence)
    for _ in range(1000):
        if not is_final(period):
            return period
        period = period.next()
    raise RuntimeError("no open settlement period within 1000 periods")
