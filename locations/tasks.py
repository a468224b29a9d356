"""Celery tasks of the locations app: thin, each calls one service."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="locations.push_statuses", ignore_result=True)
def push_statuses() -> int:
    """Batch the recent EVSE status changes into one outbox message per subscribed CSP."""
    return services.evse_status_push_run()


@shared_task(name="locations.purge_status_changes", ignore_result=True)
def purge_status_changes() -> int:
    return services.status_changes_purge()
