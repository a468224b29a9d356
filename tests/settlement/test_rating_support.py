"""Builders shared by the rating tests (this module holds no tests itself).

Sessions are described as a start instant plus consecutive segments, because
that is how a CPO's charging periods are laid out (each period ends where the
next begins, the last at the session end), and it keeps the hand arithmetic in
the tests readable.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.conformance import CONFORMANCE_DIR


def example(name: str) -> dict[str, Any]:
    """Load an official OCPI example unmodified, parsed as any JSON client would (floats)."""
    return json.loads((CONFORMANCE_DIR / name).read_text(encoding="utf-8"))


def local(when: str, tz: str) -> datetime:
    """A wall-clock time at the location, as an aware UTC datetime."""
    return datetime.fromisoformat(when).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def stamp(moment: datetime) -> str:
    """RFC 3339 UTC string with a Z, as CPOs send them."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def dims(**volumes: Any) -> list[dict[str, Any]]:
    """CdrDimension list from keyword arguments, e.g. dims(ENERGY="20", MAX_POWER=6)."""
    return [{"type": kind, "volume": volume} for kind, volume in volumes.items()]


def session(
    start: datetime,
    *segments: tuple[float | int, dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """A CDR-like dict: each segment is (seconds, dimensions-kwargs) and becomes a period.

    A ``tariff_id`` key inside a segment's dict is moved to the period.
    """
    periods = []
    moment = start
    for seconds, volumes in segments:
        volumes = dict(volumes)
        period: dict[str, Any] = {"start_date_time": stamp(moment)}
        tariff_id = volumes.pop("tariff_id", None)
        period["dimensions"] = dims(**volumes)
        if tariff_id is not None:
            period["tariff_id"] = tariff_id
        periods.append(period)
        moment += timedelta(seconds=seconds)
    cdr: dict[str, Any] = {
        "start_date_time": stamp(start),
        "end_date_time": stamp(moment),
        "charging_periods": periods,
    }
    cdr.update(extra)
    return cdr


def tariff(*elements: dict[str, Any], tariff_id: str = "T1", currency: str = "EUR", **extra: Any) -> dict:
    """An OCPI Tariff dict from element dicts."""
    data: dict[str, Any] = {"id": tariff_id, "currency": currency, "elements": list(elements)}
    data.update(extra)
    return data


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    """A TariffElement; keyword arguments become its restrictions."""
    data: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        data["restrictions"] = restrictions
    return data


def component(kind: str, price: Any, step_size: int = 1, vat: Any = None) -> dict[str, Any]:
    """A PriceComponent (vat omitted when None, as OCPI allows)."""
    data: dict[str, Any] = {"type": kind, "price": price, "step_size": step_size}
    if vat is not None:
        data["vat"] = vat
    return data
