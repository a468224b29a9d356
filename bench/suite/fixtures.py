"""Data the benchmarks publish through the API: OCPI 2.2.1 locations with many EVSEs, tariffs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def evse_ids(operator_id: str, count: int) -> list[str]:
    return [f"{operator_id}*E{n:07d}" for n in range(1, count + 1)]


def locations(
    operator_id: str, evses: list[str], *, per_location: int = 100, tariff_id: str | None = None
) -> list[dict[str, Any]]:
    """OCPI Location objects holding the given EVSE IDs, `per_location` EVSEs each, one AC connector."""
    country, party = operator_id.split("*")
    stamp = rfc3339(datetime(2026, 1, 1, tzinfo=UTC))
    connector: dict[str, Any] = {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "max_electric_power": 22000,
        "last_updated": stamp,
    }
    if tariff_id:
        connector["tariff_ids"] = [tariff_id]
    found = []
    for start in range(0, len(evses), per_location):
        number = start // per_location + 1
        found.append(
            {
                "country_code": country,
                "party_id": party,
                "id": f"LOC{number:05d}",
                "publish": True,
                "name": f"Bench site {number}",
                "address": f"Benchstrasse {number}",
                "city": "Berlin",
                "postal_code": "10115",
                "country": "DEU",
                "coordinates": {
                    "latitude": f"{52.0 + number / 10000:.6f}",
                    "longitude": f"{13.0 + number / 10000:.6f}",
                },
                "parking_type": "ON_STREET",
                "evses": [
                    {
                        "uid": evse_id.replace("*", ""),
                        "evse_id": evse_id,
                        "status": "AVAILABLE",
                        "connectors": [connector],
                        "last_updated": stamp,
                    }
                    for evse_id in evses[start : start + per_location]
                ],
                "time_zone": "Europe/Berlin",
                "last_updated": stamp,
            }
        )
    return found
