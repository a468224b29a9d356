"""Publishing one location, EVSE or connector: PUT/PATCH semantics, staleness, and bad input."""

from __future__ import annotations

import pytest

from locations.models import EVSE, Connector, EvseStatusChange, Location
from tests.locations.conftest import make_location
from tests.support import error_code

pytestmark = pytest.mark.django_db


def _snapshot():
    return (
        sorted(Location.objects.values_list("location_id", "digest")),
        sorted(EVSE.objects.values_list("evse_id", "status", "status_updated_at")),
        Connector.objects.count(),
        EvseStatusChange.objects.count(),
    )


# --------------------------------------------------------------------------- one location


def test_put_creates_then_replaces(cso):
    first = make_location("A", evses=2)
    r = cso.client.put("/locations/A", first)
    assert r.status_code == 201 and r.json()["result"] == "created"
    second = make_location("A", evses=1, last_updated="2024-02-01T00:00:00Z")
    second["name"] = "Renamed"
    r = cso.client.put("/locations/A", second)
    assert r.status_code == 200 and r.json()["result"] == "updated"
    assert r.json()["location"] == second
    assert list(EVSE.objects.values_list("evse_id", flat=True)) == ["DE*ACH*EA1"]
    row = Location.objects.get()
    assert (row.name, row.city, row.latitude, row.longitude) == ("Renamed", "Berlin", 52.520008, 13.404954)


def test_put_older_than_stored_is_ignored(cso):
    cso.client.put("/locations/A", make_location("A", last_updated="2024-02-01T00:00:00Z"))
    before = _snapshot()
    older = make_location("A", last_updated="2024-01-01T00:00:00Z")
    older["name"] = "Old news"
    r = cso.client.put("/locations/A", older)
    assert r.status_code == 200
    assert r.json()["result"] == "ignored_older"
    assert r.json()["location"]["name"] == "Site A"
    assert _snapshot() == before


def test_put_without_last_updated_takes_receipt_time(cso):
    doc = make_location("A")
    del doc["last_updated"]
    r = cso.client.put("/locations/A", doc)
    assert r.status_code == 201, r.content
    assert r.json()["location"]["last_updated"].startswith("20")
    assert r.json()["location"]["evses"][0]["last_updated"] == "2024-01-01T00:00:00Z"


def test_patch_merges_and_requires_last_updated(cso):
    cso.client.put("/locations/A", make_location("A"))
    r = cso.client.patch("/locations/A", {"name": "New"})
    assert r.status_code == 400 and error_code(r) == "invalid_location"
    r = cso.client.patch(
        "/locations/A", {"name": "New", "postal_code": None, "last_updated": "2024-03-01T00:00:00Z"}
    )
    assert r.status_code == 200 and r.json()["result"] == "updated", r.content
    doc = r.json()["location"]
    assert doc["name"] == "New" and "postal_code" not in doc and doc["city"] == "Berlin"
    assert doc["last_updated"] == "2024-03-01T00:00:00Z"


def test_patch_older_than_stored_is_ignored(cso):
    cso.client.put("/locations/A", make_location("A", last_updated="2024-02-01T00:00:00Z"))
    r = cso.client.patch("/locations/A", {"name": "Stale", "last_updated": "2024-01-01T00:00:00Z"})
    assert r.status_code == 200 and r.json()["result"] == "ignored_older"
    assert Location.objects.get().name == "Site A"


def test_patch_that_breaks_the_location_is_refused(cso):
    cso.client.put("/locations/A", make_location("A"))
    r = cso.client.patch("/locations/A", {"address": None, "last_updated": "2024-03-01T00:00:00Z"})
    assert r.status_code == 400 and error_code(r) == "invalid_location"
    assert r.json()["error"]["details"]["errors"] == [{"path": "address", "message": "is required"}]


def test_patch_of_missing_location_is_404(cso):
    r = cso.client.patch("/locations/NOPE", {"name": "x", "last_updated": "2024-03-01T00:00:00Z"})
    assert r.status_code == 404 and error_code(r) == "location_not_found"


def test_evse_and_connector_sub_objects(cso):
    cso.client.put("/locations/A", make_location("A"))
    r = cso.client.patch(
        "/locations/A/A-1/1", {"max_electric_power": 7000, "last_updated": "2024-03-01T00:00:00Z"}
    )
    assert r.status_code == 200, r.content
    assert Connector.objects.get().power_w == 7000
    location = cso.client.get("/locations/A").json()
    assert location["last_updated"] == location["evses"][0]["last_updated"] == "2024-03-01T00:00:00Z"
    # Older than the stored connector: ignored.
    r = cso.client.patch(
        "/locations/A/A-1/1", {"max_electric_power": 1, "last_updated": "2024-02-01T00:00:00Z"}
    )
    assert r.json()["result"] == "ignored_older"
    assert Connector.objects.get().power_w == 7000
    # A new connector by PUT.
    connector = {
        "id": "2",
        "standard": "CHADEMO",
        "format": "CABLE",
        "power_type": "DC",
        "max_voltage": 500,
        "max_amperage": 125,
    }
    r = cso.client.put("/locations/A/A-1/2", connector)
    assert r.status_code == 201, r.content
    assert sorted(Connector.objects.values_list("connector_id", "power_w")) == [("1", 7000), ("2", 62500)]
    assert cso.client.get("/locations/A/A-1/2").json()["standard"] == "CHADEMO"
    # Unknown EVSE or connector.
    assert (
        cso.client.patch(
            "/locations/A/NOPE", {"status": "CHARGING", "last_updated": "2024-04-01T00:00:00Z"}
        ).status_code
        == 404
    )
    assert (
        cso.client.patch(
            "/locations/A/A-1/9", {"format": "SOCKET", "last_updated": "2024-04-01T00:00:00Z"}
        ).status_code
        == 404
    )
    assert cso.client.get("/locations/A/A-1/9").status_code == 404
    assert cso.client.get("/locations/A/NOPE").status_code == 404


def test_evse_status_patch_respects_newer_live_status(cso):
    cso.client.put("/locations/A", make_location("A"))
    r = cso.client.post(
        "/evse-statuses/",
        [{"evse_id": "DE*ACH*EA1", "status": "CHARGING", "timestamp": "2024-06-01T00:00:00Z"}],
    )
    assert r.json()["results"][0]["status"] == "applied"
    # A location write whose EVSE data is older than the live status leaves the status alone.
    r = cso.client.patch(
        "/locations/A/A-1",
        {"physical_reference": "P1", "status": "AVAILABLE", "last_updated": "2024-05-01T00:00:00Z"},
    )
    assert r.status_code == 200, r.content
    evse = EVSE.objects.get()
    assert (evse.status, evse.physical_reference) == ("CHARGING", "P1")
    assert r.json()["evse"]["status"] == "CHARGING"


def test_id_in_body_must_match_url(cso):
    r = cso.client.put("/locations/A", make_location("B"))
    assert r.status_code == 400 and error_code(r) == "id_mismatch"
    cso.client.put("/locations/A", make_location("A"))
    r = cso.client.put("/locations/A/A-9", {**make_location("A")["evses"][0]})
    assert r.status_code == 400 and error_code(r) == "id_mismatch"


def test_evse_id_of_another_operator_is_refused(cso):
    r = cso.client.put(
        "/locations/A", make_location("A", operator="NL*XYZ") | {"country_code": "DE", "party_id": "ACH"}
    )
    assert r.status_code == 400 and error_code(r) == "invalid_location"
    assert r.json()["error"]["details"]["errors"][0]["path"] == "evses[0].evse_id"
    assert Location.objects.count() == 0


def test_evse_id_used_at_another_location_is_a_conflict(cso):
    cso.client.put("/locations/A", make_location("A", evse_prefix="X"))
    r = cso.client.put("/locations/B", make_location("B", evse_prefix="X"))
    assert r.status_code == 409 and error_code(r) == "evse_id_in_use"
    assert Location.objects.count() == 1


@pytest.mark.parametrize("body", [[], "text", 5, None])
def test_put_location_body_must_be_an_object(cso, body):
    r = cso.client.put("/locations/A", body)
    assert r.status_code == 400
    error_code(r)


def test_malformed_json_is_400(cso):
    r = cso.client.put("/locations/A", raw=b"{not json")
    assert r.status_code == 400
    error_code(r)


def test_csp_cannot_write(csp):
    r = csp.client.put("/locations/A", make_location("A"))
    assert r.status_code == 403 and error_code(r) == "role_required"
