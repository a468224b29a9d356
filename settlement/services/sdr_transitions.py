"""The CSP's answer to an SDR and the hub's own transitions: delivered, accepted, disputed.

An SDR that becomes ACCEPTED joins its settlement bucket in the same transaction
(settlement_buckets); it shows as SETTLED once a run has closed that bucket.

Each change is a conditional UPDATE on the state the SDR was read in (under a row lock), so two
answers at the same moment cannot both apply; a repeat of the same answer changes nothing and
returns the SDR as it is. Every transition is recorded as an SdrEvent and routed to the other side.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clearinghouse.errors import InvalidInput, InvalidTransition, NotFoundError

from ..models import DisputeReason, Sdr, SdrEvent, SdrState
from ..representation import transition_out
from . import sdr_routing
from .settlement_buckets import sdrs_place

S = SdrState
ACCEPTABLE = (S.VALIDATED, S.DELIVERED, S.DISPUTED)
DISPUTABLE = (S.VALIDATED, S.DELIVERED)
DISPUTE_MESSAGE_MAX = 500


def _locked_for_csp(*, csp_id: int, sdr_pk: int) -> Sdr:
    sdr = (
        Sdr.objects.select_for_update(of=("self",))
        .select_related("cso", "csp")
        .filter(pk=sdr_pk, csp_id=csp_id)
        .exclude(state=S.REJECTED)
        .first()
    )
    if sdr is None:
        raise NotFoundError("sdr_not_found", "No such SDR for you.")
    return sdr


def _claim(sdr: Sdr, to_state: str, now: datetime, **fields: object) -> None:
    """Move the SDR from the state it was read in; the row lock makes the condition hold."""
    changed = Sdr.objects.filter(pk=sdr.pk, state=sdr.state).update(state=to_state, updated_at=now, **fields)
    if changed != 1:
        raise InvalidTransition("sdr_changed", "The SDR changed meanwhile; read it again.")
    for name, value in fields.items():
        setattr(sdr, name, value)
    sdr.state, sdr.updated_at = to_state, now


def _route(sdr: Sdr, *, to_role: str, event_type: str) -> None:
    record = transition_out(
        sdr, cso_label=sdr.cso.operator_id, csp_label=sdr.csp.provider_id if sdr.csp else None
    )
    partner_id = sdr.cso_id if to_role == "CSO" else sdr.csp_id
    assert partner_id is not None
    sdr_routing.sdrs_send(partner_id=partner_id, role=to_role, event_type=event_type, records=[record])


def dispute_window_closes(sdr: Sdr) -> datetime | None:
    """When the CSP's silence starts to count as acceptance (None before the SDR was delivered)."""
    if sdr.delivered_at is None:
        return None
    return sdr.delivered_at + timedelta(days=settings.SDR_DISPUTE_WINDOW_DAYS)


@transaction.atomic
def sdr_accept(*, csp_id: int, sdr_pk: int) -> Sdr:
    """The CSP accepts an SDR it pays (also withdrawing its own dispute); the CSO is told."""
    sdr = _locked_for_csp(csp_id=csp_id, sdr_pk=sdr_pk)
    if sdr.state in (S.ACCEPTED, S.SETTLED):
        return sdr
    if sdr.state not in ACCEPTABLE:
        raise InvalidTransition("invalid_transition", f"A {sdr.state} SDR cannot be accepted.")
    now = timezone.now()
    previous = sdr.state
    _claim(sdr, S.ACCEPTED, now, accepted_at=now)
    sdrs_place(pks=[sdr.pk])
    sdr.refresh_from_db(fields=["bucket"])
    SdrEvent.objects.create(
        sdr=sdr, from_state=previous, to_state=S.ACCEPTED, actor="CSP", partner_id=csp_id, created_at=now
    )
    _route(sdr, to_role="CSO", event_type=sdr_routing.ACCEPTED)
    return sdr


@transaction.atomic
def sdr_dispute(*, csp_id: int, sdr_pk: int, reason_code: str, message: str = "") -> Sdr:
    """The CSP disputes an SDR within the dispute window, with a reason; the CSO is told and may
    answer with a correction (settlement holds the SDR back meanwhile)."""
    if reason_code not in DisputeReason.values:
        raise InvalidInput(
            "invalid_reason_code", f"reason_code must be one of {', '.join(DisputeReason.values)}."
        )
    if not isinstance(message, str) or len(message) > DISPUTE_MESSAGE_MAX:
        raise InvalidInput(
            "invalid_message", f"message must be a string of at most {DISPUTE_MESSAGE_MAX} characters."
        )
    sdr = _locked_for_csp(csp_id=csp_id, sdr_pk=sdr_pk)
    if sdr.state == S.DISPUTED:
        if (sdr.dispute_reason_code, sdr.dispute_message) == (reason_code, message):
            return sdr
        raise InvalidTransition("already_disputed", "The SDR is disputed already, with another reason.")
    if sdr.state not in DISPUTABLE:
        raise InvalidTransition("invalid_transition", f"A {sdr.state} SDR cannot be disputed.")
    now = timezone.now()
    closes = dispute_window_closes(sdr)
    if closes is not None and now >= closes:
        raise InvalidTransition(
            "dispute_window_closed", "The dispute window of this SDR has passed; it counts as accepted."
        )
    previous = sdr.state
    _claim(sdr, S.DISPUTED, now, disputed_at=now, dispute_reason_code=reason_code, dispute_message=message)
    SdrEvent.objects.create(
        sdr=sdr,
        from_state=previous,
        to_state=S.DISPUTED,
        actor="CSP",
        partner_id=csp_id,
        reason_code=reason_code,
        message=message,
        created_at=now,
    )
    _route(sdr, to_role="CSO", event_type=sdr_routing.DISPUTED)
    return sdr


def sdrs_accept_undisputed(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Delivered SDRs the CSP neither accepted nor disputed within SDR_DISPUTE_WINDOW_DAYS become
    ACCEPTED; both sides are told. Works in batches, each its own transaction, skipping rows another
    worker holds; returns how many were accepted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SDR_DISPUTE_WINDOW_DAYS)
    total = 0
    while True:
        with transaction.atomic():
            due = list(
                Sdr.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("cso", "csp")
                .filter(state=S.DELIVERED, delivered_at__lt=cutoff)
                .order_by("delivered_at", "id")[:batch_size]
            )
            if not due:
                return total
            pks = [s.pk for s in due]
            Sdr.objects.filter(pk__in=pks, state=S.DELIVERED).update(
                state=S.ACCEPTED, accepted_at=now, updated_at=now
            )
            sdrs_place(pks=pks)
            SdrEvent.objects.bulk_create(
                SdrEvent(
                    sdr_id=pk,
                    from_state=S.DELIVERED,
                    to_state=S.ACCEPTED,
                    actor="HUB",
                    reason_code="DISPUTE_WINDOW",
                    created_at=now,
                )
                for pk in pks
            )
            by_partner = sdr_routing.group()
            for sdr in due:
                sdr.state, sdr.accepted_at, sdr.updated_at = S.ACCEPTED, now, now
                record = transition_out(sdr, cso_label=sdr.cso.operator_id, csp_label=sdr.csp.provider_id)
                by_partner[(sdr.cso_id, "CSO")].append(record)
                by_partner[(sdr.csp_id, "CSP")].append(record)
            sdr_routing.sdrs_send_grouped(by_partner=by_partner, event_type=sdr_routing.ACCEPTED)
        total += len(due)
        if len(due) < batch_size:
            return total


@transaction.atomic
def sdrs_mark_delivered(*, sdr_pks: Iterable[int], at: datetime | None = None) -> int:
    """The CSP's endpoint took the message carrying these SDRs: VALIDATED ones become DELIVERED and
    their dispute window starts; credits (accepted on arrival) only note the time. Idempotent."""
    at = at or timezone.now()
    pks = list(sdr_pks)
    delivered = list(
        Sdr.objects.select_for_update(of=("self",))
        .filter(pk__in=pks, state=S.VALIDATED)
        .values_list("pk", flat=True)
    )
    Sdr.objects.filter(pk__in=delivered, state=S.VALIDATED).update(
        state=S.DELIVERED, delivered_at=at, updated_at=at
    )
    Sdr.objects.filter(pk__in=pks, delivered_at__isnull=True).exclude(state=S.REJECTED).update(
        delivered_at=at
    )
    SdrEvent.objects.bulk_create(
        SdrEvent(sdr_id=pk, from_state=S.VALIDATED, to_state=S.DELIVERED, actor="HUB", created_at=at)
        for pk in delivered
    )
    return len(delivered)
