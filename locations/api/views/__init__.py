"""The I3 endpoints of the locations app."""

from __future__ import annotations

from .locations import ConnectorDetailView, EvseDetailView, LocationDetailView, LocationsView
from .statuses import EvseStatusesView
from .tariffs import TariffDetailView, TariffsView

__all__ = [
    "ConnectorDetailView",
    "EvseDetailView",
    "EvseStatusesView",
    "LocationDetailView",
    "LocationsView",
    "TariffDetailView",
    "TariffsView",
]
