"""Configuration sanity of commands, sessions and reservations, as system checks."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

# The credentials app records an authorization for at most a week (RESERVE_NOW's lasts as long
# as its reservation).
AUTHORIZATION_MAX_MINUTES = 7 * 24 * 60


@register()
def sessions_settings_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if settings.COMMAND_DEFAULT_TIMEOUT_SECONDS < 1 or settings.COMMAND_RESULT_GRACE_SECONDS < 0:
        errors.append(
            Error(
                "COMMAND_DEFAULT_TIMEOUT_SECONDS must be at least 1, COMMAND_RESULT_GRACE_SECONDS at least 0",
                id="charging_sessions.E001",
            )
        )
    if settings.COMMAND_MAX_TIMEOUT_SECONDS < settings.COMMAND_DEFAULT_TIMEOUT_SECONDS:
        errors.append(
            Error(
                "COMMAND_MAX_TIMEOUT_SECONDS must not be below COMMAND_DEFAULT_TIMEOUT_SECONDS",
                id="charging_sessions.E002",
            )
        )
    if settings.COMMAND_DELIVERY_MAX_ATTEMPTS < 1:
        errors.append(Error("COMMAND_DELIVERY_MAX_ATTEMPTS must be at least 1", id="charging_sessions.E003"))
    if not 1 <= settings.RESERVATION_MAX_MINUTES <= AUTHORIZATION_MAX_MINUTES:
        errors.append(
            Error(
                f"RESERVATION_MAX_MINUTES must be from 1 to {AUTHORIZATION_MAX_MINUTES}",
                id="charging_sessions.E004",
            )
        )
    if settings.SESSION_PROGRESS_MIN_INTERVAL_SECONDS < 0:
        errors.append(
            Error("SESSION_PROGRESS_MIN_INTERVAL_SECONDS must not be negative", id="charging_sessions.E005")
        )
    return errors
