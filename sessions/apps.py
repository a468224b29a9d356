from __future__ import annotations

from django.apps import AppConfig


class ChargingSessionsConfig(AppConfig):
    """Charging sessions, reservations and remote commands.

    The label is not "sessions": django.contrib.sessions (which the admin needs) owns that one.
    """

    name = "sessions"
    label = "charging_sessions"
    verbose_name = "Charging sessions and remote control"
    default_auto_field = "django.db.models.BigAutoField"
