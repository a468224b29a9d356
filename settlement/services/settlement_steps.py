"""The steps of a settlement run, each in short transactions so a killed run resumes where it stopped.

1. Placing: accepted SDRs of the run's currency that ended before its period's end and have no
   settlement bucket yet join theirs (settlement_buckets.sdrs_place), a batch per transaction.
   Acceptance places every SDR already, so this finds nothing unless SDRs were stored as ACCEPTED
   by other means.
2. Settling, in one transaction, without writing to any SDR: under the period's exclusive lock,
   the open buckets of the run's (cadence, period, currency) are closed onto the line of their
   (CSO, CSP) pair, one GROUP BY over their SDRs adds the sums to the lines, and the disputed
   SDRs held back are summed per pair (a picture of now). A run killed before the commit leaves
   nothing behind; one killed after it has settled those SDRs, and the next execution finds their
   buckets closed. Buckets that open later (SDRs accepted after the run) are closed by the next
   execution, onto the same lines, as long as the period is not final.
3. Statements: the lines (one row per pair, never per SDR) and fee plans go through
   settlement_figures in Python; each partner's statement is written in its own transaction.

Every transaction starts with the run's heartbeat, which also proves the run is still this
worker's (a stale run is taken over by another worker, and then this one stops).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import BigIntegerField, Case, Count, DecimalField, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import (
    FeePlan,
    Payer,
    RunState,
    Sdr,
    SdrState,
    SettlementBucket,
    SettlementRun,
    Statement,
    StatementFee,
    StatementLine,
    StatementState,
)
from .settlement_buckets import buckets_follow_cadences, period_lock, place_batch, sdrs_place, unplaced
from .settlement_figures import FeeRates, LineSums, PartnerFigures, line_sums_of, run_figures
from .settlement_scope import Scope

ZERO = Decimal(0)
_SUM = DecimalField(max_digits=24, decimal_places=6)


class RunLost(Exception):
    """Another worker took the run over (this one's heartbeat was stale): stop without writing."""


def checkpoint(run_id: int, token: str) -> None:
    """The heartbeat at the start of every transaction of a run; raises RunLost when the run is no
    longer this worker's. Takes the run's row lock first, as finalising a statement does."""
    claimed = SettlementRun.objects.filter(pk=run_id, claim_token=token, state=RunState.RUNNING).update(
        heartbeat_at=timezone.now()
    )
    if not claimed:
        raise RunLost(f"settlement run {run_id} was taken over")


def _gross(prefix: str = "") -> Coalesce:
    # OCPI makes incl_vat optional: an SDR without it is settled at its amount excl. VAT.
    return Coalesce(f"{prefix}total_cost_incl_vat", f"{prefix}total_cost_excl_vat")


# --- 1. Placing ------------------------------------------------------------------------------------


def step_place(run: SettlementRun, token: str) -> int:
    """Open buckets of the run's currency follow the pairs' cadences as they are now; accepted SDRs
    of the run's currency that ended before its period's end and have no bucket join theirs,
    SETTLEMENT_RUN_BATCH_SIZE per transaction; how many were placed."""
    placed = buckets_follow_cadences(currency=run.currency, before=lambda: checkpoint(run.pk, token))
    if not unplaced(currency=run.currency, ended_before=run.period_end).exists():
        return placed  # the usual case: acceptance placed them all
    while True:
        with transaction.atomic():
            checkpoint(run.pk, token)
            pks = list(
                unplaced(currency=run.currency, ended_before=run.period_end)
                .order_by()
                .values_list("pk", flat=True)[: place_batch()]
            )
            if not pks:
                return placed
            done = sdrs_place(pks=pks)
        if not done:  # nothing could be placed: never loop on the same rows
            return placed
        placed += done


# --- 2. Settling -----------------------------------------------------------------------------------


def _lines_of(run: SettlementRun) -> dict[tuple[int, int], int]:
    rows = StatementLine.objects.filter(run=run).values_list("cso_id", "csp_id", "pk")
    return {(cso, csp): pk for cso, csp, pk in rows}


def _lines_for(run: SettlementRun, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    existing = _lines_of(run)
    StatementLine.objects.bulk_create(
        StatementLine(run=run, cso_id=cso, csp_id=csp) for cso, csp in sorted(pairs - set(existing))
    )
    return _lines_of(run) if pairs - set(existing) else existing


def bucket_sums(bucket_ids: list[int]) -> dict[int, dict[str, object]]:
    """One GROUP BY over the SDRs of these buckets: per bucket, the count, credits and sums."""
    rows = (
        Sdr.objects.filter(bucket_id__in=bucket_ids, state=SdrState.ACCEPTED)
        .values("bucket_id")
        .order_by()
        .annotate(
            n=Count("pk"),
            credits=Count("pk", filter=Q(credit=True)),
            energy=Sum(
                Case(When(credit=True, then=-F("total_energy")), default=F("total_energy"), output_field=_SUM)
            ),
            excl=Sum("total_cost_excl_vat"),
            gross=Sum(_gross()),
            credit_gross=Sum(_gross(), filter=Q(credit=True)),
        )
    )
    return {row["bucket_id"]: row for row in rows}


def _add_to_lines(line_of_bucket: dict[int, int], sums: dict[int, dict[str, object]]) -> int:
    per_line: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for bucket_id, row in sums.items():
        totals = per_line[line_of_bucket[bucket_id]]
        for key in ("n", "credits", "energy", "excl", "gross", "credit_gross"):
            totals[key] += row[key] or ZERO  # type: ignore[operator]
    if per_line:
        # One UPDATE for every line: each column's increment chosen per line id.
        def added(column: str, key: str, field: DecimalField | BigIntegerField) -> object:
            increment = Case(
                *(
                    When(
                        pk=line_id,
                        then=Value(int(totals[key]) if isinstance(field, BigIntegerField) else totals[key]),
                    )
                    for line_id, totals in per_line.items()
                ),
                default=Value(0),
                output_field=field,
            )
            return F(column) + increment

        count, amount = BigIntegerField(), DecimalField(max_digits=24, decimal_places=6)
        StatementLine.objects.filter(pk__in=list(per_line)).update(
            sdr_count=added("sdr_count", "n", count),
            credit_count=added("credit_count", "credits", count),
            energy_kwh=added("energy_kwh", "energy", amount),
            amount_excl_vat=added("amount_excl_vat", "excl", amount),
            amount_incl_vat=added("amount_incl_vat", "gross", amount),
            credits_incl_vat=added("credits_incl_vat", "credit_gross", amount),
        )
    return sum(int(totals["n"]) for totals in per_line.values())


def _hold_back_disputed(run: SettlementRun, scope: Scope) -> None:
    """The disputed SDRs of the run's scope, per pair: held back on its lines (a picture of now)."""
    disputed = {
        (row["cso_id"], row["csp_id"]): row
        for row in Sdr.objects.filter(scope.q(SdrState.DISPUTED))
        .values("cso_id", "csp_id")
        .annotate(n=Count("id"), gross=Sum(_gross()))
        .order_by()
    }
    _lines_for(run, set(disputed))
    # Disputes are a picture of now: resolved ones no longer show, new ones do.
    StatementLine.objects.filter(run=run).exclude(disputed_count=0).update(
        disputed_count=0, disputed_incl_vat=ZERO
    )
    for (cso, csp), row in disputed.items():
        StatementLine.objects.filter(run=run, cso_id=cso, csp_id=csp).update(
            disputed_count=row["n"], disputed_incl_vat=row["gross"] or ZERO
        )


def step_settle(run: SettlementRun, scope: Scope, token: str) -> int:
    """Close the run's open buckets onto its lines and add their sums, in one transaction; how
    many SDRs were settled."""
    with transaction.atomic():
        checkpoint(run.pk, token)
        period_lock(run.cadence, run.currency, run.period_key, exclusive=True)
        buckets = list(
            SettlementBucket.objects.filter(
                cadence=run.cadence, currency=run.currency, period_key=run.period_key, line__isnull=True
            ).values_list("pk", "cso_id", "csp_id")
        )
        settled = 0
        if buckets:
            lines = _lines_for(run, {(cso, csp) for _, cso, csp in buckets})
            line_of_bucket = {pk: lines[(cso, csp)] for pk, cso, csp in buckets}
            line_ids = Case(
                *(When(pk=pk, then=Value(line_id)) for pk, line_id in line_of_bucket.items()),
                output_field=BigIntegerField(),
            )
            closed = SettlementBucket.objects.filter(pk__in=list(line_of_bucket), line__isnull=True).update(
                line_id=line_ids, closed_at=timezone.now()
            )
            if closed != len(line_of_bucket):  # the period's lock is held: nobody else closes them
                raise RuntimeError(f"closed {closed} of {len(line_of_bucket)} buckets")
            settled = _add_to_lines(line_of_bucket, bucket_sums(list(line_of_bucket)))
        _hold_back_disputed(run, scope)
    return settled


# --- 3. Statements -----------------------------------------------------------------------------------


def _line_sums(run: SettlementRun) -> list[LineSums]:
    return [line_sums_of(line) for line in StatementLine.objects.filter(run=run).order_by("pk")]


def fee_rates(partner_ids: set[int]) -> dict[int, FeeRates]:
    return {
        plan.partner_id: FeeRates(
            cso_fee_per_sdr=plan.cso_fee_per_sdr,
            cso_fee_percent=plan.cso_fee_percent,
            csp_fee_per_sdr=plan.csp_fee_per_sdr,
            csp_fee_percent=plan.csp_fee_percent,
            vat_percent=plan.vat_percent,
        )
        for plan in FeePlan.objects.filter(partner_id__in=partner_ids)
    }


def _statement_values(figures: PartnerFigures) -> dict[str, object]:
    position, payment = figures.position, figures.payment
    assert position is not None
    return {
        "sdr_count": figures.sdr_count,
        "energy_kwh": figures.energy_kwh,
        "receivable_as_cso": position.receivable_as_cso,
        "payable_as_csp": position.payable_as_csp,
        "hub_fees": position.hub_fees,
        "net": position.net,
        "disputed_held_incl_vat": figures.disputed_held_incl_vat,
        "payer": Payer.NONE if payment is None else Payer(payment.payer),
        "payment_amount": ZERO if payment is None else payment.amount,
    }


def _fee_rows(figures: PartnerFigures) -> list[tuple[object, ...]]:
    return [
        (f.role, f.kind, f.description, f.basis, f.quantity, f.rate, f.amount_excl_vat, f.vat_rate_percent,
         f.vat_amount, f.amount_incl_vat)
        for f in figures.fees
    ]  # fmt: skip


def _write_statement(run: SettlementRun, figures: PartnerFigures, now: datetime) -> None:
    values = _statement_values(figures)
    statement = Statement.objects.select_for_update().filter(run=run, partner_id=figures.partner_id).first()
    if statement is None:
        statement = Statement.objects.create(
            run=run,
            partner_id=figures.partner_id,
            cadence=run.cadence,
            period_key=run.period_key,
            period_start=run.period_start,
            period_end=run.period_end,
            currency=run.currency,
            computed_at=now,
            updated_at=now,
            **values,
        )
    else:
        if statement.state != StatementState.DRAFT:
            return  # a final statement never changes (its run is closed; the triggers agree)
        stored_fees = [
            tuple(row)
            for row in statement.fees.order_by("role", "kind").values_list(
                "role", "kind", "description", "basis", "quantity", "rate", "amount_excl_vat",
                "vat_rate_percent", "vat_amount", "amount_incl_vat",
            )
        ]  # fmt: skip
        unchanged = all(getattr(statement, key) == value for key, value in values.items())
        if unchanged and stored_fees == sorted(_fee_rows(figures)):
            return  # nothing new: keep its computed_at (the draft report's date) and updated_at
        Statement.objects.filter(pk=statement.pk, state=StatementState.DRAFT).update(
            computed_at=now, updated_at=now, **values
        )
        statement.fees.all().delete()
    StatementFee.objects.bulk_create(
        StatementFee(
            statement=statement,
            role=f.role,
            kind=f.kind,
            description=f.description,
            basis=f.basis,
            quantity=f.quantity,
            rate=f.rate,
            amount_excl_vat=f.amount_excl_vat,
            vat_rate_percent=f.vat_rate_percent,
            vat_amount=f.vat_amount,
            amount_incl_vat=f.amount_incl_vat,
        )
        for f in figures.fees
    )


def step_statements(run: SettlementRun, token: str) -> int:
    """Compute every partner's statement from the run's lines; one transaction per statement."""
    lines = _line_sums(run)
    partner_ids = {line.cso_id for line in lines} | {line.csp_id for line in lines}
    figures = run_figures(lines=lines, rates=fee_rates(partner_ids), currency=run.currency)
    for partner_id in sorted(figures):
        with transaction.atomic():
            checkpoint(run.pk, token)
            _write_statement(run, figures[partner_id], timezone.now())
    return len(figures)
