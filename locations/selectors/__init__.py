"""Reads of the locations app. Other apps use what is exported here.

- `evse_get_for_cso(*, cso_id, evse_id) -> EvseInfo | None`: an EVSE with its connectors (power,
  tariff ids) and its location's time zone.
- `tariffs_for(*, cso_id, csp_id, tariff_ids=None, at=None) -> list[dict]`: the OCPI tariffs of a
  CSO that apply to a CSP.
- `location_time_zone(evse) -> str`.
- `tariff_references_dangling(*, cso_id=None)`: connector references to unpublished tariffs.
"""

from __future__ import annotations

from .evses import ConnectorInfo, EvseInfo, evse_get_for_cso, location_time_zone
from .tariffs import tariff_references_dangling, tariffs_for

__all__ = [
    "ConnectorInfo",
    "EvseInfo",
    "evse_get_for_cso",
    "location_time_zone",
    "tariff_references_dangling",
    "tariffs_for",
]
