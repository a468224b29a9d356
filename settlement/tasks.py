"""Celery tasks of the settlement app: thin, calling a service."""

from __future__ import annotations

from celery import shared_task

from . import services
from .services import settlement_reports, settlement_run


@shared_task(name="settlement.sdrs_accept_undisputed", ignore_result=True)
def sdrs_accept_undisputed() -> int:
    """Delivered SDRs past their dispute window count as accepted."""
    return services.sdrs_accept_undisputed()


@shared_task(name="settlement.settlement_run_execute", ignore_result=True)
def settlement_run_execute(run_id: int) -> str:
    """Execute (or resume) one settlement run."""
    return settlement_run.settlement_run_execute(run_id=run_id).state


@shared_task(name="settlement.settlement_runs_due", ignore_result=True)
def settlement_runs_due() -> int:
    """Start the runs of every period whose grace has passed and that has SDRs waiting, and the
    runs left failed or stale."""
    runs = settlement_run.settlement_runs_due()
    for run in runs:
        settlement_run.settlement_run_start(run=run)
    return len(runs)


@shared_task(name="settlement.statement_reports_store", ignore_result=True)
def statement_reports_store(statement_id: int) -> bool:
    """Store the reports of a statement that just became final."""
    return settlement_reports.statement_reports_store(statement_id=statement_id)


@shared_task(name="settlement.statements_reports_missing", ignore_result=True)
def statements_reports_missing() -> int:
    """Store the reports of final statements still without them."""
    return settlement_reports.statements_reports_missing()
