"""Celery tasks of the settlement app: thin, calling a service."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="settlement.sdrs_accept_undisputed", ignore_result=True)
def sdrs_accept_undisputed() -> int:
    """Delivered SDRs past their dispute window count as accepted."""
    return services.sdrs_accept_undisputed()
