"""Reading fields of a JSON object into Python values, collecting a finding for each problem.

The primitives of the CDR shape check (settlement/validation/schema.py): strings with OCPI's
lengths, enumerations, RFC 3339 times, finite numbers, nested objects and arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from settlement.rating.values import fast_init

from . import findings as F
from .findings import Finding


@fast_init
@dataclass(frozen=True)
class Money:
    """An OCPI Price: excluding VAT, and including VAT when the CSO gave it."""

    excl_vat: Decimal
    incl_vat: Decimal | None

    def negated(self) -> Money:
        return Money(-self.excl_vat, None if self.incl_vat is None else -self.incl_vat)


def parse_datetime(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime (no offset means UTC, as OCPI says); None if not one."""
    if not isinstance(value, str) or len(value) < 19 or value[10] not in "Tt ":
        return None
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def parse_number(value: Any) -> Decimal | None:
    """A finite number as Decimal (floats through their shortest text, never their binary value)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str) and value.strip():
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


class Reader:
    """Reads fields of nested objects, collecting a finding for each problem instead of stopping."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def fail(self, code: str, path: str, message: str) -> None:
        self.findings.append(Finding(code, message, path))

    def present(self, obj: Mapping[str, Any], key: str, path: str, required: bool) -> Any:
        value = obj.get(key)
        if value is None and required:
            self.fail(F.MISSING_FIELD, path, f"{path} is required")
        return value

    def string(
        self, obj: Mapping[str, Any], key: str, path: str, *, max_len: int, required: bool = True
    ) -> str | None:
        value = obj.get(key)
        if type(value) is str and 0 < len(value) <= max_len and not value[0].isspace():
            return value  # the common case, answered without the checks below
        if value is None:
            if required:
                self.fail(F.MISSING_FIELD, path, f"{path} is required")
            return None
        if not isinstance(value, str):
            self.fail(F.INVALID_TYPE, path, f"{path} must be a string")
            return None
        if required and not value.strip():
            self.fail(F.MISSING_FIELD, path, f"{path} must not be empty")
            return None
        if len(value) > max_len:
            self.fail(F.INVALID_VALUE, path, f"{path} is longer than {max_len} characters")
            return None
        return value

    def cistring(
        self, obj: Mapping[str, Any], key: str, path: str, *, max_len: int, required: bool = True
    ) -> str | None:
        """OCPI CiString: printable ASCII, compared without regard to case."""
        value = obj.get(key)
        if (
            type(value) is str
            and 0 < len(value) <= max_len
            and not value[0].isspace()
            and value.isascii()
            and value.isprintable()
        ):
            return value  # the common case, answered without the checks below
        value = self.string(obj, key, path, max_len=max_len, required=required)
        if value is not None and not (value.isascii() and value.isprintable()):
            self.fail(F.INVALID_VALUE, path, f"{path} must be printable ASCII")
            return None
        return value

    def enum(self, obj: Mapping[str, Any], key: str, path: str, allowed: frozenset[str]) -> str | None:
        value = obj.get(key)
        if type(value) is str and value in allowed:
            return value  # the common case
        if value is None:
            self.fail(F.MISSING_FIELD, path, f"{path} is required")
            return None
        if not isinstance(value, str) or value not in allowed:
            self.fail(F.INVALID_ENUM, path, f"{path} must be one of {', '.join(sorted(allowed))}")
            return None
        return value

    def moment(
        self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = True
    ) -> datetime | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(F.MISSING_FIELD, path, f"{path} is required")
            return None
        parsed = parse_datetime(value)
        if parsed is None:
            self.fail(F.INVALID_DATETIME, path, f"{path} must be an RFC 3339 date and time")
        return parsed

    def number(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> Decimal | None:
        value = obj.get(key)
        if type(value) is float:  # the common case, as parse_number reads it
            number = Decimal(repr(value))
            if number.is_finite():
                return number
        if value is None:
            if required:
                self.fail(F.MISSING_FIELD, path, f"{path} is required")
            return None
        parsed = parse_number(value)
        if parsed is None:
            self.fail(F.INVALID_NUMBER, path, f"{path} must be a finite number")
        return parsed

    def boolean(self, obj: Mapping[str, Any], key: str, path: str) -> bool | None:
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.fail(F.INVALID_TYPE, path, f"{path} must be true or false")
            return None
        return value

    def object(
        self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = True
    ) -> Mapping[str, Any] | None:
        value = obj.get(key)
        if type(value) is dict:
            return value  # the common case
        if value is None:
            if required:
                self.fail(F.MISSING_FIELD, path, f"{path} is required")
            return None
        if not isinstance(value, Mapping):
            self.fail(F.INVALID_TYPE, path, f"{path} must be an object")
            return None
        return value

    def array(
        self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = True, min_items: int = 0
    ) -> list[Any] | None:
        value = self.present(obj, key, path, required)
        if value is None:
            return None
        if not isinstance(value, list):
            self.fail(F.INVALID_TYPE, path, f"{path} must be an array")
            return None
        if len(value) < min_items:
            self.fail(F.MISSING_FIELD, path, f"{path} needs at least {min_items} item(s)")
            return None
        return value

    def price(self, obj: Mapping[str, Any], key: str, *, required: bool = True) -> Money | None:
        value = self.object(obj, key, key, required=required)
        if value is None:
            return None
        excl = self.number(value, "excl_vat", f"{key}.excl_vat")
        incl = self.number(value, "incl_vat", f"{key}.incl_vat", required=False)
        return None if excl is None else Money(excl, incl)
