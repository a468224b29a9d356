"""Charging sessions as the CSO reports them: start, progress, end; each change routed to the CSP.

The rules of a start (docs/sessions.md): the EVSE is the CSO's; the session quotes an accepted
authorization of this CSO whose CSP owns the contract and that no other session quotes, or it is a
WHITELIST start of a credential whose policy allows it under an agreement in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from clearinghouse.errors import ConflictError, InvalidTransition, NotFoundError, RuleViolation
from partners.models import Partner
from partners.selectors import agreement_in_force_at

from .. import lookups
from ..inputs import MAX_CHARGING_PERIODS, SessionFields
from ..machine import SESSION_FINAL, SessionStatus, session_move_allowed
from ..models import ChargingSession
from . import notify
from .reservations import reservation_use

# What a start may leave out: a reported session is charging unless it says otherwise.
DEFAULT_STATUS = SessionStatus.ACTIVE


@dataclass(frozen=True)
class SessionChange:
    """The session after a write; `changed` is False for a repeated start or an older update."""

    session: ChargingSession
    changed: bool


@dataclass(frozen=True)
class _Authorized:
    csp_id: int
    auth_method: str


def _check_party(cso: Partner, fields: SessionFields) -> None:
    """OCPI's country_code and party_id, when sent, name the CSO itself."""
    for sent, own, name in (
        (fields.country_code, cso.country_code, "country_code"),
        (fields.party_id, cso.party_id, "party_id"),
    ):
        if sent and sent != own:
            raise RuleViolation("party_mismatch", f"{name} is not yours.", {"field": name})


def _evse_of(cso: Partner, fields: SessionFields) -> lookups.EvseInfo:
    evse = lookups.evse_for_cso(
        cso_id=cso.pk,
        evse_id=fields.evse_id or "",
        location_id=fields.location_id or "",
        evse_uid=fields.evse_uid or "",
    )
    if evse is None:
        raise RuleViolation("unknown_evse", "You have published no such EVSE.")
    # The EVSE ID decides which EVSE it is; OCPI's location_id and evse_uid, when sent too, must agree.
    if (fields.location_id and fields.location_id != evse.location_id) or (
        fields.evse_uid and fields.evse_uid != evse.evse_uid
    ):
        raise RuleViolation("evse_mismatch", "evse_id and location_id/evse_uid name different EVSEs.")
    if evse.connectors and fields.connector_id not in evse.connectors:
        raise RuleViolation(
            "unknown_connector",
            "The EVSE has no connector with this id.",
            {"connector_id": fields.connector_id},
        )
    return evse


def _authorized(cso: Partner, fields: SessionFields) -> _Authorized:
    contract_id = fields.contract_id or ""
    reference = fields.authorization_reference
    if reference:
        info = lookups.authorization_by_reference(cso_id=cso.pk, reference=reference)
        if info is None:
            raise RuleViolation("unknown_authorization", "You hold no authorization with this reference.")
        if info.status != "ACCEPTED" or info.csp_id is None:
            raise RuleViolation(
                "authorization_not_accepted", "The authorization with this reference was not accepted."
            )
        if info.contract_id and info.contract_id != contract_id:
            raise RuleViolation(
                "authorization_contract_mismatch", "The authorization is for another contract."
            )
        owner = lookups.contract_owner(contract_id=contract_id)
        if owner is not None and owner != info.csp_id:
            raise RuleViolation(
                "authorization_csp_mismatch", "The authorization was not given by the CSP of this contract."
            )
        start = fields.start_date_time
        if info.valid_until is not None and start is not None and start > info.valid_until:
            raise RuleViolation(
                "authorization_expired", "The session started after the authorization expired."
            )
        method = fields.auth_method or ("COMMAND" if info.remote_start else "AUTH_REQUEST")
        return _Authorized(csp_id=info.csp_id, auth_method=method)
    if fields.auth_method != "WHITELIST":
        raise RuleViolation(
            "authorization_required", "A session needs an authorization_reference, or auth_method WHITELIST."
        )
    csp_id = lookups.contract_owner(contract_id=contract_id)
    if csp_id is None:
        raise RuleViolation("unknown_contract", "No CSP known to the hub owns this contract.")
    if not lookups.credential_whitelist_allows(cso_id=cso.pk, contract_id=contract_id):
        raise RuleViolation(
            "whitelist_not_allowed",
            "No valid credential of this contract may be authorized from a whitelist "
            "under an agreement in force.",
        )
    return _Authorized(csp_id=csp_id, auth_method="WHITELIST")


def _same_start(session: ChargingSession, fields: SessionFields) -> bool:
    """A repeated start names the same contract and EVSE as the stored one."""
    return session.contract_id == fields.contract_id and (
        session.evse_id == fields.evse_id
        if fields.evse_id
        else (session.location_id, session.evse_uid) == (fields.location_id, fields.evse_uid)
    )


def _existing(cso: Partner, fields: SessionFields) -> SessionChange | None:
    session = (
        ChargingSession.objects.select_related("cso", "csp")
        .filter(cso=cso, session_id=fields.session_id)
        .first()
    )
    if session is None:
        return None
    if not _same_start(session, fields):
        raise ConflictError(
            "session_exists",
            "You reported a session with this id for another contract or EVSE.",
            {"id": fields.session_id},
        )
    return SessionChange(session=session, changed=False)


@transaction.atomic
def session_start(*, cso_id: int, fields: SessionFields, now: datetime | None = None) -> SessionChange:
    """Record a session a CSO started (idempotent per (CSO, id)) and tell the CSP.

    A start reported as finished already (status COMPLETED or INVALID) is told as started and ended.
    """
    now = now or timezone.now()
    cso = Partner.objects.get(pk=cso_id)
    _check_party(cso, fields)
    existing = _existing(cso, fields)
    if existing is not None:
        return existing
    evse = _evse_of(cso, fields)
    authorized = _authorized(cso, fields)
    if authorized.csp_id == cso.pk:
        raise RuleViolation("own_contract", "A session of your own contract at your own EVSE is not roaming.")
    status = fields.status or DEFAULT_STATUS
    if status == SessionStatus.COMPLETED and fields.end_date_time is None:
        raise RuleViolation("end_required", "A COMPLETED session needs its end_date_time.")
    if len(fields.charging_periods) > MAX_CHARGING_PERIODS:
        raise RuleViolation(
            "too_many_periods", f"A session holds at most {MAX_CHARGING_PERIODS} charging periods."
        )
    # The agreement that covered the session when it started (settlement rates under it).
    agreement = agreement_in_force_at(cso_id=cso.pk, csp_id=authorized.csp_id, at=fields.start_date_time)
    session = ChargingSession(
        session_id=fields.session_id,
        cso=cso,
        csp=Partner.objects.get(pk=authorized.csp_id),
        agreement=agreement,
        status=status,
        evse_id=evse.evse_id,
        location_id=evse.location_id,
        evse_uid=evse.evse_uid,
        connector_id=fields.connector_id,
        time_zone=evse.time_zone,
        contract_id=fields.contract_id,
        token_type=fields.token.type if fields.token else "",
        token_hint=fields.token.hint if fields.token else "",
        auth_method=authorized.auth_method,
        authorization_reference=fields.authorization_reference or "",
        start_date_time=fields.start_date_time,
        end_date_time=fields.end_date_time,
        kwh=fields.kwh if fields.kwh is not None else Decimal(0),
        currency=fields.currency,
        total_cost_excl_vat=fields.total_cost_excl_vat,
        total_cost_incl_vat=fields.total_cost_incl_vat,
        charging_periods=fields.charging_periods,
        meter_id=fields.meter_id or "",
        last_updated=fields.last_updated or now,
        updated_at=now,
        progress_sent_at=now,
    )
    try:
        with transaction.atomic():
            session.save(force_insert=True)
    except IntegrityError:
        # Either a simultaneous identical start won the race, or another session quotes the
        # authorization already (session_unique_cso_id, session_unique_authorization).
        existing = _existing(cso, fields)
        if existing is not None:
            return existing
        raise ConflictError(
            "authorization_used", "Another session quotes this authorization_reference already."
        ) from None
    if session.authorization_reference:
        reservation_use(cso_id=cso.pk, authorization_reference=session.authorization_reference, now=now)
    notify.session_to_csp(session, "started")
    if session.status in SESSION_FINAL:
        notify.session_to_csp(session, "ended")
    return SessionChange(session=session, changed=True)


# Fields fixed at the start: an update may repeat them, not change them.
_IMMUTABLE = (
    ("evse_id", "evse_id"),
    ("location_id", "location_id"),
    ("evse_uid", "evse_uid"),
    ("connector_id", "connector_id"),
    ("contract_id", "contract_id"),
    ("auth_method", "auth_method"),
    ("authorization_reference", "authorization_reference"),
    ("currency", "currency"),
)


def _check_immutable(session: ChargingSession, fields: SessionFields) -> None:
    _check_party(session.cso, fields)
    if fields.session_id is not None and fields.session_id != session.session_id:
        raise RuleViolation("field_immutable", "id cannot change.", {"field": "id"})
    for name, column in _IMMUTABLE:
        sent = getattr(fields, name)
        if sent is not None and sent != getattr(session, column):
            raise RuleViolation("field_immutable", f"{name} cannot change after the start.", {"field": name})


def _progress_due(session: ChargingSession, now: datetime) -> bool:
    """Progress goes to the CSP at most every SESSION_PROGRESS_MIN_INTERVAL_SECONDS per session."""
    sent = session.progress_sent_at
    return sent is None or now - sent >= timedelta(seconds=settings.SESSION_PROGRESS_MIN_INTERVAL_SECONDS)


@transaction.atomic
def session_update(
    *, cso_id: int, session_id: str, fields: SessionFields, now: datetime | None = None
) -> SessionChange:
    """Apply a CSO's update (OCPI PATCH: only what changes; charging periods are appended).

    An update whose last_updated is not newer than the stored one is ignored (`changed` False): it
    is a repeat or arrived late. A finished session takes no more updates; the status only moves
    PENDING → ACTIVE → COMPLETED or INVALID. The CSP is told of every status change and of the
    progress in between, at most every SESSION_PROGRESS_MIN_INTERVAL_SECONDS.
    """
    now = now or timezone.now()
    # The row lock orders two updates of one session; each is then one conditional UPDATE.
    session = (
        ChargingSession.objects.select_for_update(of=("self",))
        .select_related("cso", "csp")
        .filter(cso_id=cso_id, session_id=session_id)
        .first()
    )
    if session is None:
        raise NotFoundError("session_not_found", "You have no session with this id.")
    assert fields.last_updated is not None  # parse_session(partial=True) requires it
    if fields.last_updated <= session.last_updated:
        return SessionChange(session=session, changed=False)
    if session.status in SESSION_FINAL:
        raise InvalidTransition(
            "session_final",
            f"The session is {session.status}; it takes no more updates.",
            {"status": session.status},
        )
    _check_immutable(session, fields)
    status = fields.status or session.status
    if not session_move_allowed(session.status, status):
        raise InvalidTransition(
            "invalid_transition",
            f"A session cannot go from {session.status} to {status}.",
            {"from": session.status, "to": status},
        )
    changes: dict[str, Any] = {"status": status, "last_updated": fields.last_updated, "updated_at": now}
    for name in ("start_date_time", "end_date_time", "kwh", "meter_id"):
        if getattr(fields, name) is not None:
            changes[name] = getattr(fields, name)
    if fields.cost_sent:
        changes["total_cost_excl_vat"] = fields.total_cost_excl_vat
        changes["total_cost_incl_vat"] = fields.total_cost_incl_vat
    if fields.charging_periods:
        periods = session.charging_periods + fields.charging_periods
        if len(periods) > MAX_CHARGING_PERIODS:
            raise RuleViolation(
                "too_many_periods", f"A session holds at most {MAX_CHARGING_PERIODS} charging periods."
            )
        changes["charging_periods"] = periods
    start = changes.get("start_date_time", session.start_date_time)
    end = changes.get("end_date_time", session.end_date_time)
    if end is not None and end < start:
        raise RuleViolation("invalid_period", "end_date_time is before start_date_time.")
    if status == SessionStatus.COMPLETED and end is None:
        raise RuleViolation("end_required", "A COMPLETED session needs its end_date_time.")
    ended = status in SESSION_FINAL
    progress = not ended and (status != session.status or _progress_due(session, now))
    if ended or progress:
        changes["progress_sent_at"] = now
    ChargingSession.objects.filter(
        pk=session.pk, status=session.status, last_updated__lt=fields.last_updated
    ).update(**changes)
    for name, value in changes.items():
        setattr(session, name, value)
    if ended:
        notify.session_to_csp(session, "ended")
    elif progress:
        notify.session_to_csp(session, "progress")
    return SessionChange(session=session, changed=True)
