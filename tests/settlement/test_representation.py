"""How SDR records show times: RFC 3339 in UTC with microseconds and a Z, whatever the zone given."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from settlement.representation import rfc3339


def strftime_text(moment: datetime) -> str:  # the format records have always had
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_times_are_shown_in_utc_as_they_always_were():
    rng = random.Random(7)
    start = datetime(2000, 1, 1, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    moments = [
        datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, tzinfo=plus_two),  # the same instant, another zone
        datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=plus_two),
        datetime(999, 1, 1, tzinfo=UTC),  # strftime does not pad such years
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        *(
            start + timedelta(seconds=rng.randrange(10**9), microseconds=rng.randrange(10**6))
            for _ in range(2000)
        ),
    ]
    for moment in moments:
        assert rfc3339(moment) == strftime_text(moment)
    assert rfc3339(moments[0]) == rfc3339(moments[1]) == "2026-03-01T10:00:00.000000Z"
    assert rfc3339(None) is None
