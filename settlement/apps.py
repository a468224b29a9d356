from __future__ import annotations

from django.apps import AppConfig


class SettlementConfig(AppConfig):
    """Service detail records, rating, disputes; fee plans, settlement runs, statements, reports."""

    name = "settlement"
    verbose_name = "SDRs and settlement"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, hooks  # noqa: F401  (checks registers the system checks)

        hooks.register()
        # Privacy: this app's erasure, export and retention steps (credentials runs them).
        from . import privacy

        privacy.register()
        # Settlement runs and statements: the system checks of their settings.
        from .services import settlement_checks  # noqa: F401
