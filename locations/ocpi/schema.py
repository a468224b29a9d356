"""A small declarative checker for OCPI objects.

An object's shape lists its fields (type, cardinality, length, enumeration, nesting); `clean()`
walks a parsed JSON value against it and returns a copy that holds only the known fields, with
every problem reported under its path (`evses[0].connectors[1].standard`). Fields the shape does
not know are dropped: OCPI tells receivers to ignore what they do not understand.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from .datetimes import parse_datetime

INVALID: Any = object()  # a field whose value was refused (its problem is already reported)

_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECIMAL = re.compile(r"-?\d{1,3}(?:\.\d{1,12})?")


class Problems:
    """The problems found while checking one document, each with the path of its field."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append({"path": path or "$", "message": message})

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


@dataclass(frozen=True)
class Field:
    """One property of an OCPI object."""

    kind: str
    required: bool = False
    max_length: int | None = None
    choices: frozenset[str] = frozenset()
    shape: Shape | None = None
    many: bool = False
    min_items: int = 0
    minimum: float | None = None
    maximum: float | None = None
    # OCPI wants a string; a JSON integer (e.g. "physical_reference": 3) is read as its digits.
    coerce_int: bool = False
    allow_24: bool = False  # a time of day that may be "24:00" (end of an opening period)
    predicate: Callable[[str], bool] | None = None
    predicate_message: str = ""


@dataclass(frozen=True)
class Shape:
    """An OCPI object: its fields, accepted aliases, and a check across fields."""

    name: str
    fields: dict[str, Field]
    aliases: dict[str, str] = field(default_factory=dict)
    check: Callable[[dict[str, Any], str, Problems], None] | None = None


def join(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


def clean(shape: Shape, value: Any, path: str, problems: Problems, *, partial: bool = False) -> Any:
    """The known fields of `value` checked against `shape`, or INVALID.

    With `partial` (an OCPI PATCH body) required fields may be missing and a null asks to remove
    the field, so nulls are kept as such for the merge.
    """
    if not isinstance(value, dict):
        problems.add(path, f"must be an object ({shape.name})")
        return INVALID
    before = len(problems)
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for key, raw in value.items():
        name = shape.aliases.get(key, key)
        spec = shape.fields.get(name)
        if spec is None or (name != key and name in value):
            continue  # unknown, or an alias next to the proper name (which wins)
        seen.add(name)
        if raw is None:
            if partial:
                out[name] = None
            elif spec.required:
                problems.add(join(path, name), "is required and may not be null")
            continue
        cleaned = clean_field(spec, raw, join(path, name), problems)
        if cleaned is not INVALID:
            out[name] = cleaned
    if not partial:
        for name, spec in shape.fields.items():
            if spec.required and name not in seen:
                problems.add(join(path, name), "is required")
    if len(problems) > before:
        return INVALID
    if shape.check is not None:
        shape.check(out, path, problems)
        if len(problems) > before:
            return INVALID
    return out


def clean_field(spec: Field, raw: Any, path: str, problems: Problems) -> Any:
    if spec.many:
        if not isinstance(raw, list):
            problems.add(path, "must be a list")
            return INVALID
        if len(raw) < spec.min_items:
            problems.add(path, f"must hold at least {spec.min_items} item(s)")
            return INVALID
        items = [_clean_one(spec, item, join(path, i), problems) for i, item in enumerate(raw)]
        return INVALID if any(item is INVALID for item in items) else items
    return _clean_one(spec, raw, path, problems)


def _clean_one(spec: Field, raw: Any, path: str, problems: Problems) -> Any:
    checker = _CHECKERS[spec.kind]
    return checker(spec, raw, path, problems)


def _string(spec: Field, raw: Any, path: str, problems: Problems) -> Any:
    if spec.coerce_int and isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        problems.add(path, "must be a string")
        return INVALID
    if spec.max_length is not None and len(raw) > spec.max_length:
        problems.add(path, f"must be at most {spec.max_length} characters")
        return INVALID
    if spec.kind == "cistring" and not (raw.isascii() and raw.isprintable()):
        problems.add(path, "may only hold printable ASCII characters")
        return INVALID
    if spec.predicate is not None and not spec.predicate(raw):
        problems.add(path, spec.predicate_message or "is not valid")
        return INVALID
    return raw


def _boolean(spec: Field, raw: Any, path: str, problems: Problems) -> Any:
    if not isinstance(raw, bool):
        problems.add(path, "must be true or false")
        return INVALID
    return raw


def _in_range(spec: Field, value: float, path: str, problems: Problems) -> bool:
    if spec.minimum is not None and value < spec.minimum:
        problems.add(path, f"must be at least {spec.minimum:g}")
        return False
    if spec.maximum is not None and value > spec.maximum:
        problems.add(path, f"must be at most {spec.maximum:g}")
        return False
    return True


def _integer(spec: Field, raw: Any, path: str, problems: Problems) -> Any:
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool):
        problems.add(path, "must be an integer")
        return INVALID
    return raw if _in_range(spec, raw, path, problems) else INVALID


def _number(spec: Field, raw: Any, path: str, problems: Problems) -> Any:
    if not isinstance(raw, (int, float)) or isinstance(raw, bool) or not math.isfinite(raw):
        problems.add(path, "must be a number")
        return INVALID
    return raw if _in_range(spec, raw, path, problems) else INVALID


def _datetime(spec: Field, raw: Any, path: str, problems: Problems) -> Any:
    try:
        parse_datetime(raw)
    except ValueError as exc:
        problems.add(path, str(exc))
        return INVALID
    return raw


def _enum(spec: Field, raw: Any, path: str, problems: Problems) -> Any:
    if not isinstance(raw, str) or raw not in spec.choices:
        shown = ", ".join(sorted(spec.choices)) if len(spec.choices) <= 16 else "the OCPI 2.2.1 values"
        problems.add(path, f"must be one of {shown}")
        return INVALID
    return raw


def _url(spec: Field, raw: Any, path: str, problems: Problems) -> Any:
    if not isinstance(raw, str) or len(raw) > 255:
        problems.add(path, "must be a URL of at most 255 characters")
        return INVALID
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems.add(path, "must be an absolute http or https URL")
        return INVALID
    return raw


def _time_of_day(spec: Field, raw: Any, path: str, problems: Problems) -> Any:
    if not isinstance(raw, str) or not (_HHMM.fullmatch(raw) or (spec.allow_24 and raw == "24:00")):
        problems.add(path, "must be a time of day HH:MM (00:00 to 23:59)")
        return INVALID
    return raw


def _date(spec: Field, raw: Any, path: str, problems: Problems) -> Any:
    if isinstance(raw, str) and _DATE.fullmatch(raw):
        try:
            date.fromisoformat(raw)
        except ValueError:
            pass
        else:
            return raw
    problems.add(path, "must be a date YYYY-MM-DD")
    return INVALID


def _decimal(spec: Field, raw: Any, path: str, problems: Problems) -> Any:
    """A coordinate: OCPI sends it as a decimal string; a JSON number is read leniently."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw):
        raw = repr(float(raw))
    if not isinstance(raw, str) or not _DECIMAL.fullmatch(raw.strip()):
        problems.add(path, 'must be a decimal number written as a string, e.g. "51.047599"')
        return INVALID
    raw = raw.strip()
    return raw if _in_range(spec, float(raw), path, problems) else INVALID


def _object(spec: Field, raw: Any, path: str, problems: Problems) -> Any:
    assert spec.shape is not None
    return clean(spec.shape, raw, path, problems)


_CHECKERS: dict[str, Callable[[Field, Any, str, Problems], Any]] = {
    "string": _string,
    "cistring": _string,
    "boolean": _boolean,
    "integer": _integer,
    "number": _number,
    "datetime": _datetime,
    "enum": _enum,
    "url": _url,
    "time": _time_of_day,
    "date": _date,
    "decimal": _decimal,
    "object": _object,
}


# Short constructors, so a shape reads like the specification's table.
def string(max_length: int, *, required: bool = False, coerce_int: bool = False, **kw: Any) -> Field:
    return Field("string", required=required, max_length=max_length, coerce_int=coerce_int, **kw)


def cistring(max_length: int, *, required: bool = False, coerce_int: bool = False, **kw: Any) -> Field:
    return Field("cistring", required=required, max_length=max_length, coerce_int=coerce_int, **kw)


def boolean(*, required: bool = False) -> Field:
    return Field("boolean", required=required)


def integer(*, required: bool = False, minimum: float | None = 0, maximum: float | None = None) -> Field:
    return Field("integer", required=required, minimum=minimum, maximum=maximum)


def number(*, required: bool = False, minimum: float | None = 0, maximum: float | None = None) -> Field:
    return Field("number", required=required, minimum=minimum, maximum=maximum)


def moment(*, required: bool = False) -> Field:
    return Field("datetime", required=required)


def enum(choices: frozenset[str], *, required: bool = False) -> Field:
    return Field("enum", required=required, choices=choices)


def url(*, required: bool = False) -> Field:
    return Field("url", required=required)


def time_of_day(*, required: bool = False, allow_24: bool = False) -> Field:
    return Field("time", required=required, allow_24=allow_24)


def day(*, required: bool = False) -> Field:
    return Field("date", required=required)


def decimal(*, required: bool = False, minimum: float, maximum: float) -> Field:
    return Field("decimal", required=required, minimum=minimum, maximum=maximum)


def nested(shape: Shape, *, required: bool = False) -> Field:
    return Field("object", required=required, shape=shape)


def many(item: Field, *, min_items: int = 0, required: bool = False) -> Field:
    """A list of `item`s (OCPI cardinality * or +)."""
    return Field(
        item.kind,
        required=required,
        max_length=item.max_length,
        choices=item.choices,
        shape=item.shape,
        many=True,
        min_items=min_items,
        minimum=item.minimum,
        maximum=item.maximum,
        coerce_int=item.coerce_int,
        allow_24=item.allow_24,
        predicate=item.predicate,
        predicate_message=item.predicate_message,
    )
