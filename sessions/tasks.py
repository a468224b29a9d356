"""Celery tasks of the sessions app: thin, call a service."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="sessions.commands_time_out", ignore_result=True)
def commands_time_out() -> int:
    """End the commands whose outcome did not come before their deadline."""
    return services.commands_time_out_overdue()


@shared_task(name="sessions.reservations_expire", ignore_result=True)
def reservations_expire() -> int:
    """Expire the reservations past their expiry, telling the CSO and the CSP."""
    return services.reservations_expire_due()
