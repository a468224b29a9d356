"""Celery tasks of privacy (re-exported by credentials/tasks.py, where Celery finds them): thin."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="credentials.privacy_erasures_run_scheduled", ignore_result=True)
def privacy_erasures_run_scheduled() -> int:
    """Run the erasures that waited for their contracts' sessions to end."""
    return services.erasures_run_scheduled()


@shared_task(name="credentials.privacy_retention_run", ignore_result=True)
def privacy_retention_run() -> int:
    """Anonymise or delete what is past its retention period (nightly)."""
    run = services.retention_run()
    return sum(run.counts.values()) if run is not None else 0
