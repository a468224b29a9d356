"""Readers shared by the command and session parsers: the error they raise, text, choices, times,
numbers and identifiers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from clearinghouse.lib.identifiers import IdentifierError, parse_contract_id, parse_evse_id

# OCPI numbers carry four decimals; more would be noise the hub cannot store exactly.
FOUR_PLACES = Decimal("0.0001")
MAX_AMOUNT = Decimal("9999999999.9999")
ID_LENGTH = 36


class InputProblem(ValueError):
    """Input that cannot be used: a machine code, a message for people, the field at fault."""

    def __init__(self, code: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def object_of(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InputProblem("invalid_body", f"{what} must be a JSON object")
    return data


def text_of(data: dict[str, Any], key: str, *, max_length: int = ID_LENGTH, required: bool = False) -> str:
    """A printable string (an integer is read as its decimal text: OCPI ids are sometimes sent so)."""
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise InputProblem("missing_field", f"{key} is required", key)
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise InputProblem("invalid_field", f"{key} must be a non-empty string", key)
    value = value.strip()
    if len(value) > max_length or not value.isprintable() or not value.isascii():
        raise InputProblem("invalid_field", f"{key} must be printable ASCII of at most {max_length}", key)
    return value


def choice_of(data: dict[str, Any], key: str, choices: tuple[str, ...], *, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise InputProblem("missing_field", f"{key} is required", key)
        return ""
    if value not in choices:
        raise InputProblem("invalid_field", f"{key} must be one of {', '.join(choices)}", key)
    return str(value)


def parse_rfc3339(value: Any) -> datetime:
    """An aware UTC datetime from an RFC 3339 string with a time and an offset; ValueError otherwise."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        raise ValueError("not an RFC 3339 date-time")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None or "T" not in text.upper():
        raise ValueError("an RFC 3339 date-time with a time and a UTC offset is required")
    return parsed.astimezone(UTC)


def rfc3339(value: datetime | None) -> str | None:
    """UTC with "Z"; microseconds only when there are some, so what a partner sent reads back alike."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def when_of(data: dict[str, Any], key: str, *, required: bool = False) -> datetime | None:
    value = data.get(key)
    if value is None:
        if required:
            raise InputProblem("missing_field", f"{key} is required", key)
        return None
    try:
        return parse_rfc3339(value)
    except (ValueError, OverflowError):
        raise InputProblem(
            "invalid_datetime", f"{key} must be an RFC 3339 date-time with offset", key
        ) from None


def number_of(value: Any, key: str) -> Decimal:
    """A non-negative number with at most four decimals (rounded half-even beyond that)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InputProblem("invalid_number", f"{key} must be a number", key)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InputProblem("invalid_number", f"{key} must be a number", key) from None
    if not number.is_finite() or number < 0 or number > MAX_AMOUNT:
        raise InputProblem("invalid_number", f"{key} must be a finite number from 0 to {MAX_AMOUNT}", key)
    return number.quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN)


def contract_of(value: Any, key: str) -> str:
    try:
        return parse_contract_id(value).normalized()
    except IdentifierError as exc:
        raise InputProblem(exc.code, exc.message, key) from None


def evse_of(value: Any, key: str = "evse_id") -> str:
    try:
        return str(parse_evse_id(value))
    except IdentifierError as exc:
        raise InputProblem(exc.code, exc.message, key) from None


def json_number(value: Decimal | int) -> int | float:
    """A Decimal as the JSON number a partner would have sent (an integer stays an integer)."""
    normalized = Decimal(value).normalize()
    return int(normalized) if normalized == normalized.to_integral_value() else float(normalized)
