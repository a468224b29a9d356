"""Celery tasks of credentials and authorization: thin, take ids, call a service."""

from __future__ import annotations

from celery import shared_task

from . import services
from .privacy.tasks import privacy_erasures_run_scheduled, privacy_retention_run

__all__ = [
    "authorization_route",
    "authorizations_expire_overdue",
    "dynamic_qr_uses_purge",
    "privacy_erasures_run_scheduled",
    "privacy_retention_run",
]


@shared_task(name="credentials.authorization_route", ignore_result=True)
def authorization_route(authorization_id: int) -> bool:
    """Ask the CSP(s) about a PENDING authorization and record the answer."""
    return services.authorization_route(authorization_id=authorization_id)


@shared_task(name="credentials.authorizations_expire_overdue", ignore_result=True)
def authorizations_expire_overdue() -> int:
    """Answer routed questions left undecided past their deadline."""
    return services.authorizations_expire_overdue()


@shared_task(name="credentials.dynamic_qr_uses_purge", ignore_result=True)
def dynamic_qr_uses_purge() -> int:
    """Forget the used dynamic QR codes that have expired."""
    return services.dynamic_qr_uses_purge()
