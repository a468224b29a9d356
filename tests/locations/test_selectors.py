"""Selectors other apps use: an EVSE with its connectors, its location's time zone."""

from __future__ import annotations

import pytest

from locations.models import EVSE
from locations.selectors import evse_get_for_cso, location_time_zone
from tests.locations.conftest import example, make_location

pytestmark = pytest.mark.django_db


def test_evse_get_for_cso(publisher):
    cso = publisher("BE*BEC")
    assert cso.client.put("/locations/LOC1", example("location_example.json")).status_code == 201
    evse = evse_get_for_cso(cso_id=cso.partner.pk, evse_id="be*bec*e041503001")
    assert evse is not None
    assert (evse.evse_id, evse.uid, evse.location_id, evse.status) == (
        "BE*BEC*E041503001",
        "3256",
        "LOC1",
        "AVAILABLE",
    )
    assert evse.time_zone == "Europe/Brussels" and evse.published
    assert [(c.connector_id, c.max_power_w, c.tariff_ids) for c in evse.connectors] == [
        ("1", 3 * 220 * 16, ("11",)),
        ("2", 3 * 220 * 16, ("13",)),
    ]
    assert evse.connector("2").format == "SOCKET"
    assert evse.connector("9") is None
    assert location_time_zone(evse) == "Europe/Brussels"
    assert location_time_zone(EVSE.objects.get(evse_id="BE*BEC*E041503002")) == "Europe/Brussels"


def test_evse_get_for_cso_is_scoped_to_the_cso(cso, both):
    cso.client.put("/locations/A", make_location("A"))
    assert evse_get_for_cso(cso_id=cso.partner.pk, evse_id="DE*ACH*EA1") is not None
    assert evse_get_for_cso(cso_id=both.partner.pk, evse_id="DE*ACH*EA1") is None
    assert evse_get_for_cso(cso_id=cso.partner.pk, evse_id="not an id") is None
    assert evse_get_for_cso(cso_id=cso.partner.pk, evse_id="DE*ACH*EA2") is None
