"""Building blocks of the SDR tests: documents (locations, tariffs, CDRs) and a published world."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clearinghouse.lib.identifiers import make_contract_id
from partners.services import agreement_create
from tests.support import Onboarded

START = "2025-03-04T10:00:00Z"  # a Tuesday; Europe/Berlin is UTC+1
END = "2025-03-04T12:00:00Z"
AGREED_FROM = datetime(2020, 1, 1, tzinfo=UTC)


def contract_of(country: str, party: str, instance: str = "C00000001") -> str:
    return make_contract_id(country, party, instance)


def location_doc(
    operator: str,
    *,
    location_id: str = "LOC1",
    evse_suffix: str = "E100",
    connector_id: str = "1",
    max_electric_power: int | None = 22000,
    tariff_ids: list[str] | None = None,
    time_zone: str = "Europe/Berlin",
) -> dict[str, Any]:
    """An OCPI Location of the CSO `operator` with one EVSE of one connector."""
    country, party = operator.split("*")
    connector: dict[str, Any] = {
        "id": connector_id,
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "tariff_ids": ["T1"] if tariff_ids is None else tariff_ids,
        "last_updated": "2024-01-01T00:00:00Z",
    }
    if max_electric_power is not None:
        connector["max_electric_power"] = max_electric_power
    return {
        "country_code": country,
        "party_id": party,
        "id": location_id,
        "publish": True,
        "name": "Depot",
        "address": "Hauptstrasse 1",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DEU",
        "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
        "time_zone": time_zone,
        "evses": [
            {
                "uid": f"{location_id}-1",
                "evse_id": f"{operator}*{evse_suffix}",
                "status": "AVAILABLE",
                "connectors": [connector],
                "last_updated": "2024-01-01T00:00:00Z",
            }
        ],
        "last_updated": "2024-01-01T00:00:00Z",
    }


def tariff_doc(
    operator: str,
    *,
    tariff_id: str = "T1",
    currency: str = "EUR",
    energy_price: float = 0.30,
    vat: float = 19.0,
    targets: list[str] | None = None,
) -> dict[str, Any]:
    """An energy-only tariff: `energy_price` per kWh excl. VAT, billed per Wh."""
    country, party = operator.split("*")
    doc: dict[str, Any] = {
        "country_code": country,
        "party_id": party,
        "id": tariff_id,
        "currency": currency,
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": energy_price, "vat": vat, "step_size": 1}]}
        ],
        "last_updated": "2024-01-01T00:00:00Z",
    }
    if targets is not None:
        doc["target_provider_ids"] = targets
    return doc


def cdr_doc(
    operator: str,
    contract_id: str,
    *,
    sdr_id: str = "SDR-1",
    evse_suffix: str = "E100",
    energy: float = 20.0,
    excl: float = 6.0,
    incl: float | None = 7.14,
    tariff_id: str | None = "T1",
    **overrides: Any,
) -> dict[str, Any]:
    """A consistent OCPI CDR: two hours, `energy` kWh, priced at 0.30/kWh + 19 % (6.00 / 7.14)."""
    country, party = operator.split("*")
    period: dict[str, Any] = {"start_date_time": START, "dimensions": [{"type": "ENERGY", "volume": energy}]}
    if tariff_id is not None:
        period["tariff_id"] = tariff_id
    total_cost: dict[str, Any] = {"excl_vat": excl}
    if incl is not None:
        total_cost["incl_vat"] = incl
    doc: dict[str, Any] = {
        "country_code": country,
        "party_id": party,
        "id": sdr_id,
        "start_date_time": START,
        "end_date_time": END,
        "session_id": f"S-{sdr_id}",
        "cdr_token": {
            "country_code": contract_id[:2],
            "party_id": contract_id[3:6],
            "uid": "04A2B3C4D5E6F7",
            "type": "RFID",
            "contract_id": contract_id,
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "LOC1",
            "name": "Depot",
            "address": "Hauptstrasse 1",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DEU",
            "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
            "evse_uid": "LOC1-1",
            "evse_id": f"{operator}*{evse_suffix}",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "charging_periods": [period],
        "total_cost": total_cost,
        "total_energy": energy,
        "total_energy_cost": dict(total_cost),
        "total_time": 2.0,
        "last_updated": END,
    }
    doc.update(copy.deepcopy(overrides))
    return doc


@dataclass
class World:
    """A CSO with a published location and tariff, a CSP with an agreement, and a contract of it."""

    cso: Onboarded
    csp: Onboarded
    contract: str

    @property
    def operator(self) -> str:
        return self.cso.partner.operator_id

    def cdr(self, **kw: Any) -> dict[str, Any]:
        return cdr_doc(self.operator, self.contract, **kw)


def publish(cso: Onboarded, *docs: dict[str, Any]) -> None:
    """Publish locations and tariffs through the locations API, as a CSO does."""
    for doc in docs:
        if "elements" in doc:
            r = cso.client.put(f"/tariffs/{doc['id']}", doc)
        else:
            r = cso.client.put(f"/locations/{doc['id']}", doc)
        assert r.status_code in (200, 201), r.content


def build_world(cso: Onboarded, csp: Onboarded, **agreement: Any) -> World:
    agreement_create(cso=cso.partner, csp=csp.partner, valid_from=AGREED_FROM, **agreement)
    operator = cso.partner.operator_id
    publish(cso, tariff_doc(operator), location_doc(operator))
    return World(cso=cso, csp=csp, contract=contract_of(csp.partner.country_code, csp.partner.party_id))
