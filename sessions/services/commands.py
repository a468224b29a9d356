"""Remote commands: a CSP submits one; the hub checks it and writes it with its delivery to the
CSO through the outbox, in one transaction. No partner is called inside the request: what happens
after the delivery is in outcomes.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from clearinghouse.errors import ConflictError, RuleViolation
from clearinghouse.lib.identifiers import parse_contract_id, parse_evse_id
from clearinghouse.routing.selectors import EnqueueTarget
from partners.models import Partner, RoamingAgreement
from partners.selectors import agreement_active_between, endpoint_for, partner_by_operator_id

from .. import lookups
from ..command_route import EvseRoute, evse_route
from ..inputs import CommandRequest
from ..machine import RESERVATION_OPEN, SessionStatus
from ..models import ChargingSession, RemoteCommand, Reservation
from . import notify


@dataclass(frozen=True)
class _Target:
    """Where a command goes and what it is about."""

    cso: Partner
    location_id: str = ""
    evse_uid: str = ""
    session: ChargingSession | None = None
    reservation: Reservation | None = None
    # The CSO's commands channel when the route's read had it (commands to an EVSE).
    outbox: EnqueueTarget | None = None


# Commands to an EVSE, checked with one read (command_route.evse_route).
_TO_EVSE = frozenset({"START_SESSION", "RESERVE_NOW", "UNLOCK_CONNECTOR"})


def _first_deadline(now: datetime) -> datetime:
    return now + timedelta(
        seconds=settings.COMMAND_DEFAULT_TIMEOUT_SECONDS + settings.COMMAND_RESULT_GRACE_SECONDS
    )


def _evse_target(request: CommandRequest, route: EvseRoute) -> _Target:
    if route.cso is None or route.evse_uid is None:
        raise RuleViolation(
            "unknown_evse", "No operator has published this EVSE.", {"evse_id": request.evse_id}
        )
    if request.connector_id and not route.has_connector:
        raise RuleViolation(
            "unknown_connector",
            "The EVSE has no connector with this id.",
            {"evse_id": request.evse_id, "connector_id": request.connector_id},
        )
    return _Target(
        cso=route.cso, location_id=route.location_id or "", evse_uid=route.evse_uid, outbox=route.cso_outbox
    )


def _session_target(csp: Partner, request: CommandRequest) -> _Target:
    """STOP_SESSION: the CSP's session by the CSO's id. A session the hub has not heard of yet
    still goes to the operator the CSP names, which then answers UNKNOWN_SESSION if it must."""
    sessions = ChargingSession.objects.select_related("cso").filter(csp=csp, session_id=request.session_id)
    if request.operator_id:
        country, party = request.operator_id.split("*")
        sessions = sessions.filter(cso__country_code=country, cso__party_id=party)
    found = list(sessions[:10])
    if len(found) > 1:
        raise ConflictError(
            "ambiguous_session_id",
            "Sessions of several operators have this id; add operator_id to choose.",
            {"operators": sorted(s.cso.operator_id for s in found)},
        )
    if found:
        session = found[0]
        if session.status not in (SessionStatus.PENDING, SessionStatus.ACTIVE):
            raise RuleViolation(
                "session_not_active", f"The session is {session.status.lower()}; it cannot be stopped."
            )
        return _Target(cso=session.cso, session=session)
    if request.operator_id:
        country, party = request.operator_id.split("*")
        cso = partner_by_operator_id(country_code=country, party_id=party)
        if cso is not None:
            return _Target(cso=cso)
    raise RuleViolation(
        "unknown_session",
        "No session of yours has this id; name the operator with operator_id to send it anyway.",
    )


def _reservation_target(csp: Partner, reservation_id: str) -> _Target:
    reservation = (
        Reservation.objects.select_related("cso")
        .filter(csp=csp, reservation_id=reservation_id, state__in=list(RESERVATION_OPEN))
        .first()
    )
    if reservation is None:
        raise RuleViolation("unknown_reservation", "You have no open reservation with this id.")
    return _Target(cso=reservation.cso, reservation=reservation)


def _target_of(csp: Partner, request: CommandRequest) -> _Target:
    """STOP_SESSION and CANCEL_RESERVATION (commands to an EVSE read theirs with their route)."""
    if request.type == "STOP_SESSION":
        return _session_target(csp, request)
    return _reservation_target(csp, request.reservation_id)


def _check_route(*, cso: Partner, csp: Partner, now: datetime) -> None:
    """An agreement in force, in clearing house mode: in mixed mode the CSP commands the CSO directly."""
    agreement = agreement_active_between(cso_id=cso.pk, csp_id=csp.pk, at=now)
    _check_mode(
        cso=cso,
        mode=agreement.mode if agreement is not None else None,
        endpoint_url=lambda: _endpoint_url(cso),
    )


def _endpoint_url(cso: Partner) -> str | None:
    endpoint = endpoint_for(partner_id=cso.pk, role="CSO")
    return endpoint.url if endpoint else None


def _check_mode(*, cso: Partner, mode: str | None, endpoint_url: Callable[[], str | None]) -> None:
    """Refuse a command without an agreement in force (`mode` None) or under a mixed-mode one."""
    if mode is None:
        raise RuleViolation(
            "no_agreement",
            f"No roaming agreement with {cso.operator_id} is in force.",
            {"cso": cso.operator_id},
        )
    if mode == RoamingAgreement.Mode.MIXED:
        url = endpoint_url()
        where = f" at {url}" if url else " (its endpoint is in the directory, GET /partners/)"
        raise ConflictError(
            "mixed_mode_direct",
            f"The agreement with {cso.operator_id} is in mixed mode: "
            f"send remote commands directly to the CSO{where}.",
            {"cso": cso.operator_id, "mode": mode, "direct_endpoint": url},
        )


def _check_contract(csp: Partner, contract_id: str, owner: int | None) -> None:
    """The contract must be the CSP's: by the credentials it holds for it, else by its provider ID
    (`owner`: the contract's CSP as the credentials app knows it)."""
    owned = (
        owner == csp.pk
        if owner is not None
        else parse_contract_id(contract_id).provider_id == csp.provider_id
    )
    if not owned:
        raise RuleViolation("contract_not_owned", "The contract ID does not belong to you.")


def _reservation_minutes(expiry: datetime, now: datetime) -> int:
    """How long a reservation's authorization lasts: to its expiry, at least the usual validity."""
    if expiry <= now:
        raise RuleViolation("expiry_in_past", "The reservation's expiry has passed already.")
    if expiry > now + timedelta(minutes=settings.RESERVATION_MAX_MINUTES):
        raise RuleViolation(
            "expiry_too_far", f"A reservation may last at most {settings.RESERVATION_MAX_MINUTES} minutes."
        )
    minutes = math.ceil((expiry - now).total_seconds() / 60)
    return max(minutes, settings.AUTHORIZATION_VALIDITY_MINUTES)


def _reservation_create(
    *, csp: Partner, cso: Partner, request: CommandRequest, reference: str
) -> Reservation:
    try:
        with transaction.atomic():
            return Reservation.objects.create(
                reservation_id=request.reservation_id,
                csp=csp,
                cso=cso,
                evse_id=request.evse_id,
                connector_id=request.connector_id,
                contract_id=request.contract_id,
                expiry_date=request.expiry_date,
                authorization_reference=reference,
            )
    except IntegrityError:  # reservation_unique_open_id: the CSP already has an open one so named
        raise ConflictError(
            "reservation_exists",
            "You have an open reservation with this id; cancel it or choose another id.",
            {"reservation_id": request.reservation_id},
        ) from None


@transaction.atomic
def command_submit(*, csp_id: int, request: CommandRequest, now: datetime | None = None) -> RemoteCommand:
    """Check a CSP's command and write it with its delivery to the CSO (docs/sessions.md).

    Refused when the EVSE, session or reservation is unknown (422), when no agreement with the CSO
    is in force (422), when the agreement is in mixed mode (409, naming the CSO's endpoint), or when
    the CSO has no endpoint to receive it (422). START_SESSION and RESERVE_NOW record the CSP's
    authorization in the credentials app; its reference goes to the CSO with the command.
    """
    now = now or timezone.now()
    if request.type in _TO_EVSE:
        # One query reads the CSP, the contract's owner, the EVSE, its CSO, their agreement and the
        # CSO's endpoint; the checks below refuse in the same order as for the other commands.
        parsed = parse_evse_id(request.evse_id)
        route = evse_route(
            csp_id=csp_id,
            operator_country=parsed.country,
            operator_party=parsed.party_id,
            evse_id=request.evse_id,
            connector_id=request.connector_id,
            contract_id=request.contract_id,
            at=now,
        )
        csp = route.csp
        if request.contract_id:
            _check_contract(csp, request.contract_id, route.contract_owner_id)
        target = _evse_target(request, route)
        _check_mode(cso=target.cso, mode=route.agreement_mode, endpoint_url=lambda: route.cso_endpoint_url)
    else:
        csp = Partner.objects.get(pk=csp_id)
        target = _target_of(csp, request)
        _check_route(cso=target.cso, csp=csp, now=now)
    command = RemoteCommand(
        type=request.type,
        csp=csp,
        cso=target.cso,
        evse_id=request.evse_id or (target.session.evse_id if target.session else ""),
        connector_id=request.connector_id or (target.session.connector_id if target.session else ""),
        contract_id=request.contract_id or (target.session.contract_id if target.session else ""),
        session_id=request.session_id,
        reservation=target.reservation,
        csp_reference=request.csp_reference,
        deadline_at=_first_deadline(now),
    )
    if request.type in ("START_SESSION", "RESERVE_NOW"):
        expiry = request.expiry_date
        minutes = _reservation_minutes(expiry, now) if expiry is not None else None
        command.authorization_reference = lookups.authorization_for_remote_start(
            cso_id=target.cso.pk,
            csp_id=csp.pk,
            evse_id=request.evse_id,
            contract_id=request.contract_id,
            valid_minutes=minutes,
            cso_operator_id=target.cso.operator_id,
        )
    if request.type == "RESERVE_NOW":
        command.reservation = _reservation_create(
            csp=csp, cso=target.cso, request=request, reference=command.authorization_reference
        )
    message = notify.command_to_cso(
        command, location_id=target.location_id, evse_uid=target.evse_uid, outbox=target.outbox
    )
    if message is None:
        raise RuleViolation(
            "cso_unreachable",
            f"{target.cso.operator_id} has no endpoint to receive commands; nothing was sent.",
            {"cso": target.cso.operator_id},
        )
    command.delivery = message
    command.save(force_insert=True)
    return command
