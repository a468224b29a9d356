"""Set-based SQL of the bulk status path: one statement per step, whatever the batch size.

Each column of a batch travels as ONE parameter: an array literal unpacked with `unnest` on
PostgreSQL (whose planner then knows the batch size and looks rows up by index), a JSON array
unpacked with `json_each` on SQLite. The number of statements and parameters stays constant, where
the ORM's bulk helpers would split a large batch into many statements on SQLite, and building one
string is far cheaper than having the driver quote thousands of values. Other databases fall back
to the ORM.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models.expressions import RawSQL

from .models import EVSE, EvseStatusChange

# (EVSE primary key, status, the CSO's time of the status)
Row = tuple[int, str, datetime]


def _names() -> dict[str, str]:
    q = connection.ops.quote_name
    return {"evse": q(EVSE._meta.db_table), "change": q(EvseStatusChange._meta.db_table)}


def _rows_json(rows: Sequence[Row]) -> str:
    # Datetimes in the text form Django's SQLite backend stores, so comparisons stay textual.
    adapt = connection.ops.adapt_datetimefield_value
    return json.dumps([[pk, status, adapt(ts)] for pk, status, ts in rows])


def pg_array(values: Iterable[Any]) -> str:
    """A PostgreSQL array literal of plain values (ids, EVSE IDs, statuses, ISO date-times).

    The values come checked (canonical EVSE IDs, enumerations, numbers); a quote or backslash
    would need escaping, so it is refused rather than let through.
    """
    texts = [value if type(value) is str else str(value) for value in values]
    if not texts:
        return "{}"
    inner = '","'.join(texts)
    # Each separator brings two quotes; any other quote is a value's.
    if inner.count('"') != 2 * (len(texts) - 1) or "\\" in inner:
        raise ValueError("array values may not hold quotes or backslashes")
    return '{"' + inner + '"}'


def values_in(values: Sequence[str]) -> Any:
    """`field__in=values_in([...])`: the values as one parameter, unpacked in SQL."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::text[])", [pg_array(values)])
    if connection.vendor == "sqlite":
        return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(list(values))])
    return list(values)


def _pg_columns(rows: Sequence[Row]) -> list[str]:
    return [
        pg_array(pk for pk, _, _ in rows),
        pg_array(status for _, status, _ in rows),
        pg_array(ts.isoformat() for _, _, ts in rows),
    ]


def relaxed_commit() -> None:
    """Let this transaction commit without waiting for its WAL to reach the disk (PostgreSQL).

    A status batch is superseded by the next one; after a database crash the last fraction of a
    second of batches may be lost, never a part of a batch, and nothing else is affected.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def evse_status_set(rows: Sequence[Row]) -> None:
    """Write the new status and status time of each given EVSE row."""
    if not rows:
        return
    names = _names()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {names['evse']} AS e SET status = v.status, status_updated_at = v.ts "  # noqa: S608
                "FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[]) AS v(id, status, ts) "
                # The second condition lets the planner fetch the rows by primary key rather than
                # hash the whole table.
                "WHERE e.id = v.id AND e.id = ANY(%s::bigint[])",
                [*(columns := _pg_columns(rows)), columns[0]],
            )
        elif connection.vendor == "sqlite":
            cursor.execute(
                f"UPDATE {names['evse']} SET status = v.s, status_updated_at = v.t "  # noqa: S608
                "FROM (SELECT json_extract(value, '$[0]') AS i, json_extract(value, '$[1]') AS s, "
                "json_extract(value, '$[2]') AS t FROM json_each(%s)) AS v "
                f"WHERE {names['evse']}.id = v.i",
                [_rows_json(rows)],
            )
        else:
            objs = [EVSE(pk=pk, status=status, status_updated_at=ts) for pk, status, ts in rows]
            EVSE.objects.bulk_update(objs, ["status", "status_updated_at"])


def evse_status_changes_insert(rows: Sequence[Row], *, received_at: datetime) -> None:
    """Append one change row per given (EVSE, status, time), in the given order.

    On PostgreSQL `received_at` is the database's clock at the insert, taken once the batch holds
    its row locks: the push compares it with the same clock, and a batch that waited for a lock
    does not look older than it is.
    """
    if not rows:
        return
    names = _names()
    columns = "(evse_id, status, timestamp, received_at)"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {names['change']} {columns} "  # noqa: S608
                "SELECT v.id, v.status, v.ts, clock_timestamp() FROM unnest(%s::bigint[], %s::text[], "
                "%s::timestamptz[]) WITH ORDINALITY AS v(id, status, ts, n) ORDER BY v.n",
                _pg_columns(rows),
            )
        elif connection.vendor == "sqlite":
            cursor.execute(
                f"INSERT INTO {names['change']} {columns} "  # noqa: S608
                "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
                "json_extract(value, '$[2]'), %s FROM json_each(%s) ORDER BY key",
                [connection.ops.adapt_datetimefield_value(received_at), _rows_json(rows)],
            )
        else:
            EvseStatusChange.objects.bulk_create(
                [
                    EvseStatusChange(evse_id=pk, status=status, timestamp=ts, received_at=received_at)
                    for pk, status, ts in rows
                ]
            )
