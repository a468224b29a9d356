"""EVSE facts other apps need (sessions, settlement): connectors, power, tariffs, time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from clearinghouse.lib.identifiers import IdentifierError, parse_evse_id

from ..models import EVSE, Connector


@dataclass(frozen=True)
class ConnectorInfo:
    """One connector: its OCPI id and type, its power, and the tariff ids it names."""

    connector_id: str
    standard: str
    format: str
    power_type: str
    max_voltage: int | None
    max_amperage: int | None
    max_electric_power: int | None
    max_power_w: int | None  # max_electric_power, else phases × volts × amperes; None if unknown
    tariff_ids: tuple[str, ...]


@dataclass(frozen=True)
class EvseInfo:
    """One EVSE of a CSO with what sessions and rating need to know about it."""

    pk: int
    cso_id: int
    evse_id: str
    uid: str
    location_pk: int
    location_id: str
    published: bool
    time_zone: str
    status: str
    status_updated_at: datetime
    connectors: tuple[ConnectorInfo, ...]

    def connector(self, connector_id: str) -> ConnectorInfo | None:
        for connector in self.connectors:
            if connector.connector_id == connector_id:
                return connector
        return None


def evse_get_for_cso(*, cso_id: int, evse_id: str) -> EvseInfo | None:
    """The EVSE of this CSO with this EVSE ID (any spelling: DE*ABC*E1, DEABCE1), with its
    connectors and the location's time zone; None when the CSO has no such EVSE. Two queries."""
    try:
        canonical = str(parse_evse_id(evse_id))
    except IdentifierError:
        return None
    row = (
        EVSE.objects.filter(cso_id=cso_id, evse_id=canonical)
        .select_related("location")
        .only(
            "cso_id",
            "evse_id",
            "uid",
            "status",
            "status_updated_at",
            "location__location_id",
            "location__publish",
            "location__time_zone",
        )
        .first()
    )
    if row is None:
        return None
    connectors = tuple(
        ConnectorInfo(
            connector_id=c.connector_id,
            standard=c.standard,
            format=c.format,
            power_type=c.power_type,
            max_voltage=c.max_voltage,
            max_amperage=c.max_amperage,
            max_electric_power=c.max_electric_power,
            max_power_w=c.power_w,
            tariff_ids=tuple(c.tariff_ids),
        )
        for c in Connector.objects.filter(evse_id=row.pk).order_by("id")
    )
    return EvseInfo(
        pk=row.pk,
        cso_id=row.cso_id,
        evse_id=row.evse_id,
        uid=row.uid,
        location_pk=row.location_id,
        location_id=row.location.location_id,
        published=row.location.publish,
        time_zone=row.location.time_zone,
        status=row.status,
        status_updated_at=row.status_updated_at,
        connectors=connectors,
    )


def location_time_zone(evse: EvseInfo | EVSE) -> str:
    """The IANA time zone of the location an EVSE belongs to (tariff hours are local time)."""
    if isinstance(evse, EvseInfo):
        return evse.time_zone
    return evse.location.time_zone
