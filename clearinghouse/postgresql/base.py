"""The PostgreSQL backend of the hub: Django's, with a health check only where it can matter,
cursors for the hot paths whose statements PostgreSQL plans once, and time stamps read by psycopg's
compiled loader.

With CONN_HEALTH_CHECKS, Django proves a persistent connection with a `SELECT 1` at the start of
every request that uses it: one more round trip on every request of a busy process. A connection
that this process used less than a second ago needs no such proof; one that idled longer is checked
as before, so a process finds its way back after PostgreSQL restarts. A connection that breaks
while in steady use fails the request at hand (503, as any request in flight when the database goes
away) and is closed at that request's end, as Django closes any connection that saw an error.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from django.db.backends.postgresql.base import TIMESTAMPTZ_OID
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.adapt import AdaptersMap, Loader
from psycopg.pq import Format

# A connection used more recently than this is taken as healthy without a check.
RECENTLY_USED_SECONDS = 1.0

_PREPARED = "\x00prepared"
# psycopg prepares a statement the second time a connection runs it.
PREPARE_THRESHOLD = 1


# psycopg's own timestamptz loader: the compiled one when psycopg has its C extension.
_NATIVE_TIMESTAMPTZ = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)


class UtcTimestamptzLoader(Loader):
    """timestamptz values as psycopg's compiled loader reads them, for sessions in UTC.

    Django reads every timestamptz through a Python subclass of psycopg's pure-Python loader (to
    set the time zone it wants), so each value is parsed in Python: about 7 µs, a fifth of the hub's
    CPU for a batch of 1,000 EVSE statuses. In a session whose time zone is UTC (Django sets it so
    on every connection of the hub), the compiled loader already gives what Django's does: the same
    instant with `datetime.UTC`. `timezone` is what Django's cursors compare with their own.
    """

    timezone = datetime.UTC

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._native = _NATIVE_TIMESTAMPTZ(oid, context)
        # The compiled loader's own method answers each value: no Python frame of this class's.
        self.load = self._native.load  # type: ignore[method-assign]

    def load(self, data: Any) -> Any:
        return self._native.load(data)


_contexts: dict[int, tuple[AdaptersMap, AdaptersMap]] = {}


def _with_native_timestamptz(template: AdaptersMap) -> AdaptersMap:
    """Django's adapters for new connections, with the UTC loader for timestamptz."""
    known = _contexts.get(id(template))
    if known is None or known[0] is not template:
        context = AdaptersMap(template)
        context.register_loader("timestamptz", UtcTimestamptzLoader)
        known = _contexts[id(template)] = (template, context)
    return known[1]


class PreparedStatementCursor(psycopg.Cursor):  # type: ignore[type-arg]
    """psycopg's cursor with server-side binding (see DatabaseWrapper.prepared_cursor)."""


class DatabaseOperations(base.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str | None:
        if isinstance(cursor, PreparedStatementCursor):
            # The statement with its values in, for logs and query capture (as Django shows it).
            try:
                return self.compose_sql(sql, params)
            except psycopg.Error:
                return sql
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_used = 0.0

    def close_if_health_check_failed(self) -> None:
        now = time.monotonic()
        recently_used = now - self._last_used < RECENTLY_USED_SECONDS
        self._last_used = now
        if self.connection is not None and not self.health_check_done and recently_used:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        # Django turns psycopg's prepared statements off so that transaction-mode poolers work;
        # the hub talks to PostgreSQL directly. Only server-side binding cursors (prepared_cursor)
        # ever prepare; set OPTIONS["prepare_threshold"] = None when a pooler sits in between.
        options = self.settings_dict.get("OPTIONS", {})
        params["prepare_threshold"] = options.get("prepare_threshold", PREPARE_THRESHOLD)
        if self.timezone == datetime.UTC and "context" in params:
            params["context"] = _with_native_timestamptz(params["context"])
        return params

    def prepared_cursor(self) -> Any:
        """A cursor with server-side parameter binding: psycopg prepares a statement it has run a
        few times on this connection, and PostgreSQL then skips parsing and planning it (most of
        its CPU for a lookup by key). For the few fixed statements of the hot paths
        (clearinghouse.db.PreparedQuery); everything else keeps Django's client-side binding."""
        return self._cursor(name=_PREPARED)

    def create_cursor(self, name: str | None = None) -> Any:
        if name != _PREPARED:
            return super().create_cursor(name)
        cursor = PreparedStatementCursor(self.connection)
        # As Django does for its own cursors: the session's time zone for timestamptz values.
        tzloader = self.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
        if self.timezone != tzloader.timezone:
            register_tzloader(self.timezone, cursor)
        return cursor
