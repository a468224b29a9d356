"""The steps of a settlement run, each in short transactions so a killed run resumes where it stopped.

1. Lines: one GROUP BY over the run's SDRs finds its (CSO, CSP) pairs and the range of their ids;
   a line is created for each new pair; the disputed SDRs held back are summed per pair.
2. Settling, in windows of SETTLEMENT_RUN_BATCH_SIZE SDR ids, one transaction each. On
   PostgreSQL one statement per window: `UPDATE sdr ... RETURNING` moves the window's settleable
   SDRs to SETTLED, an `INSERT INTO statementsdr SELECT` from what it returned links each to its
   pair's line (the SDR is the link's primary key: a second link fails), and an `UPDATE
   statementline ... FROM (SELECT ... GROUP BY line)` adds their sums to the lines. Elsewhere the
   same in three statements (INSERT ... SELECT ... JOIN, a GROUP BY over the new links, and
   settlement.services.sdrs_settle). An SDR is linked and SETTLED in the same transaction, so a
   window interrupted halfway leaves nothing behind, and the next attempt skips what is settled.
3. Statements: the lines (one row per pair, never per SDR) and fee plans go through
   settlement_figures in Python; each partner's statement is written in its own transaction.

Every transaction starts with the run's heartbeat, which also proves the run is still this
worker's (a stale run is taken over by another worker, and then this one stops).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, DecimalField, F, Max, Min, Q, Sum, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import (
    FeePlan,
    Payer,
    RunState,
    Sdr,
    SdrState,
    SettlementRun,
    Statement,
    StatementFee,
    StatementLine,
    StatementSdr,
    StatementState,
)
from .sdr_transitions import sdrs_settle
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


# --- 1. Lines ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What step 2 settles: SDR ids from `first` to `last`, onto these lines (one per pair)."""

    first: int
    last: int
    lines: dict[tuple[int, int], int]  # (CSO, CSP) → line id


def step_lines(run: SettlementRun, scope: Scope, token: str) -> Plan | None:
    """Create the lines of the run's pairs and set what each holds back; what to settle."""
    pairs = list(
        Sdr.objects.filter(scope.q())
        .values("cso_id", "csp_id")
        .annotate(lo=Min("id"), hi=Max("id"))
        .order_by()
    )
    disputed = {
        (row["cso_id"], row["csp_id"]): row
        for row in Sdr.objects.filter(scope.q(SdrState.DISPUTED))
        .values("cso_id", "csp_id")
        .annotate(n=Count("id"), gross=Sum(_gross()))
        .order_by()
    }
    with transaction.atomic():
        checkpoint(run.pk, token)
        existing = _lines_of(run)
        wanted = {(row["cso_id"], row["csp_id"]) for row in pairs} | set(disputed)
        StatementLine.objects.bulk_create(
            StatementLine(run=run, cso_id=cso, csp_id=csp) for cso, csp in sorted(wanted - set(existing))
        )
        # Disputes are a picture of now: resolved ones no longer show, new ones do.
        StatementLine.objects.filter(run=run).exclude(disputed_count=0).update(
            disputed_count=0, disputed_incl_vat=ZERO
        )
        for (cso, csp), row in disputed.items():
            StatementLine.objects.filter(run=run, cso_id=cso, csp_id=csp).update(
                disputed_count=row["n"], disputed_incl_vat=row["gross"] or ZERO
            )
        lines = _lines_of(run)
    if not pairs:
        return None
    settling = {(row["cso_id"], row["csp_id"]) for row in pairs}
    return Plan(
        first=min(row["lo"] for row in pairs),
        last=max(row["hi"] for row in pairs),
        lines={pair: line_id for pair, line_id in lines.items() if pair in settling},
    )


def _lines_of(run: SettlementRun) -> dict[tuple[int, int], int]:
    rows = StatementLine.objects.filter(run=run).values_list("cso_id", "csp_id", "pk")
    return {(cso, csp): pk for cso, csp, pk in rows}


# --- 2. Settling -----------------------------------------------------------------------------------
#
# Table and column names below come from the models and every value is a parameter or an integer
# id read from the database: no caller text reaches the SQL.


def _names() -> dict[str, str]:
    qn = connection.ops.quote_name
    return {
        "sdr": qn(Sdr._meta.db_table),
        "line": qn(StatementLine._meta.db_table),
        "link": qn(StatementSdr._meta.db_table),
    }


def _settle_window_postgresql(plan: Plan, scope: Scope, lo: int, hi: int) -> int:
    """One statement: UPDATE the window's settleable SDRs to SETTLED (joined to their line ids, a
    VALUES list of the run's pairs, so the plan is a hash join on an id range whatever the table
    statistics say), INSERT their links from what the UPDATE returned, and add the returned
    amounts, grouped per line, to the lines. Each SDR is read and written once."""
    if not plan.lines:
        return 0
    t = _names()
    pairs = ", ".join(
        f"({int(cso)}, {int(csp)}, {int(line)})" for (cso, csp), line in sorted(plan.lines.items())
    )
    where, params = scope.sql("s")
    now = timezone.now()
    sql = f"""
        WITH pair (cso_id, csp_id, line_id) AS (VALUES {pairs}),
        settled AS (
            UPDATE {t["sdr"]} s SET state = %s, settled_at = %s, updated_at = %s
            FROM pair
            WHERE pair.cso_id = s.cso_id AND pair.csp_id = s.csp_id AND {where}
                AND s.id >= %s AND s.id <= %s
            RETURNING s.id, pair.line_id, s.credit, s.total_energy, s.total_cost_excl_vat,
                COALESCE(s.total_cost_incl_vat, s.total_cost_excl_vat) AS gross
        ),
        linked AS (
            INSERT INTO {t["link"]} (sdr_id, line_id) SELECT id, line_id FROM settled
        ),
        sums AS (
            SELECT line_id, COUNT(*) AS n, COUNT(*) FILTER (WHERE credit) AS credits,
                SUM(CASE WHEN credit THEN -total_energy ELSE total_energy END) AS energy,
                SUM(total_cost_excl_vat) AS excl, SUM(gross) AS gross,
                COALESCE(SUM(gross) FILTER (WHERE credit), 0) AS credit_gross
            FROM settled GROUP BY line_id
        )
        UPDATE {t["line"]} l SET
            sdr_count = l.sdr_count + sums.n,
            credit_count = l.credit_count + sums.credits,
            energy_kwh = l.energy_kwh + sums.energy,
            amount_excl_vat = l.amount_excl_vat + sums.excl,
            amount_incl_vat = l.amount_incl_vat + sums.gross,
            credits_incl_vat = l.credits_incl_vat + sums.credit_gross
        FROM sums WHERE l.id = sums.line_id
        RETURNING sums.n
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [SdrState.SETTLED, now, now, *params, lo, hi])
        return sum(row[0] for row in cursor.fetchall())


def _settle_window_portable(run: SettlementRun, scope: Scope, lo: int, hi: int) -> int:
    """The same in three statements any database runs (SQLite, the embedded default)."""
    t = _names()
    where, params = scope.sql("s")
    sql = (
        f"INSERT INTO {t['link']} (sdr_id, line_id) SELECT s.id, l.id FROM {t['sdr']} s "  # noqa: S608
        f"JOIN {t['line']} l ON l.run_id = %s AND l.cso_id = s.cso_id AND l.csp_id = s.csp_id "
        f"WHERE {where} AND s.id >= %s AND s.id <= %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [run.pk, *params, lo, hi])
        linked = cursor.rowcount
    if not linked:
        return 0
    # The SDRs linked just now are the run's links in the window still ACCEPTED.
    sums = (
        StatementSdr.objects.filter(
            line__run_id=run.pk, sdr_id__gte=lo, sdr_id__lte=hi, sdr__state=SdrState.ACCEPTED
        )
        .values("line_id")
        .order_by()
        .annotate(
            n=Count("pk"),
            credits=Count("pk", filter=Q(sdr__credit=True)),
            energy=Sum(
                Case(
                    When(sdr__credit=True, then=-F("sdr__total_energy")),
                    default=F("sdr__total_energy"),
                    output_field=_SUM,
                )
            ),
            excl=Sum("sdr__total_cost_excl_vat"),
            gross=Sum(_gross("sdr__")),
            credit_gross=Sum(_gross("sdr__"), filter=Q(sdr__credit=True)),
        )
    )
    for row in sums:
        StatementLine.objects.filter(pk=row["line_id"]).update(
            sdr_count=F("sdr_count") + row["n"],
            credit_count=F("credit_count") + row["credits"],
            energy_kwh=F("energy_kwh") + (row["energy"] or ZERO),
            amount_excl_vat=F("amount_excl_vat") + (row["excl"] or ZERO),
            amount_incl_vat=F("amount_incl_vat") + (row["gross"] or ZERO),
            credits_incl_vat=F("credits_incl_vat") + (row["credit_gross"] or ZERO),
        )
    settled = sdrs_settle(
        sdrs=Sdr.objects.filter(settlement_link__line__run_id=run.pk, pk__gte=lo, pk__lte=hi),
        settled_at=timezone.now(),
    )
    if settled != linked:
        # Only the run moves SDRs out of ACCEPTED; anything else is a bug: undo the window.
        raise RuntimeError(f"linked {linked} SDRs but settled {settled} in ids {lo}..{hi}")
    return linked


def step_settle(run: SettlementRun, scope: Scope, token: str, plan: Plan) -> int:
    """Settle the run's SDRs window by window, one transaction each; how many were settled."""
    size = max(1, settings.SETTLEMENT_RUN_BATCH_SIZE)
    settled = 0
    for lo in range(plan.first, plan.last + 1, size):
        hi = min(lo + size - 1, plan.last)
        with transaction.atomic():
            checkpoint(run.pk, token)
            if connection.vendor == "postgresql":
                settled += _settle_window_postgresql(plan, scope, lo, hi)
            else:
                settled += _settle_window_portable(run, scope, lo, hi)
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
