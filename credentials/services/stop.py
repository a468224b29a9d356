"""Authorizations other than a presented credential's start: stops, and starts a CSP gives by a
remote command."""

from __future__ import annotations

import secrets
import time
from datetime import datetime

from django.utils import timezone

from clearinghouse.errors import ConflictError, InvalidInput, NotFoundError
from clearinghouse.lib.identifiers import IdentifierError, mask, parse_contract_id
from partners.models import Partner

from ..decision import DecidedBy, Decision, Reason, Status
from ..inputs import Presented
from ..keys import lookup_hash, qr_key
from ..models import AuthorizationRecord, Credential, CredentialType
from ..outcome import AuthorizationOutcome
from ..qr import QrCodeError, qr_code_read
from .authorization import check_evse, consume_code, elapsed_ms, valid_until_of


def _resolve_for_stop(presented: Presented, now: datetime) -> tuple[str, Credential | None, str]:
    """(lookup hash, the hub's credential if it has one, the reason the code cannot be used)."""
    if presented.type == CredentialType.QR_DYNAMIC:
        try:
            code = qr_code_read(key=qr_key(), code=presented.lookup_value, now=now.timestamp())
        except QrCodeError as exc:
            return "", None, exc.reason
        credential = Credential.objects.filter(pk=code.credential_id, type=CredentialType.QR_DYNAMIC).first()
        if credential is None:
            return "", None, Reason.INVALID_CODE
        if not consume_code(nonce=code.nonce, credential_id=credential.pk, expires_at=code.expires_at):
            return "", None, Reason.CODE_USED
        return credential.lookup_hash, credential, ""
    digest = lookup_hash(presented.type, presented.lookup_value)
    return digest, Credential.objects.filter(lookup_hash=digest).first(), ""


def authorization_stop(*, cso_id: int, authorization_id: int, presented: Presented) -> AuthorizationOutcome:
    """May this credential stop the session of an accepted start? The same credential, or another
    credential of the same contract, may; anything else is REJECTED. The answer is recorded."""
    started = time.perf_counter()
    now = timezone.now()
    start = (
        AuthorizationRecord.objects.select_related("csp")
        .filter(pk=authorization_id, cso_id=cso_id, kind=AuthorizationRecord.Kind.START)
        .first()
    )
    if start is None:
        raise NotFoundError("not_found", "No such authorization.")
    if start.status != Status.ACCEPTED:
        raise ConflictError("not_accepted", f"the start was not accepted (it is {start.status})")
    digest, credential, failure = _resolve_for_stop(presented, now)
    if failure:
        decision = Decision(Status.REJECTED, failure, DecidedBy.HUB)
    elif digest == start.lookup_hash:
        decision = Decision(Status.ACCEPTED, Reason.SAME_CREDENTIAL, DecidedBy.HUB)
    elif credential is not None and start.contract_id and credential.contract_id == start.contract_id:
        decision = Decision(Status.ACCEPTED, Reason.SAME_CONTRACT, DecidedBy.HUB)
    else:
        decision = Decision(Status.REJECTED, Reason.OTHER_CONTRACT, DecidedBy.HUB)
    record = AuthorizationRecord.objects.create(
        kind=AuthorizationRecord.Kind.STOP,
        start=start,
        cso_id=cso_id,
        csp_id=start.csp_id,
        credential=credential,
        evse_id=start.evse_id,
        cso_session_id=start.cso_session_id,
        credential_type=presented.type,
        credential_hint=credential.value_hint if credential else presented.hint,
        lookup_hash=digest,
        contract_id=credential.contract_id if credential else "",
        status=decision.status,
        reason=decision.reason,
        decided_by=DecidedBy.HUB,
        authorization_reference=secrets.token_hex(16),
        latency_ms=elapsed_ms(started),
        created_at=now,
        decided_at=now,
    )
    return AuthorizationOutcome(
        authorization_id=record.pk,
        kind=record.kind,
        status=record.status,
        reason=record.reason,
        contract_id=start.contract_id,
        csp=start.csp.provider_id if start.csp_id else "",
        decided_by=record.decided_by,
        authorization_reference=record.authorization_reference,
        valid_until=None,
        evse_id=record.evse_id,
        cso_session_id=record.cso_session_id,
    )


def authorization_create_for_remote_start(
    *,
    cso_id: int,
    csp_id: int,
    evse_id: str,
    contract_id: str,
    valid_minutes: int | None = None,
    cso_operator_id: str | None = None,
) -> AuthorizationRecord:
    """Record the authorization a CSP gives by asking for a remote start (START_SESSION) or a
    reservation (RESERVE_NOW): ACCEPTED, decided by the CSP, with a fresh authorization_reference
    the CSO quotes in the session and SDR that follow.

    The caller has checked the agreement and the command; this checks the identifiers: the EVSE ID
    must be the CSO's, the contract ID well formed. A caller that has loaded the CSO passes its
    operator ID, which spares reading it again.
    """
    if valid_minutes is not None and not 1 <= valid_minutes <= 7 * 24 * 60:
        raise InvalidInput("invalid_validity", "valid_minutes must be from 1 to 10080")
    if cso_operator_id is None:
        operator = (
            Partner.objects.filter(pk=cso_id, is_cso=True).values_list("country_code", "party_id").first()
        )
        if operator is None:
            raise NotFoundError("unknown_cso", "no CSO with this id")
        cso_operator_id = f"{operator[0]}*{operator[1]}"
    evse = check_evse(evse_id, cso_operator_id)
    try:
        contract = parse_contract_id(contract_id).normalized()
    except IdentifierError as exc:
        raise InvalidInput(exc.code, exc.message) from None
    now = timezone.now()
    return AuthorizationRecord.objects.create(
        cso_id=cso_id,
        csp_id=csp_id,
        evse_id=evse,
        credential_type=CredentialType.REMOTE,
        credential_hint=mask(contract),
        lookup_hash=lookup_hash(CredentialType.REMOTE, contract),
        contract_id=contract,
        status=Status.ACCEPTED,
        reason=Reason.REMOTE_START,
        decided_by=DecidedBy.CSP,
        authorization_reference=secrets.token_hex(16),
        valid_until=valid_until_of(now, minutes=valid_minutes),
        latency_ms=0,
        created_at=now,
        decided_at=now,
    )
