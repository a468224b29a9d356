"""Configuration sanity as system checks (run by `manage.py check`, and `--deploy` in production)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def hub_identity_check(app_configs, **kwargs):  # type: ignore[no-untyped-def]
    from .lib.identifiers import IdentifierError, normalize_country_code, normalize_party_id

    errors = []
    try:
        normalize_country_code(settings.HUB_COUNTRY_CODE)
        normalize_party_id(settings.HUB_PARTY_ID)
    except IdentifierError as exc:
        errors.append(Error(f"HUB_COUNTRY_CODE / HUB_PARTY_ID invalid: {exc}", id="clearinghouse.E001"))
    return errors


@register(deploy=True)
def production_services_check(app_configs, **kwargs):  # type: ignore[no-untyped-def]
    warnings = []
    if settings.PRODUCTION and not settings.REDIS_URL:
        warnings.append(
            Warning("REDIS_URL is not set: Celery runs tasks in-process", id="clearinghouse.W001")
        )
    if settings.PRODUCTION and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        warnings.append(Warning("DATABASE_URL is not set: SQLite in production", id="clearinghouse.W002"))
    return warnings
