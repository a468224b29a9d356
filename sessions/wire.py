"""The JSON the hub shows and sends of commands, sessions and reservations.

One rendering each, used by the API and by the deliveries, so a partner reads the same object
whether it pulls it or is pushed it. Money is a decimal string (the API's rule); kWh and
charging-period volumes are JSON numbers, as OCPI writes them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

from .inputs import json_number, rfc3339
from .models import ChargingSession, RemoteCommand, Reservation


def _money(value: Decimal | None) -> str | None:
    """At least two decimals, at most the four stored: 8.5000 -> "8.50", 1.2345 -> "1.2345"."""
    if value is None:
        return None
    normalized = value.normalize()
    if int(normalized.as_tuple().exponent) > -2:
        normalized = value.quantize(Decimal("0.01"))
    return format(normalized, "f")


def result_url(command: RemoteCommand) -> str:
    """Where the CSO reports the command's outcome."""
    return f"{settings.HUB_PUBLIC_URL.rstrip('/')}/api/i3/v1/commands/{command.uid}/result"


def command_json(command: RemoteCommand) -> dict[str, Any]:
    """A command as GET /commands/{id} shows it (csp, cso and reservation loaded with it)."""
    reservation = command.reservation
    return {
        "id": str(command.uid),
        "type": command.type,
        "state": command.state,
        "csp": command.csp.provider_id,
        "cso": command.cso.operator_id,
        "evse_id": command.evse_id or None,
        "connector_id": command.connector_id or None,
        "contract_id": command.contract_id or None,
        "session_id": command.session_id or None,
        "reservation_id": reservation.reservation_id if reservation else None,
        "expiry_date": rfc3339(reservation.expiry_date) if reservation else None,
        "authorization_reference": command.authorization_reference or None,
        "csp_reference": command.csp_reference or None,
        "response": command.response or None,
        "timeout": command.response_timeout,
        "result": command.result or None,
        "message": command.message or None,
        "failure_reason": command.failure_reason or None,
        "created_at": rfc3339(command.created_at),
        "sent_at": rfc3339(command.sent_at),
        "deadline_at": rfc3339(command.deadline_at),
        "finished_at": rfc3339(command.finished_at),
    }


def command_delivery(command: RemoteCommand, *, location_id: str = "", evse_uid: str = "") -> dict[str, Any]:
    """What the CSO's endpoint receives: the command with the fields of its type."""
    payload: dict[str, Any] = {
        "command_id": str(command.uid),
        "type": command.type,
        "csp": command.csp.provider_id,
        "response_url": result_url(command),
        "timeout": settings.COMMAND_DEFAULT_TIMEOUT_SECONDS,
    }
    if command.evse_id:
        payload.update(evse_id=command.evse_id, location_id=location_id or None, evse_uid=evse_uid or None)
    if command.connector_id:
        payload["connector_id"] = command.connector_id
    if command.contract_id:
        payload["contract_id"] = command.contract_id
    if command.authorization_reference:
        payload["authorization_reference"] = command.authorization_reference
    if command.session_id:
        payload["session_id"] = command.session_id
    if command.reservation is not None:
        payload["reservation_id"] = command.reservation.reservation_id
        if command.type == "RESERVE_NOW":
            payload["expiry_date"] = rfc3339(command.reservation.expiry_date)
    return payload


def session_json(session: ChargingSession) -> dict[str, Any]:
    """A session in the OCPI 2.2.1 Session shape, plus the hub's fields (cso and csp loaded)."""
    cso, csp = session.cso, session.csp
    total_cost = None
    if session.total_cost_excl_vat is not None:
        total_cost = {"excl_vat": _money(session.total_cost_excl_vat)}
        if session.total_cost_incl_vat is not None:
            total_cost["incl_vat"] = _money(session.total_cost_incl_vat)
    return {
        "country_code": cso.country_code,
        "party_id": cso.party_id,
        "id": session.session_id,
        "start_date_time": rfc3339(session.start_date_time),
        "end_date_time": rfc3339(session.end_date_time),
        "kwh": json_number(session.kwh),
        "cdr_token": {
            "country_code": csp.country_code,
            "party_id": csp.party_id,
            # A masked hint: the hub keeps no token value in clear.
            "uid": session.token_hint or None,
            "type": session.token_type or None,
            "contract_id": session.contract_id,
        },
        "auth_method": session.auth_method,
        "authorization_reference": session.authorization_reference or None,
        "location_id": session.location_id or None,
        "evse_uid": session.evse_uid or None,
        "evse_id": session.evse_id,
        "connector_id": session.connector_id,
        "meter_id": session.meter_id or None,
        "currency": session.currency,
        "charging_periods": session.charging_periods,
        "total_cost": total_cost,
        "status": session.status,
        "last_updated": rfc3339(session.last_updated),
        "cso": cso.operator_id,
        "csp": csp.provider_id,
        "contract_id": session.contract_id,
        "time_zone": session.time_zone or None,
        "updated_at": rfc3339(session.updated_at),
    }


def reservation_json(reservation: Reservation) -> dict[str, Any]:
    """A reservation as both sides are told of it (csp and cso loaded)."""
    return {
        "reservation_id": reservation.reservation_id,
        "state": reservation.state,
        "csp": reservation.csp.provider_id,
        "cso": reservation.cso.operator_id,
        "evse_id": reservation.evse_id,
        "connector_id": reservation.connector_id or None,
        "contract_id": reservation.contract_id,
        "expiry_date": rfc3339(reservation.expiry_date),
        "authorization_reference": reservation.authorization_reference or None,
        "updated_at": rfc3339(reservation.updated_at),
    }
