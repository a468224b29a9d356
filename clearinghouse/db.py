"""Database helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from django.db import DEFAULT_DB_ALIAS, connections, models


class DocumentField(models.JSONField):
    """A JSONField for whole documents (a CDR as received, an OCPI location, a delivery payload).

    On PostgreSQL, Django bulk-inserts rows through UNNEST over one array per column, and psycopg
    builds a JSON array parameter in pure Python, escaping documents character by character. A
    field with its own placeholder makes Django use a plain multi-row VALUES insert instead, where
    each document is adapted by the json module: about twice as fast for document-heavy rows.
    Migrations see an ordinary JSONField, so switching a field to it changes no schema.
    """

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        return "%s"

    def deconstruct(self) -> tuple[str, str, list[Any], dict[str, Any]]:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs


# --- Prepared statements for the hot paths ----------------------------------------------------------
#
# Building and compiling a queryset costs far more CPU than PostgreSQL spends answering a lookup by a
# unique key. A prepared query is built with the ORM once per process and database, with a marker
# value in place of each parameter, and then run with the values of each call: the ORM remains the
# one description of the query (its joins, filters and conversions), without its per-call cost.


def _statement_cursor(connection: Any) -> Any:
    """On PostgreSQL a cursor whose statements the server plans once (clearinghouse.postgresql)."""
    prepared = getattr(connection, "prepared_cursor", None)
    return prepared() if prepared is not None else connection.cursor()


class PreparedQuery:
    """A read query compiled once, run with new values: `query.first(name=value, ...)`.

    `build` receives one marker per parameter (`kinds` gives each one's type: int, str or datetime)
    and returns a `.values(...)` queryset; values are adapted and results converted as the ORM would.
    """

    _MARKERS: ClassVar[dict[type, Callable[[int], Any]]] = {
        int: lambda i: -(2**52) - i,
        str: lambda i: f"\x1fprepared-parameter-{i}\x1f",
        datetime: lambda i: datetime(1001 + i, 2, 3, 4, 5, 6, 789, tzinfo=UTC),
    }

    def __init__(self, build: Callable[..., models.QuerySet[Any]], **kinds: type) -> None:
        unknown = {name: kind for name, kind in kinds.items() if kind not in self._MARKERS}
        if unknown:
            raise TypeError(f"unsupported parameter types: {unknown}")
        self._build = build
        self._kinds = kinds
        self._compiled: dict[str, _CompiledQuery] = {}

    def _adapt(self, connection: Any, kind: type, value: Any) -> Any:
        if kind is datetime and value is not None:
            return connection.ops.adapt_datetimefield_value(value)
        return value

    def _compile(self, alias: str) -> _CompiledQuery:
        connection = connections[alias]
        markers = {name: self._MARKERS[kind](i) for i, (name, kind) in enumerate(self._kinds.items())}
        compiler = self._build(**markers).query.get_compiler(alias)
        sql, params = compiler.as_sql()
        adapted = {name: self._adapt(connection, self._kinds[name], m) for name, m in markers.items()}
        slots: dict[str, list[int]] = {name: [] for name in markers}
        for position, param in enumerate(params):
            for name, marker in adapted.items():
                if type(param) is type(marker) and param == marker:
                    slots[name].append(position)
        missing = [name for name, positions in slots.items() if not positions]
        if missing:
            raise RuntimeError(f"prepared query: parameters {missing} do not reach the SQL")
        columns = [alias_ for _expr, _sql, alias_ in compiler.select[: compiler.col_count]]
        converters = compiler.get_converters([expr for expr, _sql, _alias in compiler.select])
        compiled = _CompiledQuery(sql, tuple(params), slots, columns, compiler, converters)
        self._compiled[alias] = compiled
        return compiled

    def first(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> dict[str, Any] | None:
        """The first row for these values, as a dict keyed like `.values()`, or None."""
        compiled = self._compiled.get(using) or self._compile(using)
        connection = connections[using]
        params = list(compiled.params)
        for name, positions in compiled.slots.items():
            value = self._adapt(connection, self._kinds[name], values[name])
            for position in positions:
                params[position] = value
        with _statement_cursor(connection) as cursor:
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        if compiled.converters:
            row = next(iter(compiled.compiler.apply_converters([row], compiled.converters)))
        return dict(zip(compiled.columns, row, strict=True))


@dataclass(frozen=True)
class _CompiledQuery:
    sql: str
    params: tuple[Any, ...]
    slots: dict[str, list[int]]
    columns: list[str]
    compiler: Any
    converters: dict[int, Any]


class PreparedInsert:
    """The INSERT of one row of a model, compiled once; `insert(**values)` returns the new pk.

    Values are prepared field by field as Model.save() prepares them (defaults, pre_save, the
    database's adaptation); the model's save() is not called and no signals are sent.
    """

    def __init__(self, model: type[models.Model]) -> None:
        self._model = model
        self._fields = [
            f
            for f in model._meta.local_concrete_fields
            if not f.generated and f is not model._meta.auto_field
        ]
        self._compiled: dict[str, tuple[str, bool]] = {}

    def _compile(self, alias: str) -> tuple[str, bool]:
        from django.db.models.sql import InsertQuery

        connection = connections[alias]
        query = InsertQuery(self._model)
        query.insert_values(self._fields, [self._model()])
        compiler = query.get_compiler(alias)
        returning = bool(connection.features.can_return_columns_from_insert)
        compiler.returning_fields = [self._model._meta.pk] if returning else None
        [(sql, params)] = compiler.as_sql()
        if len(params) != len(self._fields):
            raise RuntimeError(f"prepared insert of {self._model.__name__}: not one parameter per field")
        self._compiled[alias] = (sql, returning)
        return sql, returning

    def insert(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> Any:
        sql, returning = self._compiled.get(using) or self._compile(using)
        connection = connections[using]
        obj = self._model(**values)
        params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in self._fields]
        with _statement_cursor(connection) as cursor:
            cursor.execute(sql, params)
            if returning:
                return cursor.fetchone()[0]
            meta = self._model._meta
            return connection.ops.last_insert_id(cursor, meta.db_table, meta.pk.column)
