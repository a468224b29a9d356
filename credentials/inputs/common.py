"""Shared checks of what partners send: the problem type, field readers, normalisers.

Every function raises InputProblem (code, message, field) for input that cannot be used. Messages
never repeat the value they refuse: credential values, PINs and passwords end up nowhere but in
the keyed hash and the password hash.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from clearinghouse.lib.identifiers import IdentifierError, parse_contract_id

from ..decision import Whitelist, parse_rfc3339

TYPES = ("RFID", "QR_STATIC", "QR_DYNAMIC", "APP_USER", "PNC", "REMOTE")
# The types whose value is the contract ID itself.
CONTRACT_TYPES = frozenset({"QR_STATIC", "QR_DYNAMIC", "PNC", "REMOTE"})
STATES = ("VALID", "BLOCKED", "EXPIRED")
WHITELISTS = tuple(w.value for w in Whitelist)
DEFAULT_WHITELIST = Whitelist.ALLOWED.value

PIN_RE = re.compile(r"[0-9]{4,12}")
_FINGERPRINT_SEPARATORS_RE = re.compile(r"[:\s]")
_FINGERPRINT_RE = re.compile(r"[0-9a-f]{64}")
EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,63}")
PHONE_RE = re.compile(r"\+?[0-9][0-9 ()/-]{2,31}")
_MAX_TEXT = 64


class InputProblem(ValueError):
    """Input that cannot be used: a machine code, a message for people, the field at fault."""

    def __init__(self, code: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def read_object(data: Any, what: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InputProblem("invalid_body", f"{what} must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InputProblem("unknown_field", f"unknown field(s): {', '.join(unknown)[:200]}", unknown[0])
    return data


def read_text(data: dict[str, Any], key: str, *, max_length: int = _MAX_TEXT) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_length or not value.isprintable():
        raise InputProblem("invalid_field", f"{key} must be printable text of at most {max_length}", key)
    return value.strip()


def read_choice(data: dict[str, Any], key: str, choices: tuple[str, ...], default: str | None = None) -> str:
    value = data.get(key)
    if value is None and default is not None:
        return default
    if value not in choices:
        raise InputProblem(f"invalid_{key}", f"{key} must be one of {', '.join(choices)}", key)
    return str(value)


def read_when(data: dict[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise InputProblem(
            "invalid_datetime", f"{key} must be an RFC 3339 date-time with offset", key
        ) from None


def read_secret(data: dict[str, Any], key: str, max_length: int) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise InputProblem(f"invalid_{key}", f"{key} must be text of at most {max_length} characters", key)
    return value


def identifier_problem(exc: IdentifierError, field_name: str) -> InputProblem:
    return InputProblem(exc.code, exc.message, field_name)


def normalize_fingerprint(value: Any) -> str:
    """A certificate's SHA-256 fingerprint as 64 lower-case hex digits (colons and spaces dropped)."""
    if not isinstance(value, str) or len(value) > 200:
        raise InputProblem("invalid_fingerprint", "certificate_fingerprint must be a SHA-256 hex digest")
    text = _FINGERPRINT_SEPARATORS_RE.sub("", value).lower()
    if not _FINGERPRINT_RE.fullmatch(text):
        raise InputProblem(
            "invalid_fingerprint", "certificate_fingerprint must be a SHA-256 hex digest (64 hex digits)"
        )
    return text


def normalize_username(value: Any) -> str:
    """An app username, compared without case and surrounding blanks."""
    if not isinstance(value, str) or not value.strip() or len(value) > 128 or not value.isprintable():
        raise InputProblem(
            "invalid_username", "an APP_USER value is a username of 1 to 128 printable characters"
        )
    return value.strip().casefold()


def normalize_contract(value: Any, field_name: str = "contract_id") -> str:
    try:
        return parse_contract_id(value).normalized()
    except IdentifierError as exc:
        raise identifier_problem(exc, field_name) from None
