from __future__ import annotations

from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    """Credentials, hub issuance, the authorization decision and its records; privacy."""

    name = "credentials"
    verbose_name = "Credentials and authorization"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Privacy: this app's own erasure, export and retention steps, and the plumbing's below it.
        # The apps above (sessions, settlement) register theirs from their own ready().
        from .privacy import setup

        setup.register()
