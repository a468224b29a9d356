"""Settlement runs: requested for a period and currency, claimed by one worker, executed in
resumable steps (settlement_steps.py), and planned by the periodic job.

Every entry point (Celery beat, staff in the admin, `manage.py settlement_run`) ends here. A run is
claimed with one conditional UPDATE: PENDING, FAILED and DONE runs, and RUNNING runs whose heartbeat
is older than SETTLEMENT_RUN_STALE_SECONDS (their worker died), as long as no statement of the run
is final. Running a DONE run again settles the SDRs accepted since, into its draft statements.
What a run settles is what acceptance put into the open buckets of its period (settlement_buckets).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from clearinghouse.audit import audit_record
from clearinghouse.errors import InvalidInput, RuleViolation
from clearinghouse.lib.codes import CURRENCY_MINOR_UNITS
from clearinghouse.tasking import enqueue_on_commit

from ..models import RunState, SettlementBucket, SettlementRun
from ..periods import Period, parse_period_key
from . import settlement_steps as steps
from .settlement_buckets import buckets_follow_cadences, place_batch, sdrs_place, unplaced
from .settlement_scope import scope_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    """What one execution of a run did."""

    run_id: int
    period_key: str
    currency: str
    state: str
    claimed: bool
    settled: int = 0
    statements: int = 0
    error: str = ""

    def describe(self) -> str:
        head = f"{self.period_key} {self.currency}"
        if not self.claimed:
            return f"{head}: not started ({self.state}; run by another worker, or closed)"
        text = f"{head}: {self.state}, {self.settled} SDRs settled, {self.statements} statements"
        return f"{text}: {self.error}" if self.error else text


def _period(period_key: str) -> Period:
    try:
        return parse_period_key(period_key)
    except ValueError as exc:
        raise InvalidInput("invalid_period", str(exc)) from None


def _currency(currency: str) -> str:
    if not isinstance(currency, str) or currency not in CURRENCY_MINOR_UNITS:
        raise InvalidInput("invalid_currency", f"{currency!r} is not an ISO 4217 currency code (e.g. EUR).")
    return currency


def _run_for(period: Period, currency: str, requested_by: str) -> SettlementRun:
    run = SettlementRun.objects.filter(
        cadence=period.cadence, period_key=period.key, currency=currency
    ).first()
    if run is not None:
        return run
    try:
        with transaction.atomic():
            run = SettlementRun.objects.create(
                cadence=period.cadence,
                period_key=period.key,
                period_start=period.start,
                period_end=period.end,
                currency=currency,
                requested_by=requested_by[:150],
            )
            audit_record(
                action="settlement.run_created",
                obj=run,
                details={"period": period.key, "currency": currency, "by": requested_by},
            )
            return run
    except IntegrityError:  # requested at the same moment elsewhere: settlement_run_unique
        return SettlementRun.objects.get(cadence=period.cadence, period_key=period.key, currency=currency)


def settlement_run_request(
    *, period_key: str, currency: str, requested_by: str = "", now: datetime | None = None
) -> SettlementRun:
    """The run of a period (its key names the cadence: 2026-11, 2026-W48, 2026-11-26) and currency,
    created PENDING if new. Refused while the period still takes late SDRs (its end plus
    SETTLEMENT_GRACE_DAYS)."""
    now = now or timezone.now()
    period = _period(period_key)
    currency = _currency(currency)
    if not period.is_closed(now, settings.SETTLEMENT_GRACE_DAYS):
        closes = period.closes_at(settings.SETTLEMENT_GRACE_DAYS)
        raise RuleViolation(
            "period_open",
            f"The period {period.key} takes late SDRs until {closes:%Y-%m-%d %H:%M} UTC; "
            "settle it after that.",
            {"closes_at": closes.isoformat()},
        )
    return _run_for(period, currency, requested_by)


def _claim(run_id: int, token: str, now: datetime) -> bool:
    stale = now - timedelta(seconds=settings.SETTLEMENT_RUN_STALE_SECONDS)
    claimable = Q(state__in=[RunState.PENDING, RunState.FAILED, RunState.DONE]) | Q(
        state=RunState.RUNNING, heartbeat_at__lt=stale
    )
    return bool(
        SettlementRun.objects.filter(claimable, pk=run_id, closed_at__isnull=True).update(
            state=RunState.RUNNING,
            claim_token=token,
            heartbeat_at=now,
            started_at=now,
            attempts=F("attempts") + 1,
            error="",
        )
    )


def settlement_run_execute(*, run_id: int) -> RunOutcome:
    """Claim the run and execute it: settle its SDRs, then (re)compute its draft statements.

    Returns without doing anything when another worker has the run or it is closed. A failure
    marks the run FAILED with the error; whatever committed stays, and the next execution resumes.
    """
    now = timezone.now()
    token = uuid.uuid4().hex
    run = SettlementRun.objects.get(pk=run_id)
    if not _claim(run_id, token, now):
        run.refresh_from_db()
        return RunOutcome(run.pk, run.period_key, run.currency, run.state, claimed=False)
    settled = statements = 0
    try:
        steps.step_place(run, token)
        settled = steps.step_settle(run, scope_of(run), token)
        statements = steps.step_statements(run, token)
        _finish(run, token)
    except steps.RunLost:
        logger.warning("settlement run %s was taken over by another worker", run_id)
        return RunOutcome(run.pk, run.period_key, run.currency, RunState.RUNNING, True, settled, statements)
    except Exception as exc:
        logger.exception("settlement run %s failed", run_id)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        SettlementRun.objects.filter(pk=run_id, claim_token=token, state=RunState.RUNNING).update(
            state=RunState.FAILED, finished_at=timezone.now(), error=error
        )
        return RunOutcome(
            run.pk, run.period_key, run.currency, RunState.FAILED, True, settled, statements, error
        )
    return RunOutcome(run.pk, run.period_key, run.currency, RunState.DONE, True, settled, statements)


def _finish(run: SettlementRun, token: str) -> None:
    sdr_count = run.lines.aggregate(n=Sum("sdr_count"))["n"] or 0
    SettlementRun.objects.filter(pk=run.pk, claim_token=token, state=RunState.RUNNING).update(
        state=RunState.DONE,
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
        sdr_count=sdr_count,
        statement_count=run.statements.count(),
        error="",
    )


def settlement_run_start(*, run: SettlementRun) -> None:
    """Execute a run in the background (a worker; in embedded mode a thread) after the commit."""
    from ..tasks import settlement_run_execute as task

    enqueue_on_commit(task, run.pk)


def currencies_to_settle(*, period: Period) -> list[str]:
    """The currencies with SDRs waiting in the period's open buckets or accepted without a bucket
    (ending before the period's end), and those of the period's open runs (so a run can be resumed
    by naming the period only)."""
    found = set(unplaced(ended_before=period.end).values_list("currency", flat=True).distinct().order_by())
    found |= set(
        SettlementBucket.objects.filter(cadence=period.cadence, period_key=period.key, line__isnull=True)
        .values_list("currency", flat=True)
        .distinct()
        .order_by()
    )
    found |= set(
        SettlementRun.objects.filter(
            cadence=period.cadence, period_key=period.key, closed_at__isnull=True
        ).values_list("currency", flat=True)
    )
    return sorted(found)


def settlement_period_run(
    *, period_key: str, currency: str | None = None, requested_by: str = ""
) -> list[RunOutcome]:
    """Run a period now, in this process: in one currency, or in every currency with something to
    settle. Used by `manage.py settlement_run`."""
    period = _period(period_key)
    currencies = [_currency(currency)] if currency else currencies_to_settle(period=period)
    runs = [
        settlement_run_request(period_key=period.key, currency=cur, requested_by=requested_by)
        for cur in currencies
    ]
    return [settlement_run_execute(run_id=run.pk) for run in runs]


def sdrs_place_unplaced() -> int:
    """Accepted SDRs without a bucket join theirs, a batch per transaction; how many."""
    batch_size = place_batch()
    placed = 0
    while True:
        with transaction.atomic():
            pks = list(unplaced().order_by().values_list("pk", flat=True)[:batch_size])
            done = sdrs_place(pks=pks)
        placed += done
        if not done:
            return placed


def settlement_runs_due(*, now: datetime | None = None) -> list[SettlementRun]:
    """The runs the periodic job should execute now: one for every (cadence, period, currency)
    whose grace has passed and that has open buckets (accepted SDRs waiting; late ones are in the
    first period that was not final when they were accepted), plus runs left FAILED, PENDING or
    stale. Created PENDING if new."""
    now = now or timezone.now()
    buckets_follow_cadences()
    sdrs_place_unplaced()
    due: dict[int, SettlementRun] = {}
    waiting = (
        SettlementBucket.objects.filter(line__isnull=True, period_end__lte=now)
        .values_list("cadence", "currency", "period_key")
        .distinct()
        .order_by()
    )
    for _cadence, currency, period_key in sorted(waiting):
        period = parse_period_key(period_key)
        if not period.is_closed(now, settings.SETTLEMENT_GRACE_DAYS):
            continue
        run = _run_for(period, currency, requested_by="schedule")
        due[run.pk] = run
    stale = now - timedelta(seconds=settings.SETTLEMENT_RUN_STALE_SECONDS)
    for run in SettlementRun.objects.filter(closed_at__isnull=True).filter(
        Q(state=RunState.FAILED)
        | Q(state=RunState.RUNNING, heartbeat_at__lt=stale)
        | Q(state=RunState.PENDING)
    ):
        due.setdefault(run.pk, run)
    return sorted(due.values(), key=lambda run: (run.period_start, run.cadence, run.currency))
