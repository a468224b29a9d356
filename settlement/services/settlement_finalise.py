"""Finalising statements and recording their payments.

Finalising takes the run's row lock first (the order every run transaction takes it in, so the two
never deadlock), refuses a run that is not DONE, closes the run under its period's exclusive lock
(no SDR is added to it again: later ones, and the open buckets of SDRs accepted since it executed,
go to the next open period), takes the next number from the year's counter row under a row
lock (a rolled-back finalisation gives its number back: no gaps), and stores the document's
snapshot. The message to the partner and the stored reports follow the commit.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clearinghouse.audit import audit_record
from clearinghouse.errors import InvalidInput, InvalidTransition, NotFoundError, RuleViolation
from clearinghouse.models import AuditEntry
from clearinghouse.routing.services import outbox_enqueue
from clearinghouse.tasking import enqueue_on_commit

from ..models import (
    RunState,
    SettlementRun,
    Statement,
    StatementPayment,
    StatementSequence,
    StatementState,
)
from ..money import round_money
from ..selectors.statements import document_to_json, statement_document_live
from .settlement_buckets import buckets_move_on, period_lock
from .settlement_representation import statement_out

FINAL_EVENT = "statement.final"
PATH = "statements"


def statement_number_next(*, year: int) -> str:
    """The next statement number of a year ("CH-2026-000123"), in the caller's transaction."""
    counter, _ = StatementSequence.objects.select_for_update().get_or_create(year=year)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return f"{settings.SETTLEMENT_NUMBER_PREFIX}-{year}-{counter.last_number:06d}"


def _not_found() -> NotFoundError:
    return NotFoundError("statement_not_found", "No such statement.")


def _route_final(statement: Statement) -> None:
    """statement.final to the partner's endpoint: the CSO one, else the CSP one (once)."""
    partner = statement.partner
    payload = statement_out(statement, detail=True)
    for role in ["CSO"] * partner.is_cso + ["CSP"] * partner.is_csp:
        if outbox_enqueue(
            partner_id=partner.pk, role=role, event_type=FINAL_EVENT, path=PATH, payload=payload
        ):
            return


@transaction.atomic
def statement_finalise(
    *, statement_id: int, user_id: int | None = None, channel: str = AuditEntry.Channel.SYSTEM
) -> Statement:
    """DRAFT → FINAL: numbered, snapshotted, locked; the partner is told and the reports stored.
    A final statement is returned as it is."""
    run_id = Statement.objects.filter(pk=statement_id).values_list("run_id", flat=True).first()
    if run_id is None:
        raise _not_found()
    run = SettlementRun.objects.select_for_update().get(pk=run_id)
    statement = Statement.objects.select_for_update().get(pk=statement_id)
    if statement.state != StatementState.DRAFT:
        return statement
    if run.state != RunState.DONE:
        raise InvalidTransition(
            "run_not_done",
            f"The settlement run of this statement is {run.state}; "
            "it must finish before the statement can be final.",
        )
    now = timezone.now()
    if run.closed_at is None:
        # The period becomes final: under its exclusive lock, so no SDR is being placed into it;
        # the buckets still open (accepted since the run executed) move to the next open period.
        period_lock(run.cadence, run.currency, run.period_key, exclusive=True)
        SettlementRun.objects.filter(pk=run.pk, closed_at__isnull=True).update(closed_at=now)
        buckets_move_on(cadence=run.cadence, currency=run.currency, period_key=run.period_key)
    number = statement_number_next(year=now.year)
    document = statement_document_live(statement, state=StatementState.FINAL, number=number, issued_at=now)
    Statement.objects.filter(pk=statement.pk, state=StatementState.DRAFT).update(
        state=StatementState.FINAL,
        number=number,
        issued_at=now,
        snapshot=document_to_json(document),
        updated_at=now,
    )
    statement = Statement.objects.select_related("partner", "run").get(pk=statement.pk)
    audit_record(
        action="statement.finalise",
        channel=channel,
        obj=statement,
        user_id=user_id,
        partner_id=statement.partner_id,
        details={"number": number, "net": str(statement.net), "currency": statement.currency},
    )
    _route_final(statement)
    from ..tasks import statement_reports_store

    enqueue_on_commit(statement_reports_store, statement.pk)
    return statement


def _payment_amount(value: object, currency: str) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput("invalid_amount", "amount must be a decimal number.") from None
    if not amount.is_finite() or amount < 0 or amount != round_money(amount, currency):
        raise InvalidInput(
            "invalid_amount", f"amount must be zero or positive, in whole minor units of {currency}."
        )
    return round_money(amount, currency)


@transaction.atomic
def statement_payment_record(
    *,
    statement_id: int,
    amount: object,
    reference: str = "",
    received_at: datetime | None = None,
    user_id: int | None = None,
    channel: str = AuditEntry.Channel.SYSTEM,
) -> Statement:
    """Record a payment of a final statement (whoever pays): PARTIALLY_PAID until the whole net
    amount is paid, then PAID. A statement with nothing due is marked PAID with an amount of 0."""
    statement = Statement.objects.select_for_update().filter(pk=statement_id).first()
    if statement is None:
        raise _not_found()
    if statement.state == StatementState.DRAFT:
        raise InvalidTransition("statement_not_final", "A draft statement cannot be paid; finalise it first.")
    if statement.state == StatementState.PAID:
        raise InvalidTransition("statement_paid", "The statement is paid in full already.")
    value = _payment_amount(amount, statement.currency)
    outstanding = statement.payment_amount - statement.paid_amount
    if value > outstanding:
        raise RuleViolation(
            "overpayment",
            f"Only {round_money(outstanding, statement.currency)} {statement.currency} is outstanding.",
            {"outstanding": str(round_money(outstanding, statement.currency))},
        )
    if value == 0 and outstanding != 0:
        raise InvalidInput("invalid_amount", "amount must be positive while something is outstanding.")
    if not isinstance(reference, str) or len(reference) > 140:
        raise InvalidInput("invalid_reference", "reference must be text of at most 140 characters.")
    now = timezone.now()
    paid = statement.paid_amount + value
    state = StatementState.PAID if paid == statement.payment_amount else StatementState.PARTIALLY_PAID
    StatementPayment.objects.create(
        statement=statement,
        amount=value,
        received_at=received_at or now,
        reference=reference,
        recorded_by_id=user_id,
    )
    Statement.objects.filter(pk=statement.pk, state=statement.state).update(
        paid_amount=paid, state=state, paid_at=now if state == StatementState.PAID else None, updated_at=now
    )
    statement.refresh_from_db()
    audit_record(
        action="statement.payment",
        channel=channel,
        obj=statement,
        user_id=user_id,
        partner_id=statement.partner_id,
        details={"amount": str(value), "state": state, "reference": reference},
    )
    return statement
