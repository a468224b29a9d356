"""Searching the whole database for values that must be gone."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from django.apps import apps
from django.db import connection, models

_TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField, models.BinaryField, models.FileField)


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def stored_texts() -> Iterator[tuple[str, str]]:
    """(where, text) for every text, char, JSON, binary and file column of every row of every model
    of every installed app that has a table."""
    tables = set(connection.introspection.table_names())
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed or meta.db_table not in tables:
            continue
        fields = [f for f in meta.concrete_fields if isinstance(f, _TEXT_FIELDS)]
        if not fields:
            continue
        for pk, *values in model._base_manager.values_list("pk", *[f.attname for f in fields]):
            for f, value in zip(fields, values, strict=True):
                yield f"{meta.label}.{f.name}#{pk}", _as_text(value)


def raw_rows() -> Iterator[tuple[str, str]]:
    """PostgreSQL: every row of every table as PostgreSQL writes it as text (SELECT t::text)."""
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT t::text FROM {connection.ops.quote_name(table)} t")
            for (text,) in cursor.fetchall():
                yield table, text


def occurrences(needles: Iterable[str]) -> list[tuple[str, str]]:
    """Where any of the needles appears (case-insensitive), in the models' columns and, on
    PostgreSQL, in the raw rows (bytea columns there read as hex: searched as hex too)."""
    wanted = {n.lower() for n in needles if n}
    found = [(where, needle) for where, text in stored_texts() for needle in wanted if needle in text.lower()]
    if connection.vendor == "postgresql":
        hexed = {needle.encode().hex(): needle for needle in wanted}
        hexed.update({needle.upper().encode().hex(): needle for needle in wanted})
        for table, text in raw_rows():
            lowered = text.lower()
            found += [(f"raw:{table}", needle) for needle in wanted if needle in lowered]
            found += [(f"raw-hex:{table}", needle) for h, needle in hexed.items() if h in lowered]
    return found


Snapshot = dict[tuple[str, object], tuple[str, ...]]


def snapshot() -> Snapshot:
    """Every row's text columns, by (model label, primary key)."""
    rows: dict[tuple[str, object], list[str]] = {}
    for where, text in stored_texts():
        label_field, pk = where.rsplit("#", 1)
        label = label_field.rsplit(".", 1)[0]
        rows.setdefault((label, pk), []).append(text)
    return {key: tuple(texts) for key, texts in rows.items()}


def changes(
    before: Snapshot, after: Snapshot, *, ignore: Iterable[str] = ()
) -> dict[str, set[tuple[str, str]]]:
    """What differs between two snapshots: {"changed"|"deleted"|"added": {(label, pk)}}."""
    skip = set(ignore)
    keep = lambda keys: {(label, str(pk)) for label, pk in keys if label not in skip}  # noqa: E731
    return {
        "changed": keep(k for k in before.keys() & after.keys() if before[k] != after[k]),
        "deleted": keep(before.keys() - after.keys()),
        "added": keep(after.keys() - before.keys()),
    }
