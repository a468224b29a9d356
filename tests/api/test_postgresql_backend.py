"""The hub's PostgreSQL backend checks a persistent connection only after it idled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connections

from clearinghouse.postgresql import base

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connections["default"].vendor != "postgresql", reason="the PostgreSQL backend"),
]


@pytest.fixture
def own() -> Iterator[base.DatabaseWrapper]:
    """A connection of its own, outside the test's transaction."""
    wrapper = connections.create_connection("default")
    assert isinstance(wrapper, base.DatabaseWrapper)
    wrapper.health_check_enabled = True
    yield wrapper
    wrapper.close()


def _request_uses(wrapper: base.DatabaseWrapper) -> None:
    wrapper.health_check_done = False  # what Django resets at each request's start and end
    wrapper.close_if_health_check_failed()


def test_a_recently_used_connection_is_not_checked_an_idle_one_is(own, monkeypatch):
    checks = []
    monkeypatch.setattr(own, "is_usable", lambda: checks.append(1) or True)
    clock = [1000.0]
    monkeypatch.setattr(base.time, "monotonic", lambda: clock[0])
    own.ensure_connection()
    _request_uses(own)
    assert not checks  # just connected: nothing to prove
    clock[0] += base.RECENTLY_USED_SECONDS + 0.1
    _request_uses(own)
    assert len(checks) == 1  # idled: checked
    clock[0] += 0.5
    _request_uses(own)
    assert len(checks) == 1  # used half a second ago: no round trip
    clock[0] += base.RECENTLY_USED_SECONDS + 0.1
    _request_uses(own)
    assert len(checks) == 2  # idled longer: checked again


def test_an_unusable_idle_connection_is_closed_and_the_next_use_reconnects(own, monkeypatch):
    own.ensure_connection()
    old = own.connection
    monkeypatch.setattr(own, "is_usable", lambda: False)
    own._last_used = 0.0
    _request_uses(own)
    assert own.connection is None
    monkeypatch.undo()
    with own.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert own.connection is not None and own.connection is not old


_STAMPS = (
    "'2026-11-26 12:40:17.310981+00'::timestamptz",
    "'2026-03-29 01:30:00.5+02'::timestamptz",
    "'2026-10-25 02:30:00-05:30'::timestamptz",
    "'0001-01-01 00:00:00+00'::timestamptz",
    "'9999-12-31 23:59:59.999999+00'::timestamptz",
    "'2024-02-29 12:00:00.000001+14'::timestamptz",
    "NULL::timestamptz",
)


def test_time_stamps_are_read_by_the_compiled_loader_as_djangos_loader_reads_them(own):
    from django.db.backends.postgresql.psycopg_any import register_tzloader

    query = "SELECT " + ", ".join(_STAMPS)
    with own.cursor() as cursor:
        assert isinstance(
            cursor.adapters.get_loader(base.TIMESTAMPTZ_OID, base.Format.TEXT).timezone,
            type(base.datetime.UTC),
        )
        cursor.execute(query)
        ours = cursor.fetchone()
        register_tzloader(own.timezone, cursor.cursor)  # Django's own loader, on this cursor only
        cursor.execute(query)
        djangos = cursor.fetchone()
    assert ours == djangos
    assert [value.tzinfo for value in ours if value] == [value.tzinfo for value in djangos if value]


def test_an_unrepresentable_time_stamp_fails_as_with_djangos_loader(own):
    from django.db import DataError

    with own.cursor() as cursor, pytest.raises(DataError):
        cursor.execute("SELECT 'infinity'::timestamptz")
        cursor.fetchone()
