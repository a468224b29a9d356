from __future__ import annotations

from django.apps import AppConfig


class LocationsConfig(AppConfig):
    """What CSOs publish: locations, EVSEs, connectors, live EVSE status and tariffs."""

    name = "locations"
    verbose_name = "Locations, EVSEs and tariffs"
    default_auto_field = "django.db.models.BigAutoField"
