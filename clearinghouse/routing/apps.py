from __future__ import annotations

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    """Outbound routing: the transactional outbox and its signed delivery to partners."""

    name = "clearinghouse.routing"
    label = "routing"
    verbose_name = "Outbound routing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
