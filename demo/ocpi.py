"""The demo CSOs' networks and tariffs as OCPI 2.2.1 objects, and the CDRs of their sessions.

Shaped after the official examples (location_example.json, tariff_8_simple_025kwh.json,
cdr_example.json) with the demo CSO's own party, EVSE IDs under its operator ID, and times of today.
The cost of a session is computed here the way the hub's rating engine does for these simple tariffs
(a price per kWh, optionally a fee per session), so a correct CDR carries no finding and a wrong one
is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def stamp(moment: datetime) -> str:
    """RFC 3339 in UTC with Z, as the API speaks."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class TariffSpec:
    """A tariff of the demo: a price per kWh, an optional session fee, VAT; optionally targeted."""

    tariff_id: str
    energy_price: Decimal
    vat: Decimal
    flat_fee: Decimal = Decimal(0)
    target_provider_ids: tuple[str, ...] = ()
    text: str = ""

    def document(self, country: str, party_id: str, last_updated: datetime) -> dict[str, Any]:
        components: list[dict[str, Any]] = []
        if self.flat_fee:
            components.append(
                {"type": "FLAT", "price": float(self.flat_fee), "vat": float(self.vat), "step_size": 1}
            )
        components.append(
            {"type": "ENERGY", "price": float(self.energy_price), "vat": float(self.vat), "step_size": 1}
        )
        doc: dict[str, Any] = {
            "country_code": country,
            "party_id": party_id,
            "id": self.tariff_id,
            "currency": "EUR",
            "type": "REGULAR",
            "tariff_alt_text": [{"language": "en", "text": self.text}] if self.text else [],
            "elements": [{"price_components": components}],
            "last_updated": stamp(last_updated),
        }
        if self.target_provider_ids:
            doc["target_provider_ids"] = list(self.target_provider_ids)
        return doc

    def cost(self, kwh: Decimal) -> tuple[Decimal, Decimal]:
        """(excl. VAT, incl. VAT) of a session of `kwh`, rounded to cents."""
        excl = self.flat_fee + self.energy_price * kwh
        incl = excl * (1 + self.vat / 100)
        return excl.quantize(CENT, ROUND_HALF_UP), incl.quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class ConnectorSpec:
    connector_id: str
    standard: str
    format: str
    power_type: str
    max_voltage: int
    max_amperage: int
    max_electric_power: int
    tariff_ids: tuple[str, ...]


@dataclass(frozen=True)
class EvseSpec:
    uid: str
    evse_id: str
    connectors: tuple[ConnectorSpec, ...]
    location_id: str
    published: bool


@dataclass
class LocationSpec:
    location_id: str
    name: str
    address: str
    city: str
    postal_code: str
    country: str  # ISO 3166 alpha-3, as OCPI wants
    latitude: str
    longitude: str
    time_zone: str
    publish: bool
    evses: list[EvseSpec] = field(default_factory=list)

    def document(self, country: str, party_id: str, operator: str, last_updated: datetime) -> dict[str, Any]:
        when = stamp(last_updated)
        return {
            "country_code": country,
            "party_id": party_id,
            "id": self.location_id,
            "publish": self.publish,
            "name": self.name,
            "address": self.address,
            "city": self.city,
            "postal_code": self.postal_code,
            "country": self.country,
            "coordinates": {"latitude": self.latitude, "longitude": self.longitude},
            "parking_type": "ON_STREET",
            "evses": [
                {
                    "uid": evse.uid,
                    "evse_id": evse.evse_id,
                    "status": "AVAILABLE",
                    "capabilities": ["REMOTE_START_STOP_CAPABLE", "RFID_READER"],
                    "connectors": [
                        {
                            "id": c.connector_id,
                            "standard": c.standard,
                            "format": c.format,
                            "power_type": c.power_type,
                            "max_voltage": c.max_voltage,
                            "max_amperage": c.max_amperage,
                            "max_electric_power": c.max_electric_power,
                            "tariff_ids": list(c.tariff_ids),
                            "last_updated": when,
                        }
                        for c in evse.connectors
                    ],
                    "physical_reference": evse.uid[-1],
                    "last_updated": when,
                }
                for evse in self.evses
            ],
            "operator": {"name": operator},
            "time_zone": self.time_zone,
            "opening_times": {"twentyfourseven": True},
            "last_updated": when,
        }


@dataclass
class Network:
    """One CSO's locations and tariffs."""

    locations: list[LocationSpec]
    tariffs: list[TariffSpec]

    def evses(self, *, published: bool | None = None) -> list[EvseSpec]:
        return [
            evse
            for location in self.locations
            for evse in location.evses
            if published is None or evse.published == published
        ]

    def tariff(self, tariff_id: str) -> TariffSpec:
        return next(t for t in self.tariffs if t.tariff_id == tariff_id)

    def location_of(self, evse: EvseSpec) -> LocationSpec:
        return next(loc for loc in self.locations if loc.location_id == evse.location_id)


def _ac(tariffs: tuple[str, ...]) -> ConnectorSpec:
    return ConnectorSpec("1", "IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 32, 22080, tariffs)


def _dc(tariffs: tuple[str, ...]) -> ConnectorSpec:
    return ConnectorSpec("1", "IEC_62196_T2_COMBO", "CABLE", "DC", 920, 200, 150000, tariffs)


def _site(
    operator_id: str,
    number: int,
    *,
    publish: bool,
    ac: int,
    dc: int,
    place: dict[str, str],
    tariffs: dict[str, tuple],
) -> LocationSpec:
    location_id = f"LOC{number}"
    location = LocationSpec(location_id=location_id, publish=publish, **place)
    for index in range(1, ac + dc + 1):
        connector = _ac(tariffs["AC"]) if index <= ac else _dc(tariffs["DC"])
        location.evses.append(
            EvseSpec(
                uid=f"{number}0{index}",
                evse_id=f"{operator_id}*E{number}0{index}*1",
                connectors=(connector,),
                location_id=location_id,
                published=publish,
            )
        )
    return location


def network_berlin(operator_id: str, partner_provider_id: str) -> Network:
    """The German CSO: two public sites and an unpublished depot; a lower AC price for one partner."""
    tariffs = [
        TariffSpec("AC-STANDARD", Decimal("0.39"), Decimal("19"), text="0.39 EUR/kWh excl. VAT"),
        TariffSpec(
            "AC-PARTNER",
            Decimal("0.34"),
            Decimal("19"),
            target_provider_ids=(partner_provider_id,),
            text="0.34 EUR/kWh excl. VAT for partners",
        ),
        TariffSpec(
            "DC-FAST",
            Decimal("0.59"),
            Decimal("19"),
            flat_fee=Decimal("1.00"),
            text="1.00 EUR + 0.59 EUR/kWh",
        ),
    ]
    ids = {"AC": ("AC-STANDARD", "AC-PARTNER"), "DC": ("DC-FAST",)}
    berlin = {"time_zone": "Europe/Berlin", "country": "DEU"}
    locations = [
        _site(operator_id, 1, publish=True, ac=2, dc=1, tariffs=ids, place={
            "name": "Alexanderplatz", "address": "Alexanderplatz 1", "city": "Berlin",
            "postal_code": "10178", "latitude": "52.521918", "longitude": "13.413215", **berlin}),
        _site(operator_id, 2, publish=True, ac=2, dc=0, tariffs=ids, place={
            "name": "Potsdamer Platz", "address": "Potsdamer Platz 5", "city": "Berlin",
            "postal_code": "10785", "latitude": "52.509663", "longitude": "13.376481", **berlin}),
        _site(operator_id, 3, publish=False, ac=1, dc=0, tariffs=ids, place={
            "name": "Fleet depot", "address": "Am Depot 3", "city": "Berlin",
            "postal_code": "12099", "latitude": "52.468022", "longitude": "13.402541", **berlin}),
    ]  # fmt: skip
    return Network(locations, tariffs)


def network_amsterdam(operator_id: str) -> Network:
    """The Dutch CSO: two public sites."""
    tariffs = [
        TariffSpec("NL-AC", Decimal("0.42"), Decimal("21"), text="0.42 EUR/kWh excl. VAT"),
        TariffSpec(
            "NL-DC", Decimal("0.65"), Decimal("21"), flat_fee=Decimal("0.50"), text="0.50 EUR + 0.65 EUR/kWh"
        ),
    ]
    ids = {"AC": ("NL-AC",), "DC": ("NL-DC",)}
    dutch = {"time_zone": "Europe/Amsterdam", "country": "NLD"}
    locations = [
        _site(operator_id, 1, publish=True, ac=2, dc=1, tariffs=ids, place={
            "name": "Museumplein", "address": "Museumplein 10", "city": "Amsterdam",
            "postal_code": "1071 DJ", "latitude": "52.357910", "longitude": "4.881798", **dutch}),
        _site(operator_id, 2, publish=True, ac=2, dc=0, tariffs=ids, place={
            "name": "Jaarbeursplein", "address": "Jaarbeursplein 6", "city": "Utrecht",
            "postal_code": "3521 AL", "latitude": "52.088531", "longitude": "5.108542", **dutch}),
    ]  # fmt: skip
    return Network(locations, tariffs)


# --- CDRs ------------------------------------------------------------------------------------------


@dataclass
class ChargeFacts:
    """What a session was, enough to report it as a session and as a CDR."""

    session_id: str
    cso_country: str
    cso_party: str
    evse: EvseSpec
    location: LocationSpec
    contract_id: str
    token_type: str  # OCPI TokenType of the CDR: RFID, APP_USER, AD_HOC_USER, OTHER
    token_uid: str
    authorization_reference: str
    auth_method: str  # AUTH_REQUEST or COMMAND
    start: datetime
    end: datetime
    kwh: Decimal
    tariff: TariffSpec

    @property
    def hours(self) -> Decimal:
        return (Decimal((self.end - self.start).total_seconds()) / 3600).quantize(Decimal("0.0001"))


def cdr(facts: ChargeFacts, sdr_id: str, *, cost_offset: Decimal = Decimal(0)) -> dict[str, Any]:
    """The OCPI 2.2.1 CDR of a session; `cost_offset` makes its total cost wrong on purpose."""
    connector = facts.evse.connectors[0]
    excl, incl = facts.tariff.cost(facts.kwh)
    excl, incl = excl + cost_offset, incl + cost_offset
    contract_country, contract_party = facts.contract_id.split("-")[:2]
    return {
        "country_code": facts.cso_country,
        "party_id": facts.cso_party,
        "id": sdr_id,
        "start_date_time": stamp(facts.start),
        "end_date_time": stamp(facts.end),
        "session_id": facts.session_id,
        "cdr_token": {
            "country_code": contract_country,
            "party_id": contract_party,
            "uid": facts.token_uid,
            "type": facts.token_type,
            "contract_id": facts.contract_id,
        },
        "auth_method": facts.auth_method,
        "authorization_reference": facts.authorization_reference,
        "cdr_location": {
            "id": facts.location.location_id,
            "name": facts.location.name,
            "address": facts.location.address,
            "city": facts.location.city,
            "postal_code": facts.location.postal_code,
            "country": facts.location.country,
            "coordinates": {"latitude": facts.location.latitude, "longitude": facts.location.longitude},
            "evse_uid": facts.evse.uid,
            "evse_id": facts.evse.evse_id,
            "connector_id": connector.connector_id,
            "connector_standard": connector.standard,
            "connector_format": connector.format,
            "connector_power_type": connector.power_type,
        },
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": stamp(facts.start),
                "dimensions": [
                    {"type": "ENERGY", "volume": float(facts.kwh)},
                    {"type": "TIME", "volume": float(facts.hours)},
                ],
                "tariff_id": facts.tariff.tariff_id,
            }
        ],
        "total_cost": {"excl_vat": str(excl), "incl_vat": str(incl)},
        "total_energy": float(facts.kwh),
        "total_time": float(facts.hours),
        "last_updated": stamp(facts.end),
    }
