"""Every official OCPI 2.2.1 location and tariff example is accepted unmodified and read back."""

from __future__ import annotations

import copy

import pytest

from locations.models import EvseStatusChange
from tests.locations.conftest import CONFORMANCE, agree, example, make_location
from tests.support import error_code, onboard

pytestmark = pytest.mark.django_db

FULL_LOCATIONS = [
    "location_example.json",
    "location_example_parking_garage_opening_hours.json",
    "location_example_uc2_destination_charger.json",
    "location_example_uc3_destination_charger_not_published.json",
    "location_example_uc4_limited_visibility.json",
    "location_example_uc5_home_charge_point.json",
]
# Location fragments: the examples of the EnergyMix and Hours classes inside a Location.
LOCATION_FRAGMENTS = [
    "location_energymix_example_complete.json",
    "location_energymix_example_energy_provider.json",
    "location_energymix_example_simple.json",
    "location_regularhours_example.json",
]
HOURS = [
    "location_hours_247_open_exception_closing.json",
    "location_hours_opening_hours_with_exceptional_closing.json",
    "location_hours_opening_hours_with_exceptional_opening.json",
]
PATCHES = [
    "location_patch_example_location.json",
    "location_patch_example_remove_evse.json",
    "location_patch_example_status.json",
    "location_patch_example_tariff.json",
    "location_put_example_add_evse.json",
]
TARIFFS = sorted(p.name for p in CONFORMANCE.glob("tariff*.json"))


def test_every_example_is_covered():
    every = {p.name for p in CONFORMANCE.glob("location*.json")}
    assert every == set(FULL_LOCATIONS + LOCATION_FRAGMENTS + HOURS + PATCHES)
    assert len(TARIFFS) == 20


def _operator(doc):
    return f"{doc['country_code']}*{doc['party_id']}"


@pytest.mark.parametrize("name", FULL_LOCATIONS)
def test_location_example_put_and_read_back(name, publisher):
    sent = example(name)
    cso = publisher(_operator(sent))
    r = cso.client.put(f"/locations/{sent['id']}", sent)
    assert r.status_code == 201, r.content
    assert r.json()["result"] == "created"
    assert r.json()["location"] == sent
    r = cso.client.get(f"/locations/{sent['id']}")
    assert r.status_code == 200, r.content
    assert r.json() == sent
    # The same example again changes nothing.
    r = cso.client.put(f"/locations/{sent['id']}", sent)
    assert r.status_code == 200 and r.json()["result"] == "unchanged"


@pytest.mark.parametrize("name", FULL_LOCATIONS)
def test_location_example_in_full_load_and_seen_by_partner_csp(name, publisher):
    sent = example(name)
    cso = publisher(_operator(sent))
    csp = onboard(name="Reader", country="NL", party="RDR", roles=["CSP"])
    agree(cso, csp)
    r = cso.client.put("/locations/", [sent])
    assert r.status_code == 200, r.content
    assert r.json()["counts"]["created"] == 1
    assert cso.client.get("/locations/").json()["results"] == [sent]
    # CSPs see published locations only.
    expected = [sent] if sent["publish"] else []
    assert csp.client.get("/locations/").json()["results"] == expected


@pytest.mark.parametrize("name", LOCATION_FRAGMENTS)
def test_location_fragment_examples_inside_a_location(name, publisher):
    fragment = example(name)
    base = example("location_example.json")
    sent = {**base, **fragment}
    cso = publisher("BE*BEC")
    r = cso.client.put("/locations/LOC1", sent)
    assert r.status_code == 201, r.content
    got = cso.client.get("/locations/LOC1").json()
    assert {key: got[key] for key in fragment} == fragment
    assert got == sent


@pytest.mark.parametrize("name", LOCATION_FRAGMENTS)
def test_location_fragment_alone_is_no_patch_without_last_updated(name, publisher):
    cso = publisher("BE*BEC")
    assert cso.client.put("/locations/LOC1", example("location_example.json")).status_code == 201
    r = cso.client.patch("/locations/LOC1", example(name))
    assert r.status_code == 400
    assert error_code(r) == "invalid_location"
    assert r.json()["error"]["details"]["errors"] == [
        {"path": "last_updated", "message": "is required in a PATCH"}
    ]


@pytest.mark.parametrize("name", HOURS)
def test_hours_examples_as_opening_times(name, publisher):
    hours = example(name)
    sent = {**example("location_example.json"), "opening_times": hours}
    cso = publisher("BE*BEC")
    assert cso.client.put("/locations/LOC1", sent).status_code == 201
    assert cso.client.get("/locations/LOC1").json()["opening_times"] == hours


def test_patch_and_put_examples_in_sequence(publisher):
    cso = publisher("BE*BEC")
    assert cso.client.put("/locations/LOC1", example("location_example.json")).status_code == 201

    r = cso.client.patch("/locations/LOC1", example("location_patch_example_location.json"))
    assert r.status_code == 200 and r.json()["result"] == "updated", r.content
    location = cso.client.get("/locations/LOC1").json()
    assert location["name"] == "Interparking Gent Zuid"
    assert location["last_updated"] == "2019-06-24T12:39:09Z"

    r = cso.client.patch("/locations/LOC1/3256", example("location_patch_example_status.json"))
    assert r.status_code == 200, r.content
    assert r.json()["evse"]["status"] == "CHARGING"
    assert r.json()["evse"]["last_updated"] == "2019-06-24T12:39:09Z"

    r = cso.client.patch("/locations/LOC1/3256/1", example("location_patch_example_tariff.json"))
    assert r.status_code == 200, r.content
    assert r.json()["connector"]["tariff_ids"] == ["15"]
    assert r.json()["connector"]["last_updated"] == "2019-06-24T12:39:09Z"

    r = cso.client.patch("/locations/LOC1/3257", example("location_patch_example_remove_evse.json"))
    assert r.status_code == 200, r.content
    assert cso.client.get("/locations/LOC1/3257").json()["status"] == "REMOVED"

    # The "add an EVSE" example names uid 3256, which LOC1 already has: it replaces that EVSE.
    r = cso.client.put("/locations/LOC1/3256", example("location_put_example_add_evse.json"))
    assert r.status_code == 200 and r.json()["result"] == "updated", r.content
    evse = cso.client.get("/locations/LOC1/3256").json()
    _assert_add_evse_read_back(evse)

    changes = list(EvseStatusChange.objects.order_by("id").values_list("evse__uid", "status"))
    assert changes == [("3256", "CHARGING"), ("3257", "REMOVED"), ("3256", "AVAILABLE")]


def _assert_add_evse_read_back(evse):
    sent = example("location_put_example_add_evse.json")
    assert evse["evse_id"] == sent["evse_id"]
    assert evse["status"] == "AVAILABLE"
    assert evse["capabilities"] == ["RESERVABLE"]
    # The documented leniencies: `floor` is `floor_level`, numbers where strings are due.
    assert evse["floor_level"] == "-1" and "floor" not in evse
    assert evse["physical_reference"] == "3"
    assert evse["last_updated"] == sent["last_updated"]
    (connector,) = evse["connectors"]
    assert connector == {**sent["connectors"][0], "last_updated": sent["last_updated"]}


def test_add_evse_example_adds_to_a_location_without_it(publisher):
    cso = publisher("BE*BEC")
    base = make_location("GENT2", operator="BE*BEC", last_updated="2019-01-01T00:00:00Z")
    assert cso.client.put("/locations/GENT2", base).status_code == 201
    r = cso.client.put("/locations/GENT2/3256", example("location_put_example_add_evse.json"))
    assert r.status_code == 201 and r.json()["result"] == "created", r.content
    location = cso.client.get("/locations/GENT2").json()
    assert [e["uid"] for e in location["evses"]] == ["GENT2-1", "3256"]
    assert location["last_updated"] == "2019-06-24T12:39:09Z"  # the EVSE's carries up
    _assert_add_evse_read_back(location["evses"][1])


@pytest.mark.parametrize("name", TARIFFS)
def test_tariff_example_put_and_read_back(name, publisher):
    sent = example(name)
    cso = publisher(_operator(sent))
    csp = onboard(name="Reader", country="NL", party="RDR", roles=["CSP"])
    agree(cso, csp)
    r = cso.client.put(f"/tariffs/{sent['id']}", sent)
    assert r.status_code == 201, r.content
    expected = copy.deepcopy(sent)
    if "last_updated" not in sent:  # tariff_put_example.json: the receipt time stands in
        assert r.json()["tariff"]["last_updated"].endswith("Z")
        expected["last_updated"] = r.json()["tariff"]["last_updated"]
    assert r.json()["tariff"] == expected
    assert cso.client.get(f"/tariffs/{sent['id']}").json() == expected
    assert csp.client.get("/tariffs/").json()["results"] == [expected]
