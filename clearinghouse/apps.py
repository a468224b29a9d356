from __future__ import annotations

from django.apps import AppConfig


class ClearinghouseConfig(AppConfig):
    """Shared plumbing: audit log, idempotency records, the nonce store's database fallback."""

    name = "clearinghouse"
    verbose_name = "Hub plumbing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .api import schema  # noqa: F401  (registers the OpenAPI authentication extension)
