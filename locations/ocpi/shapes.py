"""The shapes of OCPI 2.2.1 Location, EVSE, Connector and the classes they use.

Leniencies the official examples need: `floor` is read as `floor_level`; integers are read as
strings for ids and references; a connector may omit `power_type`, `max_voltage` and
`max_amperage`; EVSEs and connectors may omit `last_updated` (their parent's stands in).
"""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any

from clearinghouse.lib.codes import is_country_alpha2, is_country_alpha3

from .datetimes import parse_datetime
from .enums import (
    CAPABILITY,
    CONNECTOR_FORMAT,
    CONNECTOR_TYPE,
    ENERGY_SOURCE_CATEGORY,
    ENVIRONMENTAL_IMPACT_CATEGORY,
    FACILITY,
    IMAGE_CATEGORY,
    PARKING_RESTRICTION,
    PARKING_TYPE,
    POWER_TYPE,
    STATUS,
    TOKEN_TYPE,
)
from .schema import (
    Field,
    Problems,
    Shape,
    boolean,
    cistring,
    decimal,
    enum,
    integer,
    join,
    many,
    moment,
    nested,
    number,
    string,
    time_of_day,
    url,
)


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_time_zone(value: str) -> bool:
    """An IANA time zone name known to tzdata, such as Europe/Brussels."""
    return value in _time_zones()


def _period_order(begin: str, end: str) -> Any:
    def check(obj: dict[str, Any], path: str, problems: Problems) -> None:
        if obj.get(begin) and obj.get(end) and parse_datetime(obj[end]) < parse_datetime(obj[begin]):
            problems.add(join(path, end), f"must not be before {begin}")

    return check


def _publish_token_check(obj: dict[str, Any], path: str, problems: Problems) -> None:
    if not any(obj.get(key) for key in ("uid", "visual_number", "group_id")):
        problems.add(path, "needs at least one of uid, visual_number or group_id")
    if obj.get("uid") and not obj.get("type"):
        problems.add(join(path, "type"), "is required when uid is given")
    if obj.get("visual_number") and not obj.get("issuer"):
        problems.add(join(path, "issuer"), "is required when visual_number is given")


DISPLAY_TEXT = Shape(
    "DisplayText", {"language": string(2, required=True), "text": string(512, required=True)}
)
IMAGE = Shape(
    "Image",
    {
        "url": url(required=True),
        "thumbnail": url(),
        "category": enum(IMAGE_CATEGORY, required=True),
        "type": cistring(4, required=True),
        "width": integer(maximum=99999),
        "height": integer(maximum=99999),
    },
)
BUSINESS_DETAILS = Shape(
    "BusinessDetails", {"name": string(100, required=True), "website": url(), "logo": nested(IMAGE)}
)
GEO_LOCATION = Shape(
    "GeoLocation",
    {
        "latitude": decimal(required=True, minimum=-90, maximum=90),
        "longitude": decimal(required=True, minimum=-180, maximum=180),
    },
)
ADDITIONAL_GEO_LOCATION = Shape(
    "AdditionalGeoLocation",
    {
        "latitude": decimal(required=True, minimum=-90, maximum=90),
        "longitude": decimal(required=True, minimum=-180, maximum=180),
        "name": nested(DISPLAY_TEXT),
    },
)
ENERGY_SOURCE = Shape(
    "EnergySource",
    {
        "source": enum(ENERGY_SOURCE_CATEGORY, required=True),
        "percentage": number(required=True, maximum=100),
    },
)
ENVIRONMENTAL_IMPACT = Shape(
    "EnvironmentalImpact",
    {"category": enum(ENVIRONMENTAL_IMPACT_CATEGORY, required=True), "amount": number(required=True)},
)
ENERGY_MIX = Shape(
    "EnergyMix",
    {
        "is_green_energy": boolean(required=True),
        "energy_sources": many(nested(ENERGY_SOURCE)),
        "environ_impact": many(nested(ENVIRONMENTAL_IMPACT)),
        "supplier_name": string(64),
        "energy_product_name": string(64),
    },
)
REGULAR_HOURS = Shape(
    "RegularHours",
    {
        "weekday": integer(required=True, minimum=1, maximum=7),
        "period_begin": time_of_day(required=True),
        # Overnight periods (22:00 to 06:00) exist in practice, so the order is not enforced.
        "period_end": time_of_day(required=True, allow_24=True),
    },
)
EXCEPTIONAL_PERIOD = Shape(
    "ExceptionalPeriod",
    {"period_begin": moment(required=True), "period_end": moment(required=True)},
    check=_period_order("period_begin", "period_end"),
)
HOURS = Shape(
    "Hours",
    {
        "twentyfourseven": boolean(required=True),
        "regular_hours": many(nested(REGULAR_HOURS)),
        "exceptional_openings": many(nested(EXCEPTIONAL_PERIOD)),
        "exceptional_closings": many(nested(EXCEPTIONAL_PERIOD)),
    },
)
STATUS_SCHEDULE = Shape(
    "StatusSchedule",
    {"period_begin": moment(required=True), "period_end": moment(), "status": enum(STATUS, required=True)},
    check=_period_order("period_begin", "period_end"),
)
PUBLISH_TOKEN = Shape(
    "PublishTokenType",
    {
        "uid": cistring(36),
        "type": enum(TOKEN_TYPE),
        "visual_number": string(64),
        "issuer": string(64),
        "group_id": cistring(36),
    },
    check=_publish_token_check,
)


def _connector_fields(*, patch: bool) -> dict[str, Field]:
    required = not patch
    return {
        "id": cistring(36, required=required, coerce_int=True),
        "standard": enum(CONNECTOR_TYPE, required=required),
        "format": enum(CONNECTOR_FORMAT, required=required),
        "power_type": enum(POWER_TYPE),
        "max_voltage": integer(),
        "max_amperage": integer(),
        "max_electric_power": integer(),
        "tariff_ids": many(cistring(36, coerce_int=True)),
        "terms_and_conditions": url(),
        "last_updated": moment(),
    }


def _unique(key: str, what: str) -> Any:
    def check(items: list[dict[str, Any]], path: str, problems: Problems) -> None:
        seen: set[str] = set()
        for i, item in enumerate(items):
            value = item.get(key)
            if value in seen:
                problems.add(join(join(path, i), key), f"repeats the {what} of an earlier item")
            seen.add(value)

    return check


_unique_connector_ids = _unique("id", "connector id")
_unique_evse_uids = _unique("uid", "EVSE uid")


def _evse_check(obj: dict[str, Any], path: str, problems: Problems) -> None:
    _unique_connector_ids(obj.get("connectors") or [], join(path, "connectors"), problems)


def _location_check(obj: dict[str, Any], path: str, problems: Problems) -> None:
    if obj.get("publish") is True and obj.get("publish_allowed_to"):
        problems.add(join(path, "publish_allowed_to"), "may only be given when publish is false")
    _unique_evse_uids(obj.get("evses") or [], join(path, "evses"), problems)


CONNECTOR = Shape("Connector", _connector_fields(patch=False))
EVSE = Shape(
    "EVSE",
    {
        "uid": cistring(36, required=True, coerce_int=True),
        # Optional in OCPI; the hub routes by EVSE ID, so it is required (checked with the owner).
        "evse_id": cistring(48),
        "status": enum(STATUS, required=True),
        "status_schedule": many(nested(STATUS_SCHEDULE)),
        "capabilities": many(enum(CAPABILITY)),
        "connectors": many(nested(CONNECTOR), min_items=1, required=True),
        "floor_level": string(4, coerce_int=True),
        "coordinates": nested(GEO_LOCATION),
        "physical_reference": string(16, coerce_int=True),
        "directions": many(nested(DISPLAY_TEXT)),
        "parking_restrictions": many(enum(PARKING_RESTRICTION)),
        "images": many(nested(IMAGE)),
        "last_updated": moment(),
    },
    aliases={"floor": "floor_level"},
    check=_evse_check,
)
LOCATION = Shape(
    "Location",
    {
        "country_code": cistring(
            2,
            required=True,
            predicate=is_country_alpha2,
            predicate_message="must be an ISO 3166-1 alpha-2 code",
        ),
        "party_id": cistring(3, required=True),
        "id": cistring(36, required=True, coerce_int=True),
        "publish": boolean(required=True),
        "publish_allowed_to": many(nested(PUBLISH_TOKEN)),
        "name": string(255),
        "address": string(45, required=True),
        "city": string(45, required=True),
        "postal_code": string(10, coerce_int=True),
        "state": string(20),
        "country": string(
            3,
            required=True,
            predicate=is_country_alpha3,
            predicate_message="must be an ISO 3166-1 alpha-3 code",
        ),
        "coordinates": nested(GEO_LOCATION, required=True),
        "related_locations": many(nested(ADDITIONAL_GEO_LOCATION)),
        "parking_type": enum(PARKING_TYPE),
        "evses": many(nested(EVSE)),
        "directions": many(nested(DISPLAY_TEXT)),
        "operator": nested(BUSINESS_DETAILS),
        "suboperator": nested(BUSINESS_DETAILS),
        "owner": nested(BUSINESS_DETAILS),
        "facilities": many(enum(FACILITY)),
        "time_zone": string(
            255, required=True, predicate=is_time_zone, predicate_message="must be an IANA time zone name"
        ),
        "opening_times": nested(HOURS),
        "charging_when_closed": boolean(),
        "images": many(nested(IMAGE)),
        "energy_mix": nested(ENERGY_MIX),
        "last_updated": moment(required=True),
    },
    check=_location_check,
)
# PATCH bodies of a connector: nothing is required but last_updated (checked by the caller).
CONNECTOR_PATCH = Shape("Connector", _connector_fields(patch=True))
