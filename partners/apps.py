from __future__ import annotations

from django.apps import AppConfig


class PartnersConfig(AppConfig):
    """The partner registry: partners, their API users, roaming endpoints and agreements."""

    name = "partners"
    verbose_name = "Partners"
    default_auto_field = "django.db.models.BigAutoField"
