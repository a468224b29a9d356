"""Writes of privacy: erasures, exports and the nightly retention run.

An erasure runs in one transaction: every registered step replaces the contract's identifiers with
its pseudonym (or deletes), then the erasure is claimed COMPLETED by a conditional UPDATE. While the
contract has an open activity (a session not yet ended), the erasure waits SCHEDULED and the
periodic job runs it once nothing is open any more, or once PRIVACY_ERASURE_MAX_WAIT_HOURS have
passed (a session a CSO never ends must not keep a driver's data forever).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from clearinghouse.api.secrets import field_fernet
from clearinghouse.audit import audit_record
from clearinghouse.context import current_actor
from clearinghouse.errors import NotFoundError
from clearinghouse.lib.crypto import decrypt, encrypt

from . import registry
from .contracts import Contract, contract_read
from .identity import contract_spellings
from .models import Channel, DataExport, Erasure, RetentionRun
from .selectors import contract_owner, export_document

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErasureAnswer:
    """The erasure of a contract, and whether this request created it (False: it existed)."""

    erasure: Erasure
    created: bool


def _csp_for(contract: Contract, *, csp_id: int | None) -> int:
    """The CSP on whose behalf a request is made: the caller (a CSP may act on its own contracts
    only; another's answers 404 as if unknown) or, for staff (csp_id None), the contract's owner."""
    owner = contract_owner(contract)
    if owner is None or (csp_id is not None and owner != csp_id):
        raise NotFoundError("not_found", "No such contract among yours.")
    return owner


def _blockers(spellings: list[str]) -> dict[str, int]:
    waiting = {}
    for blocker in registry.erasure_blockers():
        count = int(blocker.fn(list(spellings)))
        if count:
            waiting[blocker.name] = count
    return waiting


def erasure_request(
    *, contract_id: object, csp_id: int | None, channel: str = Channel.API, now: datetime | None = None
) -> ErasureAnswer:
    """Ask the hub to forget a contract (the CSP that owns it, or staff with csp_id None).

    Idempotent: a second request for the same contract, in any spelling, answers the first erasure
    (and erases what arrived about the contract since, see _sweep_again). Without an open session
    of the contract the erasure runs at once, in this transaction; with one it is SCHEDULED.
    """
    contract = contract_read(contract_id)
    owner = _csp_for(contract, csp_id=csp_id)
    existing = Erasure.objects.filter(pseudonym=contract.pseudonym).first()
    if existing is not None:
        _sweep_again(existing.pk, contract.canonical, now=now or timezone.now())
        existing.refresh_from_db()
        return ErasureAnswer(existing, created=False)
    now = now or timezone.now()
    actor = current_actor()
    with transaction.atomic():
        try:
            with transaction.atomic():
                erasure = Erasure.objects.create(
                    csp_id=owner,
                    pseudonym=contract.pseudonym,
                    pending_contract=encrypt(field_fernet(), contract.canonical),
                    channel=channel,
                    requested_by=actor.label[:150],
                    requested_by_user_id=actor.user_id,
                    requested_at=now,
                )
        except IntegrityError:
            # A simultaneous request for the same contract won (erasure_unique_contract).
            return ErasureAnswer(Erasure.objects.get(pseudonym=contract.pseudonym), created=False)
        audit_record(
            action="privacy.erasure.request",
            obj=erasure,
            partner_id=owner,
            details={"pseudonym": contract.pseudonym, "channel": channel},
        )
        _execute(erasure, contract.canonical, now=now, force=False)
    erasure.refresh_from_db()
    return ErasureAnswer(erasure, created=True)


def _execute(erasure: Erasure, canonical: str, *, now: datetime, force: bool) -> bool:
    """Run the steps and complete the erasure, in the caller's transaction; False if it waits."""
    spellings = contract_spellings(canonical)
    waiting = _blockers(spellings)
    overdue = now - erasure.requested_at >= timedelta(hours=settings.PRIVACY_ERASURE_MAX_WAIT_HOURS)
    if waiting and not (force or overdue):
        if waiting != erasure.waiting_for:
            Erasure.objects.filter(pk=erasure.pk, state=Erasure.State.SCHEDULED).update(waiting_for=waiting)
        return False
    counts: dict[str, int] = {}
    for step in registry.erasure_steps():
        counts[step.name] = int(step.fn(list(spellings), erasure.pseudonym))
    claimed = Erasure.objects.filter(pk=erasure.pk, state=Erasure.State.SCHEDULED).update(
        state=Erasure.State.COMPLETED,
        completed_at=now,
        counts=counts,
        pending_contract="",
        waiting_for=waiting,
    )
    if not claimed:
        # Another worker completed it meanwhile: undo this run's writes with the transaction.
        raise _AlreadyCompleted()
    audit_record(
        action="privacy.erasure.complete",
        obj=erasure,
        partner_id=erasure.csp_id,
        details={"pseudonym": erasure.pseudonym, "counts": counts, "open_when_run": waiting},
    )
    return True


class _AlreadyCompleted(Exception):
    pass


def _sweep_again(erasure_id: int, canonical: str, *, now: datetime) -> None:
    """A repeated request for a completed erasure runs the steps once more: what the hub received
    about the contract since (a late SDR, refused and kept as rejected) goes the same way. Nothing
    found, nothing changes; the erasure's counts add up what was found."""
    with transaction.atomic():
        erasure = (
            Erasure.objects.select_for_update().filter(pk=erasure_id, state=Erasure.State.COMPLETED).first()
        )
        if erasure is None:
            return
        found = {
            step.name: count
            for step in registry.erasure_steps()
            if (count := int(step.fn(contract_spellings(canonical), erasure.pseudonym)))
        }
        if not found:
            return
        counts = dict(erasure.counts)
        for name, count in found.items():
            counts[name] = counts.get(name, 0) + count
        Erasure.objects.filter(pk=erasure.pk).update(counts=counts)
        audit_record(
            action="privacy.erasure.sweep",
            obj=erasure,
            partner_id=erasure.csp_id,
            details={"pseudonym": erasure.pseudonym, "counts": found, "at": now.isoformat()},
        )


def erasure_run(*, erasure_id: int, force: bool = False, now: datetime | None = None) -> bool:
    """Run a SCHEDULED erasure if nothing of its contract is open any more (or it waited long
    enough, or `force`: staff decided not to wait). True if this call completed it."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            # The row lock makes concurrent runners queue; the one after finds it COMPLETED.
            erasure = (
                Erasure.objects.select_for_update()
                .filter(pk=erasure_id, state=Erasure.State.SCHEDULED)
                .first()
            )
            if erasure is None:
                return False
            canonical = decrypt(field_fernet(), erasure.pending_contract)
            return _execute(erasure, canonical, now=now, force=force)
    except _AlreadyCompleted:
        return False


def erasures_run_scheduled(*, now: datetime | None = None, limit: int = 100) -> int:
    """Run the SCHEDULED erasures whose contracts have nothing open any more (periodic job; partial
    index erasure_scheduled). Each erasure in its own transaction; returns how many completed."""
    now = now or timezone.now()
    ids = list(
        Erasure.objects.filter(state=Erasure.State.SCHEDULED)
        .order_by("requested_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    completed = 0
    for erasure_id in ids:
        try:
            completed += erasure_run(erasure_id=erasure_id, now=now)
        except Exception:
            # One erasure's failure (logged without the contract) must not stop the others.
            logger.exception("erasure %s failed; it stays scheduled", erasure_id)
    return completed


def contract_export(
    *, contract_id: object, csp_id: int | None, channel: str = Channel.API, now: datetime | None = None
) -> dict[str, Any]:
    """Everything the hub holds on a contract, as one JSON document for the CSP that owns it (or
    staff, csp_id None); recorded as a DataExport and in the audit log."""
    contract = contract_read(contract_id)
    owner = _csp_for(contract, csp_id=csp_id)
    now = now or timezone.now()
    document = export_document(contract=contract, csp_id=owner, now=now)
    counts = {name: len(value) for name, value in document.items() if isinstance(value, list)}
    actor = current_actor()
    with transaction.atomic():
        record = DataExport.objects.create(
            csp_id=owner,
            pseudonym=contract.pseudonym,
            channel=channel,
            requested_by=actor.label[:150],
            requested_by_user_id=actor.user_id,
            created_at=now,
            counts=counts,
        )
        audit_record(
            action="privacy.export",
            obj=record,
            partner_id=owner,
            details={"pseudonym": contract.pseudonym, "channel": channel, "counts": counts},
        )
    document["export_id"] = record.pk
    return document


def retention_run(*, now: datetime | None = None) -> RetentionRun | None:
    """Anonymise or delete what is past its retention period: every registered step, each working
    in batches of PRIVACY_RETENTION_BATCH_SIZE rows with one transaction per batch. None when a run
    is going on already (one at a time; a run older than the task time limit counts as abandoned)."""
    now = now or timezone.now()
    started = timezone.now()
    stale = started - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    RetentionRun.objects.filter(state=RetentionRun.State.RUNNING, started_at__lt=stale).update(
        state=RetentionRun.State.FAILED, finished_at=started, error="abandoned (past the task time limit)"
    )
    try:
        with transaction.atomic():
            run = RetentionRun.objects.create(state=RetentionRun.State.RUNNING, started_at=started, as_of=now)
    except IntegrityError:
        return None
    counts: dict[str, int] = {}
    batch_size = settings.PRIVACY_RETENTION_BATCH_SIZE
    for step in registry.retention_steps():
        try:
            counts[step.name] = int(step.fn(now, batch_size))
        except Exception as exc:
            RetentionRun.objects.filter(pk=run.pk).update(
                state=RetentionRun.State.FAILED,
                finished_at=timezone.now(),
                counts=counts,
                error=f"{step.name}: {type(exc).__name__}",
            )
            raise
        RetentionRun.objects.filter(pk=run.pk).update(counts=counts)
    RetentionRun.objects.filter(pk=run.pk).update(
        state=RetentionRun.State.COMPLETED, finished_at=timezone.now(), counts=counts
    )
    audit_record(action="privacy.retention", obj=run, details={"as_of": now.isoformat(), "counts": counts})
    run.refresh_from_db()
    return run
