"""Database helpers shared by the apps."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models.base import ModelState
from django.db.models.lookups import In
from django.db.models.signals import post_init, pre_init
from django.db.models.sql import Query


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


@models.Field.register_lookup
class AnyOf(In):
    """`field__any_of=values`: the rows whose field is one of `values`, as `field__in`, but on
    PostgreSQL written `field = ANY(%s)` with the values as one array parameter.

    An IN list of 500 values is a statement of 500 placeholders that the ORM compiles one by one,
    psycopg splits and quotes value by value and PostgreSQL parses: about 5 ms of the client's CPU
    for a read that takes under 3 with one array. The statement text stays the same whatever the
    number of values. A subquery or expressions among the values fall back to IN.
    """

    lookup_name = "any_of"

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        values = self.rhs  # each value prepared by In.get_prep_lookup
        if not self.rhs_is_direct_value() or any(hasattr(v, "resolve_expression") for v in values):
            return self.as_sql(compiler, connection)
        field = self.lhs.output_field
        prepared = [field.get_db_prep_value(v, connection, prepared=True) for v in values if v is not None]
        if not prepared:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, prepared]


# --- Prepared statements for the hot paths ----------------------------------------------------------
#
# Building and compiling a queryset costs far more CPU than PostgreSQL spends answering a lookup by a
# unique key. A prepared query is built with the ORM once per process and database, with a marker
# value in place of each parameter, and then run with the values of each call: the ORM remains the
# one description of the query (its joins, filters and conversions), without its per-call cost.


def statement_cursor(connection: Any) -> Any:
    """On PostgreSQL a cursor whose statements the server plans once (clearinghouse.postgresql)."""
    prepared = getattr(connection, "prepared_cursor", None)
    return prepared() if prepared is not None else connection.cursor()


_PLACEHOLDER = re.compile(r"%%|%s")
_PLAIN_TEXT = re.compile(r"[A-Za-z0-9_.:*-]*")


def _literal(value: Any) -> str | None:
    """A constant as SQL text, for the constants it is safe to write so (None: keep it a parameter)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    if isinstance(value, int):
        return str(int(value))
    text = str(value.value) if isinstance(value, Enum) else str(value)
    return f"'{text}'" if _PLAIN_TEXT.fullmatch(text) else None


def _constants_inlined(
    sql: str, params: list[Any], slotted: dict[int, str]
) -> tuple[str, list[Any], dict[int, str]]:
    """The statement with the query's own constants (the ORM's 1 of EXISTS, enumeration values of
    the filters) written into its text: every parameter is adapted again on every execution, a
    constant in the text costs nothing once the statement is prepared. The values of the call stay
    parameters; so does any constant that is not a plain integer or word."""
    out: list[str] = []
    kept: list[Any] = []
    kept_slots: dict[int, str] = {}
    position, last = 0, 0
    for match in _PLACEHOLDER.finditer(sql):
        if match.group() == "%%":
            continue
        out.append(sql[last : match.start()])
        literal = None if position in slotted else _literal(params[position])
        if literal is None:
            if position in slotted:
                kept_slots[len(kept)] = slotted[position]
            kept.append(params[position])
            out.append("%s")
        else:
            out.append(literal)
        last = match.end()
        position += 1
    if position != len(params):
        return sql, params, slotted  # placeholders the scan cannot account for: leave it as it is
    out.append(sql[last:])
    return "".join(out), kept, kept_slots


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
        slotted: dict[int, str] = {}
        for position, param in enumerate(params):
            for name, marker in adapted.items():
                if type(param) is type(marker) and param == marker:
                    slotted[position] = name
        missing = [name for name in markers if name not in slotted.values()]
        if missing:
            raise RuntimeError(f"prepared query: parameters {missing} do not reach the SQL")
        if connection.vendor == "postgresql":
            sql, params, slotted = _constants_inlined(sql, list(params), slotted)
        slots: dict[str, list[int]] = {name: [] for name in markers}
        for position, name in slotted.items():
            slots[name].append(position)
        columns = [alias_ for _expr, _sql, alias_ in compiler.select[: compiler.col_count]]
        converters = compiler.get_converters([expr for expr, _sql, _alias in compiler.select])
        compiled = _CompiledQuery(sql, tuple(params), slots, columns, compiler, converters)
        self._compiled[alias] = compiled
        return compiled

    def first(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> dict[str, Any] | None:
        """The first row for these values, as a dict keyed like `.values()`, or None."""
        sql, params = self.statement(using=using, **values)
        with statement_cursor(connections[using]) as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return None if row is None else self.row(row, using=using)

    def statement(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> tuple[str, list[Any]]:
        """The SQL and parameters for these values, for a caller that builds a larger statement
        around the query (its parameters come first); `row()` reads the query's columns back."""
        compiled = self._compiled.get(using) or self._compile(using)
        connection = connections[using]
        params = list(compiled.params)
        for name, positions in compiled.slots.items():
            value = self._adapt(connection, self._kinds[name], values[name])
            for position in positions:
                params[position] = value
        return compiled.sql, params

    def row(self, row: Sequence[Any], *, using: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
        """The query's columns at the start of a result row, converted as the ORM would."""
        compiled = self._compiled.get(using) or self._compile(using)
        row = tuple(row[: len(compiled.columns)])
        if compiled.converters:
            row = next(iter(compiled.compiler.apply_converters([row], compiled.converters)))
        return dict(zip(compiled.columns, row, strict=True))

    def columns(self, *, using: str = DEFAULT_DB_ALIAS) -> list[str]:
        """The names of the query's columns, in order (the `.values()` names)."""
        compiled = self._compiled.get(using) or self._compile(using)
        return list(compiled.columns)


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
        # Without a field that sets its own value on save, values are prepared straight from the
        # keywords: no model object to build for each row.
        self._from_values = not any(_has_own_pre_save(f) for f in self._fields)
        self._compiled: dict[str, tuple[str, bool, list[_ValuePlan]]] = {}

    def _compile(self, alias: str) -> tuple[str, bool, list[_ValuePlan]]:
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
        plan = _value_plan(self._fields, connection) if self._from_values else []
        self._compiled[alias] = (sql, returning, plan)
        return self._compiled[alias]

    def insert(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> Any:
        sql, returning, plan = self._compiled.get(using) or self._compile(using)
        connection = connections[using]
        if plan:
            params = _plan_values(self._model, plan, values)
        else:
            obj = self._model(**values)
            params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in self._fields]
        with statement_cursor(connection) as cursor:
            cursor.execute(sql, params)
            if returning:
                return cursor.fetchone()[0]
            meta = self._model._meta
            return connection.ops.last_insert_id(cursor, meta.db_table, meta.pk.column)


class InstanceBuilder:
    """Builds new model instances from values keyed by field attname, like `model(**values)`, at a
    fraction of the cost. With keyword arguments the constructor looks each field up and computes
    its default one by one (some 40 µs for a model of 40 fields); the builder computes the defaults
    the same way and sets one value per concrete field, which is all the constructor does for
    positional values (Model.from_db), without its loop of setattr calls: some 4 µs. When the model
    has pre_init or post_init receivers the values go to the constructor by position, so they run.
    Only concrete fields by attname (`cso_id`, not `cso`); unknown names raise TypeError.
    """

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        fields = list(model._meta.concrete_fields)
        self._attnames = [f.attname for f in fields]
        self._known = frozenset(self._attnames)
        self._constant: dict[str, Any] = {}  # the defaults that are the same for every instance
        self._fresh: list[Any] = []  # fields whose get_default() is called per instance
        for f in fields:
            default = f.get_default()
            # A callable default (timezone.now, uuid4) or a mutable one ({} for a JSONField) is
            # computed per instance, as the constructor would.
            if (f.has_default() and callable(f.default)) or isinstance(default, (dict, list, set)):
                self._fresh.append(f)
            else:
                self._constant[f.attname] = default

    def __call__(self, values: dict[str, Any]) -> models.Model:
        if not values.keys() <= self._known:
            raise TypeError(f"{self.model.__name__} has no fields {sorted(values.keys() - self._known)}")
        state = {**self._constant, **values}
        for field in self._fresh:
            if field.attname not in values:
                state[field.attname] = field.get_default()
        model = self.model
        if pre_init.has_listeners(model) or post_init.has_listeners(model):
            return model(*[state[attname] for attname in self._attnames])
        obj = model.__new__(model)
        obj._state = ModelState()
        # As Model.__init__ sets them: a plain attribute per field (the descriptors of foreign keys
        # only clear a cached related object, which a new instance does not have).
        obj.__dict__.update(state)
        return obj


def bulk_insert(
    objs: Sequence[models.Model],
    *,
    using: str = DEFAULT_DB_ALIAS,
    documents: Mapping[str, Sequence[str | None]] | None = None,
) -> None:
    """Insert new rows of one model and set their primary keys, like `bulk_create(objs)`.

    On PostgreSQL the keys come from the table's sequence in one query and the rows travel by COPY:
    no statement with one placeholder per value for the client to build and split, nor for the
    server to parse (a multi-row INSERT of 500 wide rows holds some 20,000). Values are prepared per
    field as Model.save() prepares them; no signals are sent (bulk_create sends none either). A
    unique violation raises IntegrityError for the whole batch, as bulk_create's does.

    `documents` gives, for a JSON field (by attname), the JSON text of each object's value when the
    caller has it already (None where it has not): sent as it is instead of encoding the value
    again. It must encode the same value; it matters only on PostgreSQL.
    """
    if not objs:
        return
    model = type(objs[0])
    connection = connections[using]
    meta = model._meta
    if connection.vendor != "postgresql" or meta.auto_field is None or meta.pk is not meta.auto_field:
        model._default_manager.using(using).bulk_create(objs)
        return
    fields = [f for f in meta.local_concrete_fields if not f.generated]
    qn = connection.ops.quote_name
    table = qn(meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)",
            [_key_sequence(connection, cursor, meta.db_table, meta.pk.column), len(objs)],
        )
        for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = pk
        columns = ", ".join(qn(f.column) for f in fields)
        plan = [_copy_value(f, connection) for f in fields]
        for attname, texts in (documents or {}).items():
            position = next((i for i, f in enumerate(fields) if f.attname == attname), None)
            if position is None or not isinstance(fields[position], models.JSONField):
                raise ValueError(f"bulk_insert: {model.__name__}.{attname} is not a JSON field")
            if len(texts) != len(objs):
                raise ValueError(f"bulk_insert: {len(texts)} documents for {len(objs)} objects")
            plan[position] = (_given_text(iter(texts), plan[position][0]), None)
        # Every field's value in one call per object; a value of a type the driver takes as it is
        # (see _copy_value) is sent without calling anything, the rest through their function.
        read = operator.attrgetter(*[f.attname for f in fields])
        single = len(fields) == 1
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for obj in objs:
                raws = (read(obj),) if single else read(obj)
                copy.write_row(
                    [
                        raw if kept is not None and (raw is None or type(raw) in kept) else value(obj)
                        for raw, (value, kept) in zip(raws, plan, strict=True)
                    ]
                )
    for obj in objs:
        obj._state.adding = False
        obj._state.db = using


# (database, table, column) -> the name of the sequence that numbers the column.
_SEQUENCES: dict[tuple[str, str, str], str] = {}


def _key_sequence(connection: Any, cursor: Any, table: str, column: str) -> str:
    """The sequence behind a table's key column, looked up once per process and database: called
    in the SELECT list, pg_get_serial_sequence would search the catalogs once per key drawn (some
    2 ms of the server's time for 500 keys, where nextval of a named sequence takes under 1)."""
    key = (str(connection.settings_dict.get("NAME")), table, column)
    name = _SEQUENCES.get(key)
    if name is None:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
        name = _SEQUENCES[key] = cursor.fetchone()[0]
    return name


def _given_text(texts: Iterator[str | None], otherwise: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A field's value for COPY from the caller's JSON texts, taken in the objects' order (each
    object's value is read once, in that order), or read off the object where the text is None."""

    def value(obj: models.Model) -> Any:
        text = next(texts)
        return otherwise(obj) if text is None else text

    return value


# The column kinds whose values the driver takes as they are, and the Python type each expects.
_READY_TYPES: tuple[tuple[tuple[type, ...], type], ...] = (
    ((models.BooleanField,), bool),
    ((models.IntegerField, models.AutoField), int),
    ((models.CharField, models.TextField), str),
    ((models.DecimalField,), Decimal),
)


def _ready_type(field: Any) -> type | None:
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    for kinds, expected in _READY_TYPES:
        if isinstance(target, kinds):
            return expected
    return None


def _ready_check(field: Any) -> Callable[[Any], bool] | None:
    """Whether a value already has the type the database driver expects for the field's column (a
    str for text, an aware datetime for a timestamp, ...), so preparing it would change nothing;
    None for fields whose values are always prepared."""
    expected = _ready_type(field)
    if expected is int:
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    if expected is not None:
        return lambda v: isinstance(v, expected)
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    if isinstance(target, models.DateTimeField):
        return lambda v: isinstance(v, datetime) and v.tzinfo is not None
    return None


def _has_own_pre_save(field: Any) -> bool:
    """Whether saving sets the field's value itself (auto_now, files): not a plain read."""
    if isinstance(field, models.DateField):
        return bool(field.auto_now or field.auto_now_add)
    return type(field).pre_save is not models.Field.pre_save


def _json_encoder(field: Any) -> Callable[[Any], str] | None:
    """For a JSON field, the encoding save() would give a value (json.dumps with the field's
    encoder, which psycopg calls with a new encoder each time), built once; None for other fields."""
    if not isinstance(field, models.JSONField):
        return None
    return (field.encoder or json.JSONEncoder)().encode


def _moment_text(field: Any) -> Callable[[datetime], str] | None:
    """For COPY into a timestamp with time zone column, an aware datetime's text as the driver
    writes it (`str(value)`, ISO 8601 with its offset), remembered per distinct moment: a batch
    stamps every row with the same few moments (received, updated), and the driver's adapter costs
    some four times a dictionary lookup. Equal datetimes are the same instant, so either's text
    stores the same value. None for other fields."""
    if not isinstance(field, models.DateTimeField) or not settings.USE_TZ:
        return None
    texts: dict[datetime, str] = {}

    def text(value: datetime) -> str:
        found = texts.get(value)
        if found is None:
            found = texts[value] = str(value)
        return found

    return text


def _ready_types(field: Any) -> frozenset[type]:
    """The exact types of the values _ready_check passes for the field (a subclass, say a bool for
    an integer field, is left to the check)."""
    expected = _ready_type(field)
    return frozenset() if expected is None else frozenset({expected})


def _copy_value(field: Any, connection: Any) -> tuple[Callable[[models.Model], Any], frozenset[type] | None]:
    """How to read one field's database value off an object for COPY: what Model.save() would send
    (pre_save, then get_db_prep_save), taking the value as it is when it already has the type the
    database driver expects, the case of nearly every value, where that preparation would change
    nothing. Returns the function and the types of the values it would return unchanged (None
    among them), for the caller to keep without calling it; None when it is always called."""
    attname = field.attname

    def prepared(obj: models.Model) -> Any:
        return field.get_db_prep_save(field.pre_save(obj, True), connection)

    if _has_own_pre_save(field):
        return prepared, None
    moment = _moment_text(field)
    if moment is not None:

        def timestamp(obj: models.Model) -> Any:
            raw = getattr(obj, attname)
            if raw is None:
                return None
            return moment(raw) if type(raw) is datetime and raw.tzinfo is not None else prepared(obj)

        return timestamp, frozenset()
    encode = _json_encoder(field)
    if encode is not None:

        def document(obj: models.Model) -> Any:
            raw = getattr(obj, attname)
            return encode(raw) if type(raw) is dict or type(raw) is list else prepared(obj)

        return document, None
    ready = _ready_check(field)
    if ready is None:
        return prepared, None

    def value(obj: models.Model) -> Any:
        raw = getattr(obj, attname)
        return raw if raw is None or ready(raw) else prepared(obj)

    return value, _ready_types(field)


def bulk_insert_values(
    model: type[models.Model], rows: Sequence[dict[str, Any]], *, using: str = DEFAULT_DB_ALIAS
) -> None:
    """Insert rows given as values (keyed by field attname; absent fields take their defaults) when
    nobody needs model objects or keys back: on PostgreSQL by COPY, without building an object
    per row. Elsewhere bulk_create. Fields with a pre_save of their own (auto_now, files) are not
    supported here: use bulk_insert."""
    if not rows:
        return
    connection = connections[using]
    meta = model._meta
    if connection.vendor != "postgresql":
        model._default_manager.using(using).bulk_create([model(**row) for row in rows])
        return
    fields = [f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field]
    for field in fields:
        if _has_own_pre_save(field):
            raise ValueError(f"bulk_insert_values: {model.__name__}.{field.name} needs pre_save")
    plan = _value_plan(fields, connection, encode_json=True)
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    unknown = set().union(*rows) - {attname for attname, _, _ in plan}
    if unknown:
        raise TypeError(f"bulk_insert_values: {model.__name__} has no fields {sorted(unknown)}")
    missing = object()
    # Per field: the value of an absent one when it is the same for every row (prepared once), and
    # the exact types prepare() returns as they are, kept without calling it.
    fast = [
        (attname, _fixed_default(field, default, prepare, missing), _ready_types(field), default, prepare)
        for field, (attname, default, prepare) in zip(fields, plan, strict=True)
    ]
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {qn(meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            values = []
            for attname, fixed, kept, default, prepare in fast:
                value = row.get(attname, missing)
                if value is missing:
                    values.append(prepare(default()) if fixed is missing else fixed)
                elif value is None or type(value) in kept:
                    values.append(value)
                else:
                    values.append(prepare(value))
            copy.write_row(values)


def _fixed_default(
    field: Any, default: Callable[[], Any], prepare: Callable[[Any], Any], missing: Any
) -> Any:
    """A field's prepared default when every row gets the same one (not computed per instance: a
    callable default such as timezone.now, or a mutable one); `missing` otherwise."""
    if field.has_default() and callable(field.default):
        return missing
    value = default()
    if isinstance(value, (dict, list, set)):
        return missing
    return prepare(value)


# Per field: its attname, its default, and how to turn a value into what the driver receives.
_ValuePlan = tuple[str, Callable[[], Any], Callable[[Any], Any]]


def _value_plan(fields: Sequence[Any], connection: Any, *, encode_json: bool = False) -> list[_ValuePlan]:
    """How to prepare each field's value as Model.save() would (get_db_prep_save), passing a value
    through as it is when it already has the type the driver expects. For fields without a
    pre_save of their own. With `encode_json` (COPY), a JSON field's dict or list becomes its text
    and an aware datetime for a timestamp with time zone its text too (see _moment_text)."""
    plan: list[_ValuePlan] = []
    for field in fields:
        ready = _ready_check(field)
        encode = _json_encoder(field) if encode_json else None
        moment = _moment_text(field) if encode_json else None
        if moment is not None:

            def prepare_moment(value: Any, field: Any = field, moment: Any = moment) -> Any:
                if value is None:
                    return None
                if type(value) is datetime and value.tzinfo is not None:
                    return moment(value)
                return field.get_db_prep_save(value, connection)

            plan.append((field.attname, field.get_default, prepare_moment))
            continue

        def prepare(value: Any, field: Any = field, ready: Any = ready, encode: Any = encode) -> Any:
            if value is None or (ready is not None and ready(value)):
                return value
            if encode is not None and (type(value) is dict or type(value) is list):
                return encode(value)
            return field.get_db_prep_save(value, connection)

        plan.append((field.attname, field.get_default, prepare))
    return plan


def _plan_values(model: type[models.Model], plan: list[_ValuePlan], values: dict[str, Any]) -> list[Any]:
    """One row's parameters from keyword values (field names or attnames; absent: the default)."""
    missing = object()
    params = []
    used = 0
    for attname, default, prepare in plan:
        value = values.get(attname, missing)
        if value is missing:
            params.append(prepare(default()))
        else:
            used += 1
            params.append(prepare(value))
    if used != len(values):
        unknown = sorted(set(values) - {attname for attname, _, _ in plan})
        raise TypeError(f"{model.__name__} has no fields {unknown}")
    return params


# --- Instances from hand-written SELECTs ------------------------------------------------------------


@dataclass(frozen=True)
class _RowPlan:
    init_names: list[str]
    init_positions: list[int]
    annotations: list[tuple[str, int]]
    compiler: Any
    converters: dict[int, Any]


_ROW_PLANS: dict[tuple[type[models.Model], str, tuple[str, ...]], _RowPlan] = {}


def _row_plan(model: type[models.Model], alias: str, columns: tuple[str, ...]) -> _RowPlan:
    key = (model, alias, columns)
    plan = _ROW_PLANS.get(key)
    if plan is not None:
        return plan
    connection = connections[alias]
    by_column = {f.column: f for f in model._meta.concrete_fields}
    fields = [by_column.get(c) for c in columns]
    if all(f is None or f.attname != model._meta.pk.attname for f in fields):
        raise ValueError(f"the statement must select the primary key of {model.__name__}")
    compiler = connection.ops.compiler("SQLCompiler")(Query(model), connection, alias)
    cols = [f.get_col(model._meta.db_table) if f else None for f in fields]
    # In field order, as Model.from_db expects them.
    init = sorted((model._meta.concrete_fields.index(f), f.attname, i) for i, f in enumerate(fields) if f)
    plan = _RowPlan(
        init_names=[name for _order, name, _pos in init],
        init_positions=[pos for _order, _name, pos in init],
        annotations=[(c, i) for i, (c, f) in enumerate(zip(columns, fields, strict=True)) if f is None],
        compiler=compiler,
        converters=compiler.get_converters(cols),
    )
    _ROW_PLANS[key] = plan
    return plan


def instance_from_row(
    model: type[models.Model], cursor: Any, row: Sequence[Any], *, using: str = DEFAULT_DB_ALIAS
) -> models.Model:
    """A model instance from a row of a hand-written SELECT, as `Model.objects.raw()` builds it
    (columns named like fields fill them, converted as the ORM would; the others become
    attributes), with the work that depends only on the statement's columns done once per process.

    raw() redoes that work for every statement it runs: for a one-row read by key on a hot path
    (the head of a delivery channel) it cost more of the client's CPU than the read itself.
    """
    columns = tuple(column[0] for column in cursor.description)
    plan = _row_plan(model, using, columns)
    if plan.converters:
        row = next(iter(plan.compiler.apply_converters([tuple(row)], plan.converters)))
    instance = model.from_db(using, plan.init_names, [row[pos] for pos in plan.init_positions])
    for column, pos in plan.annotations:
        setattr(instance, column, row[pos])
    return instance
