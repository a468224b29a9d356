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

    def ready(self) -> None:
        # The routing sits below this app: it learns here what a command's delivery answer means.
        from clearinghouse.routing.services import delivery_hooks_register

        from . import checks  # noqa: F401  (registers the system checks)
        from .inputs import COMMAND_TYPES
        from .services import command_delivered, command_delivery_dead
        from .services.notify import command_event_type

        for command_type in COMMAND_TYPES:
            delivery_hooks_register(
                command_event_type(command_type),
                on_delivered=command_delivered,
                on_dead=command_delivery_dead,
            )
        # Privacy: this app's erasure, export and retention steps (credentials runs them).
        from . import privacy

        privacy.register()
