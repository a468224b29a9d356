"""Reads of credentials and authorization records, for this app's API and for the apps above it
(sessions and settlement quote authorizations and look up contracts through these functions)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from partners.selectors import active_agreements

from .decision import Status, Whitelist
from .models import AuthorizationRecord, Credential, IssuedContract
from .outcome import AuthorizationOutcome

POLL_SECONDS = (0.02, 0.05, 0.1, 0.2)


def credentials_of(
    *, csp_id: int, since: datetime | None = None, status: str | None = None, type: str | None = None
) -> QuerySet[Credential]:
    """A CSP's credentials (its uploads and those the hub issued for it), optionally changed after
    `since`, in one status or of one type."""
    qs = Credential.objects.filter(csp_id=csp_id)
    if since is not None:
        qs = qs.filter(updated_at__gt=since)
    if status:
        qs = qs.filter(status=status)
    if type:
        qs = qs.filter(type=type)
    return qs


def credential_get_for_csp(*, csp_id: int, credential_id: int) -> Credential | None:
    """A credential, if the CSP owns it (another CSP's credential is as good as absent)."""
    return Credential.objects.filter(pk=credential_id, csp_id=csp_id).first()


@dataclass(frozen=True)
class CredentialOwner:
    csp_id: int
    hub_issued: bool


def credential_owner(*, contract_id: str) -> CredentialOwner | None:
    """The CSP that owns a contract (normalised contract ID): the CSP of its credentials, or the CSP
    the hub issued the contract for. None for a contract the hub does not know."""
    row = Credential.objects.filter(contract_id=contract_id).values_list("csp_id", "issuer").first()
    if row is not None:
        return CredentialOwner(csp_id=row[0], hub_issued=row[1] == Credential.Issuer.HUB)
    csp_id = IssuedContract.objects.filter(contract_id=contract_id).values_list("csp_id", flat=True).first()
    return CredentialOwner(csp_id=csp_id, hub_issued=True) if csp_id is not None else None


def credentials_for_whitelist(*, cso_id: int, since: datetime | None = None) -> QuerySet[Credential]:
    """Credentials a CSO may keep in its local whitelist to authorize while offline: valid ones
    whose policy allows caching (not NEVER), of CSPs in an agreement in force with the CSO."""
    now = timezone.now()
    csp_ids = active_agreements(at=now).filter(cso_id=cso_id).values("csp_id")
    # Dates count as much as the status: a credential past valid_until may still say VALID.
    qs = Credential.objects.filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=now),
        Q(valid_until__isnull=True) | Q(valid_until__gt=now),
        csp_id__in=csp_ids,
        status=Credential.State.VALID,
        whitelist__in=[Whitelist.ALWAYS, Whitelist.ALLOWED, Whitelist.ALLOWED_OFFLINE],
    )
    if since is not None:
        qs = qs.filter(updated_at__gt=since)
    return qs


def authorization_get(*, cso_id: int, authorization_id: int) -> AuthorizationRecord | None:
    """An authorization record, for the CSO that asked for it only."""
    return (
        AuthorizationRecord.objects.select_related("csp").filter(pk=authorization_id, cso_id=cso_id).first()
    )


def authorization_by_reference(*, cso_id: int, reference: str) -> AuthorizationRecord | None:
    """The start authorization a CSO quotes by its `authorization_reference` (in a session or an
    SDR). Any status is returned: the caller checks `status == "ACCEPTED"` and `valid_until`."""
    return (
        AuthorizationRecord.objects.select_related("csp")
        .filter(authorization_reference=reference, cso_id=cso_id, kind=AuthorizationRecord.Kind.START)
        .first()
    )


def outcome_of(record: AuthorizationRecord) -> AuthorizationOutcome:
    """The CSO's view of a record (csp must be loaded with it, see authorization_get)."""
    return AuthorizationOutcome(
        authorization_id=record.pk,
        kind=record.kind,
        status=record.status,
        reason=record.reason,
        contract_id=record.contract_id,
        csp=record.csp.provider_id if record.csp_id else "",
        decided_by=record.decided_by,
        authorization_reference=record.authorization_reference,
        valid_until=record.valid_until,
        evse_id=record.evse_id,
        cso_session_id=record.cso_session_id,
    )


def authorization_wait(*, cso_id: int, authorization_id: int, seconds: float) -> AuthorizationRecord | None:
    """The record once decided, or as it is after `seconds` (Prefer: wait=N). Polls with short
    sleeps: the decision is made by a worker, possibly on another machine."""
    deadline = time.monotonic() + max(0.0, seconds)
    attempt = 0
    while True:
        record = authorization_get(cso_id=cso_id, authorization_id=authorization_id)
        if record is None or record.status != Status.PENDING:
            return record
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return record
        time.sleep(min(remaining, POLL_SECONDS[min(attempt, len(POLL_SECONDS) - 1)]))
        attempt += 1


def authorizations_overdue(*, before: datetime, limit: int = 500) -> list[int]:
    """Routed questions still undecided past their deadline (partial index authorization_pending_due)."""
    return list(
        AuthorizationRecord.objects.filter(Q(deadline_at__lt=before), status=Status.PENDING)
        .order_by("deadline_at")
        .values_list("pk", flat=True)[:limit]
    )


def credential_owners(*, contract_ids: Iterable[str]) -> dict[str, CredentialOwner]:
    """Batch form of credential_owner(): the owner of each known contract among `contract_ids`, in
    at most two queries (for SDR intake, which checks hundreds of contracts per request)."""
    wanted = set(contract_ids)
    owners: dict[str, CredentialOwner] = {}
    if not wanted:
        return owners
    rows = Credential.objects.filter(contract_id__any_of=wanted).order_by("id")
    for contract_id, csp_id, issuer in rows.values_list("contract_id", "csp_id", "issuer"):
        owners.setdefault(
            contract_id, CredentialOwner(csp_id=csp_id, hub_issued=issuer == Credential.Issuer.HUB)
        )
    missing = wanted - owners.keys()
    if missing:
        for contract_id, csp_id in IssuedContract.objects.filter(contract_id__any_of=missing).values_list(
            "contract_id", "csp_id"
        ):
            owners[contract_id] = CredentialOwner(csp_id=csp_id, hub_issued=True)
    return owners


def authorizations_by_reference(*, cso_id: int, references: Iterable[str]) -> dict[str, AuthorizationRecord]:
    """Batch form of authorization_by_reference(): the CSO's start authorizations among
    `references`, by reference, in one query."""
    wanted = {reference for reference in references if reference}
    if not wanted:
        return {}
    records = AuthorizationRecord.objects.filter(
        cso_id=cso_id, kind=AuthorizationRecord.Kind.START, authorization_reference__any_of=wanted
    ).select_related("csp")
    return {record.authorization_reference: record for record in records}
