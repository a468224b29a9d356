"""OCPI DateTime values: RFC 3339 strings in UTC (a missing designator means UTC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# OCPI allows fractional seconds and says timestamps are UTC; an explicit offset is converted.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})?")


def parse_datetime(value: object) -> datetime:
    """An aware UTC datetime from an OCPI DateTime string; ValueError when it is not one."""
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string")
    text = value.strip().upper()
    if not _RFC3339.fullmatch(text):
        raise ValueError("must be an RFC 3339 date-time such as 2019-06-24T12:39:09Z")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("is not a valid date-time") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """The OCPI spelling of a moment: UTC with a Z, fractional seconds only when there are any."""
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
