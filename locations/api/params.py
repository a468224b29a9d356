"""Query parameters of the locations endpoints, validated: a bad value answers 400, never 500."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from clearinghouse.api.errors import ApiError
from clearinghouse.lib.identifiers import IdentifierError, parse_operator_id

from ..geo import GeoError, parse_bbox, parse_near, parse_radius_km
from ..ocpi.datetimes import parse_datetime
from ..ocpi.enums import CONNECTOR_TYPE, STATUS
from ..selectors.locations import LocationFilters

PAGING = {"limit", "cursor"}
LOCATION_LIST = PAGING | {
    "operator",
    "since",
    "bbox",
    "near",
    "radius_km",
    "evse_status",
    "connector_standard",
    "min_power_kw",
}
STATUS_FEED = PAGING | {"since", "operator"}
TARIFF_LIST = PAGING | {"since", "operator"}
ONE_OBJECT = {"operator"}


def _bad(parameter: str, message: str) -> ApiError:
    return ApiError("invalid_parameter", message, status_code=400, details={"parameter": parameter})


def only(params: Mapping[str, Any], allowed: set[str]) -> None:
    """Refuse parameters the endpoint does not know (a misspelt filter would silently match all)."""
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ApiError(
            "unknown_parameter",
            f"Unknown query parameter(s): {', '.join(unknown)}.",
            status_code=400,
            details={"unknown": unknown, "allowed": sorted(allowed)},
        )


def operator(params: Mapping[str, Any]) -> tuple[str, str] | None:
    value = params.get("operator")
    if value is None:
        return None
    try:
        return parse_operator_id(value)
    except IdentifierError as exc:
        raise _bad("operator", f"operator: {exc.message}") from None


def since(params: Mapping[str, Any]) -> datetime | None:
    value = params.get("since")
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise _bad("since", f"since {exc}") from None


def location_filters(params: Mapping[str, Any]) -> LocationFilters:
    only(params, LOCATION_LIST)
    try:
        bbox = parse_bbox(params["bbox"]) if "bbox" in params else None
    except GeoError as exc:
        raise _bad("bbox", str(exc)) from None
    near = None
    if ("near" in params) != ("radius_km" in params):
        raise _bad("near", "near and radius_km go together")
    if "near" in params:
        try:
            near = (*parse_near(params["near"]), parse_radius_km(params["radius_km"]))
        except GeoError as exc:
            raise _bad("near", str(exc)) from None
    evse_status = params.get("evse_status")
    if evse_status is not None and evse_status not in STATUS:
        raise _bad("evse_status", "evse_status must be an OCPI 2.2.1 EVSE status, such as AVAILABLE")
    standard = params.get("connector_standard")
    if standard is not None and standard not in CONNECTOR_TYPE:
        raise _bad("connector_standard", "connector_standard must be an OCPI 2.2.1 ConnectorType")
    min_power_w = None
    if "min_power_kw" in params:
        try:
            kilowatts = float(params["min_power_kw"])
        except ValueError:
            kilowatts = math.nan
        if not (math.isfinite(kilowatts) and kilowatts >= 0):
            raise _bad("min_power_kw", "min_power_kw must be a number of kW, 0 or more")
        min_power_w = kilowatts * 1000
    return LocationFilters(
        operator=operator(params),
        since=since(params),
        bbox=bbox,
        near=near,
        evse_status=evse_status,
        connector_standard=standard,
        min_power_w=min_power_w,
    )
