"""Reading locations: who sees which, the filters of GET /locations/, and the documents served."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, F, FloatField, OuterRef, Q, QuerySet, Value
from django.db.models.functions import ASin, Cos, Least, Power, Radians, Sin, Sqrt

from clearinghouse.errors import ConflictError, NotFoundError

from ..geo import EARTH_RADIUS_KM, BBox, bbox_around
from ..models import EVSE, Connector, EvseStatus, Location
from ..ocpi.datetimes import format_datetime
from .common import Viewer, partner_csos, stale_before, status_shown


@dataclass(frozen=True)
class LocationFilters:
    """The validated filters of GET /locations/."""

    operator: tuple[str, str] | None = None
    since: datetime | None = None
    bbox: BBox | None = None
    near: tuple[float, float, float] | None = None  # latitude, longitude, radius in km
    evse_status: str | None = None
    connector_standard: str | None = None
    min_power_w: float | None = None


def locations_visible(*, viewer: Viewer) -> QuerySet[Location]:
    """Locations a partner may read: all its own (as CSO), and the published locations of CSOs
    it has an agreement in force with (as CSP)."""
    q = Q(pk__in=[])
    if viewer.is_cso:
        q |= Q(cso_id=viewer.partner_id)
    if viewer.is_csp:
        q |= Q(cso_id__in=partner_csos(viewer), publish=True)
    return Location.objects.filter(q)


def bbox_q(box: BBox) -> Q:
    """Latitude range first: the location_geo index (latitude, longitude) answers it."""
    lon = Q(pk__in=[])
    for low, high in box.lon_ranges():
        lon |= Q(longitude__gte=low, longitude__lte=high)
    return Q(latitude__gte=box.min_lat, latitude__lte=box.max_lat) & lon


def distance_km(lat: float, lon: float) -> Any:
    """Great-circle distance from (lat, lon) to a location's coordinates, as SQL (haversine)."""
    here_lat = Value(lat, output_field=FloatField())
    here_lon = Value(lon, output_field=FloatField())
    half_dlat = Sin(Radians(F("latitude") - here_lat) / 2)
    half_dlon = Sin(Radians(F("longitude") - here_lon) / 2)
    a = Power(half_dlat, 2) + Value(math.cos(math.radians(lat))) * Cos(Radians(F("latitude"))) * Power(
        half_dlon, 2
    )
    return Value(2 * EARTH_RADIUS_KM) * ASin(Sqrt(Least(a, Value(1.0))))


def _status_q(status: str, *, prefix: str, stale: datetime | None, viewer: Viewer) -> Q:
    """EVSEs showing `status` to the viewer, the TTL applied as status_shown() applies it."""
    same = Q(**{f"{prefix}status": status})
    if stale is None:
        return same
    fresh = (
        Q(**{f"{prefix}status_updated_at__gte": stale})
        | Q(**{f"{prefix}status": EvseStatus.REMOVED})
        | Q(**{f"{prefix}cso_id": viewer.partner_id})
    )
    return (same | ~fresh) if status == EvseStatus.UNKNOWN else (same & fresh)


def locations_filter(
    rows: QuerySet[Location], *, filters: LocationFilters, viewer: Viewer, now: datetime
) -> QuerySet[Location]:
    """Apply the filters. EVSE and connector filters must hold for one and the same EVSE."""
    if filters.operator is not None:
        country, party = filters.operator
        rows = rows.filter(cso__country_code=country, cso__party_id=party)
    if filters.since is not None:
        rows = rows.filter(last_updated__gt=filters.since)
    if filters.bbox is not None:
        rows = rows.filter(bbox_q(filters.bbox))
    if filters.near is not None:
        lat, lon, radius = filters.near
        # The box prefilter comes from the index; the exact distance is computed on its few rows.
        rows = rows.filter(bbox_q(bbox_around(lat, lon, radius)))
        rows = rows.alias(distance_km=distance_km(lat, lon)).filter(distance_km__lte=radius)
    stale = stale_before(now)
    if filters.connector_standard is not None or filters.min_power_w is not None:
        connectors = Connector.objects.filter(evse__location=OuterRef("pk"))
        if filters.connector_standard is not None:
            connectors = connectors.filter(standard=filters.connector_standard)
        if filters.min_power_w is not None:
            connectors = connectors.filter(power_w__gte=filters.min_power_w)
        if filters.evse_status is not None:
            connectors = connectors.filter(
                _status_q(filters.evse_status, prefix="evse__", stale=stale, viewer=viewer)
            )
        rows = rows.filter(Exists(connectors))
    elif filters.evse_status is not None:
        evses = EVSE.objects.filter(location=OuterRef("pk")).filter(
            _status_q(filters.evse_status, prefix="", stale=stale, viewer=viewer)
        )
        rows = rows.filter(Exists(evses))
    return rows


def locations_render(locations: list[Location], *, viewer: Viewer, now: datetime) -> list[dict[str, Any]]:
    """The OCPI documents as the viewer sees them: live EVSE statuses (one query for all)."""
    live: dict[int, dict[str, tuple[str, datetime, datetime]]] = defaultdict(dict)
    if locations:
        rows = EVSE.objects.filter(location_id__in=[loc.pk for loc in locations]).values_list(
            "location_id", "uid", "status", "status_updated_at", "last_updated"
        )
        for location_pk, uid, status, updated_at, last_updated in rows:
            live[location_pk][uid] = (status, updated_at, last_updated)
    stale = stale_before(now)
    return [
        _overlay(loc.document, live[loc.pk], own=loc.cso_id == viewer.partner_id, stale=stale)
        for loc in locations
    ]


def _overlay(
    doc: dict[str, Any], live: dict[str, tuple[str, datetime, datetime]], *, own: bool, stale: datetime | None
) -> dict[str, Any]:
    if "evses" not in doc:
        return doc
    evses = []
    for evse in doc["evses"]:
        state = live.get(evse["uid"])
        if state is not None:
            status, updated_at, last_updated = state
            evse = {**evse, "status": status_shown(status, updated_at, own=own, stale=stale)}
            if updated_at > last_updated:
                evse["last_updated"] = format_datetime(updated_at)
        evses.append(evse)
    return {**doc, "evses": evses}


def location_get(*, viewer: Viewer, location_id: str, operator: tuple[str, str] | None = None) -> Location:
    """One location the viewer may read. Ids are unique per CSO only: when two visible CSOs use
    the same id, `operator` says which one is meant."""
    rows = locations_visible(viewer=viewer).filter(location_id=location_id).select_related("cso")
    if operator is not None:
        rows = rows.filter(cso__country_code=operator[0], cso__party_id=operator[1])
    found = list(rows[:10])
    if not found:
        raise NotFoundError("location_not_found", "No location with this id is visible to you.")
    if len(found) > 1:
        own = [loc for loc in found if loc.cso_id == viewer.partner_id]
        if len(own) == 1:
            return own[0]
        raise ConflictError(
            "ambiguous_location_id",
            "Several operators publish a location with this id; add ?operator= to choose.",
            {"operators": sorted(loc.cso.operator_id for loc in found)},
        )
    return found[0]


def evse_in(doc: dict[str, Any], evse_uid: str) -> dict[str, Any]:
    """The EVSE with this uid in a rendered location document."""
    for evse in doc.get("evses") or []:
        if evse["uid"] == evse_uid:
            return evse
    raise NotFoundError("evse_not_found", "The location has no EVSE with this uid.")


def connector_in(evse: dict[str, Any], connector_id: str) -> dict[str, Any]:
    """The connector with this id in a rendered EVSE."""
    for connector in evse.get("connectors") or []:
        if connector["id"] == connector_id:
            return connector
    raise NotFoundError("connector_not_found", "The EVSE has no connector with this id.")
