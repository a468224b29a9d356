from __future__ import annotations

from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    """Credentials, hub issuance, the authorization decision and its records; privacy."""

    name = "credentials"
    verbose_name = "Credentials and authorization"
    default_auto_field = "django.db.models.BigAutoField"
