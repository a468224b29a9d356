"""Writes of the locations app: locations and their EVSEs and connectors, live status, the status
push, tariffs. Each public service is keyword-only and runs in its own transaction."""

from __future__ import annotations

from .location_parts import PartWrite, connector_patch, connector_put, evse_patch, evse_put
from .locations import (
    LocationWrite,
    location_patch,
    location_put,
    locations_apply_delta,
    locations_replace_all,
)
from .push import evse_status_push_run, status_changes_purge
from .statuses import evse_statuses_apply
from .tariffs import TariffWrite, tariff_delete, tariff_put

__all__ = [
    "LocationWrite",
    "PartWrite",
    "TariffWrite",
    "connector_patch",
    "connector_put",
    "evse_patch",
    "evse_put",
    "evse_status_push_run",
    "evse_statuses_apply",
    "location_patch",
    "location_put",
    "locations_apply_delta",
    "locations_replace_all",
    "status_changes_purge",
    "tariff_delete",
    "tariff_put",
]
