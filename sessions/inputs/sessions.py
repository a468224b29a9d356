"""A session start or update in the OCPI 2.2.1 Session shape, read leniently.

Unknown fields are ignored; an EVSE may be named by its EVSE ID or by OCPI's location_id +
evse_uid; the contract ID may come at the top level or inside cdr_token; numbers may be JSON numbers
or decimal strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from clearinghouse.lib.codes import is_currency
from clearinghouse.lib.identifiers import mask

from .common import (
    ID_LENGTH,
    InputProblem,
    choice_of,
    contract_of,
    evse_of,
    json_number,
    number_of,
    object_of,
    rfc3339,
    text_of,
    when_of,
)

SESSION_STATUSES = ("PENDING", "ACTIVE", "COMPLETED", "INVALID")
AUTH_METHODS = ("AUTH_REQUEST", "COMMAND", "WHITELIST")
TOKEN_TYPES = ("AD_HOC_USER", "APP_USER", "OTHER", "RFID")
DIMENSION_TYPES = (
    "CURRENT",
    "ENERGY",
    "ENERGY_EXPORT",
    "ENERGY_IMPORT",
    "MAX_CURRENT",
    "MIN_CURRENT",
    "MAX_POWER",
    "MIN_POWER",
    "PARKING_TIME",
    "POWER",
    "RESERVATION_TIME",
    "STATE_OF_CHARGE",
    "TIME",
)
# A session reports a charging period every few minutes; this bounds what one session may hold.
MAX_CHARGING_PERIODS = 2000
MAX_PERIODS_PER_UPDATE = 500
MAX_DIMENSIONS = 20


@dataclass(frozen=True)
class Token:
    """The session's cdr_token, reduced to what the hub keeps: no credential value in clear."""

    type: str
    hint: str


@dataclass(frozen=True)
class SessionFields:
    """A session start or update as sent; in an update, a field not sent is None (unchanged)."""

    session_id: str | None = None
    country_code: str | None = None
    party_id: str | None = None
    evse_id: str | None = None
    location_id: str | None = None
    evse_uid: str | None = None
    connector_id: str | None = None
    contract_id: str | None = None
    token: Token | None = None
    auth_method: str | None = None
    authorization_reference: str | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    kwh: Decimal | None = None
    currency: str | None = None
    total_cost_excl_vat: Decimal | None = None
    total_cost_incl_vat: Decimal | None = None
    # `cost_sent` tells "total_cost": null (clear it) from no total_cost at all.
    cost_sent: bool = False
    charging_periods: list[dict[str, Any]] = field(default_factory=list)
    meter_id: str | None = None
    status: str | None = None
    last_updated: datetime | None = None


def _token(data: Any) -> tuple[Token, str]:
    token = object_of(data, "cdr_token")
    kind = token.get("type")
    if kind is not None and kind not in TOKEN_TYPES:
        raise InputProblem(
            "invalid_field", f"cdr_token.type must be one of {', '.join(TOKEN_TYPES)}", "cdr_token"
        )
    uid = token.get("uid")
    if uid is not None and (not isinstance(uid, str) or len(uid) > ID_LENGTH):
        raise InputProblem("invalid_field", "cdr_token.uid must be a string of at most 36", "cdr_token")
    contract = token.get("contract_id")
    contract_id = contract_of(contract, "cdr_token.contract_id") if contract is not None else ""
    # The token's value identifies a driver's card: the hub keeps a masked hint only. Its
    # country_code and party_id name the CSP, which the hub knows from the contract.
    return Token(type=kind or "", hint=mask(uid) if uid else ""), contract_id


def _price(value: Any) -> tuple[Decimal | None, Decimal | None]:
    """OCPI Price {excl_vat, incl_vat?}; a bare number is read as excl_vat (the OCPI 2.1 form)."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        return number_of(value, "total_cost"), None
    if value.get("excl_vat") is None:
        raise InputProblem("missing_field", "total_cost.excl_vat is required", "total_cost")
    excl = number_of(value["excl_vat"], "total_cost.excl_vat")
    incl = number_of(value["incl_vat"], "total_cost.incl_vat") if value.get("incl_vat") is not None else None
    return excl, incl


def _periods(value: Any) -> list[dict[str, Any]]:
    """OCPI ChargingPeriods, checked and kept as sent (volumes as numbers)."""
    if not isinstance(value, list):
        raise InputProblem("invalid_field", "charging_periods must be a list", "charging_periods")
    if len(value) > MAX_PERIODS_PER_UPDATE:
        raise InputProblem(
            "too_many_periods",
            f"at most {MAX_PERIODS_PER_UPDATE} charging periods per request",
            "charging_periods",
        )
    periods = []
    for index, raw in enumerate(value):
        where = f"charging_periods[{index}]"
        if not isinstance(raw, dict):
            raise InputProblem("invalid_field", f"{where} must be an object", "charging_periods")
        start = when_of(raw, "start_date_time", required=True)
        dimensions = raw.get("dimensions")
        if not isinstance(dimensions, list) or not 1 <= len(dimensions) <= MAX_DIMENSIONS:
            raise InputProblem(
                "invalid_field",
                f"{where}.dimensions must list 1 to {MAX_DIMENSIONS} dimensions",
                "charging_periods",
            )
        kept = []
        for dimension in dimensions:
            if not isinstance(dimension, dict) or dimension.get("type") not in DIMENSION_TYPES:
                raise InputProblem(
                    "invalid_field", f"{where} has a dimension of unknown type", "charging_periods"
                )
            volume = number_of(dimension.get("volume"), f"{where} volume")
            kept.append({"type": dimension["type"], "volume": json_number(volume)})
        period: dict[str, Any] = {"start_date_time": rfc3339(start), "dimensions": kept}
        tariff = raw.get("tariff_id")
        if tariff is not None:
            period["tariff_id"] = text_of(raw, "tariff_id")
        periods.append(period)
    return periods


def parse_session(data: Any, *, partial: bool) -> SessionFields:
    """A session start (`partial=False`) or update (`partial=True`, only what changes)."""
    body = object_of(data, "the session")
    values: dict[str, Any] = {}
    required = not partial

    if not partial or "id" in body:
        values["session_id"] = text_of(body, "id", required=True)
    for key in ("country_code", "party_id"):
        if body.get(key) is not None:
            values[key] = text_of(body, key, max_length=3).upper()

    evse_id = text_of(body, "evse_id", max_length=48)
    if evse_id:
        values["evse_id"] = evse_of(evse_id)
    for key in ("location_id", "evse_uid"):
        if body.get(key) is not None:
            values[key] = text_of(body, key)
    if required and not evse_id and not (values.get("location_id") and values.get("evse_uid")):
        raise InputProblem("missing_field", "evse_id (or location_id and evse_uid) is required", "evse_id")
    if not partial or body.get("connector_id") is not None:
        values["connector_id"] = text_of(body, "connector_id", required=True)

    contract_top = (
        contract_of(body["contract_id"], "contract_id") if body.get("contract_id") is not None else ""
    )
    contract_token = ""
    if body.get("cdr_token") is not None:
        values["token"], contract_token = _token(body["cdr_token"])
    if contract_top and contract_token and contract_top != contract_token:
        raise InputProblem("contract_mismatch", "contract_id and cdr_token.contract_id differ", "contract_id")
    contract = contract_top or contract_token
    if contract:
        values["contract_id"] = contract
    elif required:
        raise InputProblem(
            "missing_field", "contract_id (or cdr_token.contract_id) is required", "contract_id"
        )

    if body.get("auth_method") is not None:
        values["auth_method"] = choice_of(body, "auth_method", AUTH_METHODS)
    if body.get("authorization_reference") is not None:
        values["authorization_reference"] = text_of(body, "authorization_reference")

    if not partial or "start_date_time" in body:
        values["start_date_time"] = when_of(body, "start_date_time", required=True)
    if body.get("end_date_time") is not None:
        values["end_date_time"] = when_of(body, "end_date_time")
    if body.get("kwh") is not None:
        values["kwh"] = number_of(body["kwh"], "kwh")
    if not partial or body.get("currency") is not None:
        currency = text_of(body, "currency", max_length=3, required=True).upper()
        if not is_currency(currency):
            raise InputProblem("invalid_currency", "currency must be an ISO 4217 code", "currency")
        values["currency"] = currency
    if "total_cost" in body:
        values["total_cost_excl_vat"], values["total_cost_incl_vat"] = _price(body["total_cost"])
        values["cost_sent"] = True
    if body.get("charging_periods") is not None:
        values["charging_periods"] = _periods(body["charging_periods"])
    if body.get("meter_id") is not None:
        values["meter_id"] = text_of(body, "meter_id", max_length=255)
    if body.get("status") is not None:
        values["status"] = choice_of(body, "status", SESSION_STATUSES)
    values["last_updated"] = when_of(body, "last_updated", required=partial)

    fields = SessionFields(**values)
    start, end = fields.start_date_time, fields.end_date_time
    if start is not None and end is not None and end < start:
        raise InputProblem("invalid_period", "end_date_time is before start_date_time", "end_date_time")
    return fields
