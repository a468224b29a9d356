"""Publishing many locations at once: the full load (all or nothing) and the delta (per item);
and what one CSO may not do to another's locations."""

from __future__ import annotations

import pytest

from locations.models import EVSE, Connector, EvseStatusChange, Location
from tests.locations.conftest import make_location
from tests.support import error_code, onboard

pytestmark = pytest.mark.django_db


def _snapshot():
    return (
        sorted(Location.objects.values_list("location_id", "digest")),
        sorted(EVSE.objects.values_list("evse_id", "status", "status_updated_at")),
        Connector.objects.count(),
        EvseStatusChange.objects.count(),
    )


# --------------------------------------------------------------------------- full load


def test_full_load_replaces_the_whole_set(cso):
    cso.client.put("/locations/", [make_location("A"), make_location("B"), make_location("C")])
    newer_b = make_location("B", last_updated="2024-02-01T00:00:00Z")
    older_c = make_location("C", last_updated="2023-01-01T00:00:00Z")
    r = cso.client.put("/locations/", [make_location("A"), newer_b, older_c, make_location("D")])
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["counts"] == {"created": 1, "updated": 1, "unchanged": 1, "ignored_older": 1, "removed": 0}
    assert [(i["id"], i["result"]) for i in body["items"]] == [
        ("A", "unchanged"),
        ("B", "updated"),
        ("C", "ignored_older"),
        ("D", "created"),
    ]
    r = cso.client.put("/locations/", [make_location("D")])
    assert r.json()["counts"]["removed"] == 3
    assert list(Location.objects.values_list("location_id", flat=True)) == ["D"]
    assert list(EVSE.objects.values_list("evse_id", flat=True)) == ["DE*ACH*ED1"]


def test_full_load_is_all_or_nothing(cso):
    cso.client.put("/locations/", [make_location("A"), make_location("B")])
    before = _snapshot()
    bad = make_location("C")
    bad["evses"][0]["status"] = "FREE"
    dup = make_location("A", last_updated="2024-05-01T00:00:00Z")
    r = cso.client.put(
        "/locations/", [make_location("A", last_updated="2024-05-01T00:00:00Z"), bad, {"id": "X"}, dup]
    )
    assert r.status_code == 400
    assert error_code(r) == "invalid_locations"
    items = r.json()["error"]["details"]["items"]
    assert [(i["index"], i["id"], i["code"]) for i in items] == [
        (1, "C", "invalid_location"),
        (2, "X", "invalid_location"),
        (3, "A", "duplicate_location_id"),
    ]
    assert items[0]["errors"] == [{"path": "evses[0].status", "message": items[0]["errors"][0]["message"]}]
    assert _snapshot() == before


def test_full_load_moves_an_evse_between_locations(cso):
    cso.client.put("/locations/", [make_location("A", evse_prefix="X"), make_location("B")])
    moved = make_location("B", evse_prefix="X", last_updated="2024-02-01T00:00:00Z")
    r = cso.client.put(
        "/locations/", [make_location("A", evses=0, last_updated="2024-02-01T00:00:00Z"), moved]
    )
    assert r.status_code == 200, r.content
    assert EVSE.objects.get().location.location_id == "B"


def test_full_load_swaps_evse_ids_between_evses(cso):
    doc = make_location("A", evses=2)
    cso.client.put("/locations/A", doc)
    swapped = make_location("A", evses=2, last_updated="2024-02-01T00:00:00Z")
    swapped["evses"][0]["evse_id"], swapped["evses"][1]["evse_id"] = (
        doc["evses"][1]["evse_id"],
        doc["evses"][0]["evse_id"],
    )
    r = cso.client.put("/locations/", [swapped])
    assert r.status_code == 200, r.content
    assert sorted(EVSE.objects.values_list("uid", "evse_id")) == [
        ("A-1", "DE*ACH*EA2"),
        ("A-2", "DE*ACH*EA1"),
    ]


def test_full_load_conflict_with_a_kept_location_refuses_everything(cso):
    cso.client.put("/locations/A", make_location("A", evse_prefix="X", last_updated="2024-05-01T00:00:00Z"))
    before = _snapshot()
    # A is older than stored (kept as it is), so its EVSE ID cannot go to B.
    r = cso.client.put("/locations/", [make_location("A", evses=0), make_location("B", evse_prefix="X")])
    assert r.status_code == 400
    assert [i["code"] for i in r.json()["error"]["details"]["items"]] == ["evse_id_in_use"]
    assert _snapshot() == before


def test_full_load_body_must_be_an_array(cso):
    r = cso.client.put("/locations/", make_location("A"))
    assert r.status_code == 400 and error_code(r) == "invalid_body"


def test_full_load_limit(cso, settings):
    settings.LOCATIONS_MAX_ITEMS = 2
    r = cso.client.put("/locations/", [make_location(x) for x in "ABC"])
    assert r.status_code == 400 and error_code(r) == "too_many_items"


# --------------------------------------------------------------------------- delta


def test_delta_upserts_and_removes_per_item(cso):
    cso.client.put("/locations/", [make_location("A"), make_location("B"), make_location("C")])
    bad = make_location("E")
    bad["coordinates"] = {"latitude": "x", "longitude": "0"}
    body = {
        "upsert": [
            make_location("A", last_updated="2024-02-01T00:00:00Z") | {"name": "A2"},
            bad,
            make_location("D"),
        ],
        "remove": ["B", "NOPE", 7],
    }
    r = cso.client.patch("/locations/", body)
    assert r.status_code == 200, r.content
    out = r.json()
    assert [(i["id"], i["result"]) for i in out["upsert"]] == [
        ("A", "updated"),
        ("E", "rejected"),
        ("D", "created"),
    ]
    assert out["upsert"][1]["error"]["code"] == "invalid_location"
    assert [(i["id"], i["result"]) for i in out["remove"]] == [
        ("B", "removed"),
        ("NOPE", "not_found"),
        (None, "rejected"),
    ]
    assert sorted(Location.objects.values_list("location_id", flat=True)) == ["A", "C", "D"]
    assert Location.objects.get(location_id="A").name == "A2"


def test_delta_as_a_plain_array(cso):
    r = cso.client.patch("/locations/", [make_location("A"), make_location("A")])
    assert r.status_code == 200
    assert [i["result"] for i in r.json()["upsert"]] == ["created", "rejected"]
    assert r.json()["upsert"][1]["error"]["code"] == "duplicate_location_id"


def test_delta_conflicts_cascade(cso):
    cso.client.put("/locations/", [make_location("A", evse_prefix="X"), make_location("B", evse_prefix="Y")])
    # B takes X from A, but A's new version is older than stored, so A keeps X: B is refused;
    # C wanted Y, which B therefore keeps: C is refused too.
    body = [
        make_location("A", evse_prefix="Z", last_updated="2023-01-01T00:00:00Z"),
        make_location("B", evse_prefix="X", last_updated="2024-02-01T00:00:00Z"),
        make_location("C", evse_prefix="Y"),
        make_location("D", evse_prefix="W"),
    ]
    r = cso.client.patch("/locations/", body)
    assert [i["result"] for i in r.json()["upsert"]] == ["ignored_older", "rejected", "rejected", "created"]
    assert r.json()["upsert"][1]["error"]["code"] == "evse_id_in_use"
    assert sorted(EVSE.objects.values_list("evse_id", "location__location_id")) == [
        ("DE*ACH*EW1", "D"),
        ("DE*ACH*EX1", "A"),
        ("DE*ACH*EY1", "B"),
    ]


def test_delta_removal_frees_evse_ids(cso):
    cso.client.put("/locations/A", make_location("A", evse_prefix="X"))
    r = cso.client.patch("/locations/", {"upsert": [make_location("B", evse_prefix="X")], "remove": ["A"]})
    assert [i["result"] for i in r.json()["upsert"]] == ["created"]
    assert EVSE.objects.get().location.location_id == "B"


def test_delta_same_id_in_upsert_and_remove(cso):
    r = cso.client.patch("/locations/", {"upsert": [make_location("A")], "remove": ["A"]})
    assert r.json()["upsert"][0]["result"] == "rejected"
    assert r.json()["remove"][0]["result"] == "rejected"
    assert Location.objects.count() == 0


@pytest.mark.parametrize("body", [{}, {"upsert": "x"}, {"delete": []}, "x"])
def test_delta_bad_body(cso, body):
    r = cso.client.patch("/locations/", body)
    assert r.status_code == 400 and error_code(r) == "invalid_body"


# --------------------------------------------------------------------------- scope


def test_a_cso_cannot_touch_another_csos_location(cso, both):
    cso.client.put("/locations/A", make_location("A"))
    other = both.client
    r = other.patch("/locations/A", {"name": "Mine now", "last_updated": "2025-01-01T00:00:00Z"})
    assert r.status_code == 404
    assert (
        other.patch(
            "/locations/A/A-1", {"status": "BLOCKED", "last_updated": "2025-01-01T00:00:00Z"}
        ).status_code
        == 404
    )
    assert other.get("/locations/A").status_code == 404
    # Its own location with the same id is a different object, and the EVSE IDs must be its own.
    assert other.put("/locations/A", make_location("A", operator="FR*GRO")).status_code == 201
    assert other.put("/locations/", []).status_code == 200  # its full load removes only its own
    assert list(Location.objects.values_list("location_id", "cso__party_id")) == [("A", "ACH")]
    assert other.patch("/locations/", {"remove": ["A"]}).json()["remove"][0]["result"] == "not_found"


def test_an_unpublished_or_other_partys_location_is_invisible_to_csp(cso, csp):
    cso.client.put("/locations/", [make_location("A"), make_location("B", publish=False)])
    assert csp.client.get("/locations/").json()["results"] == []  # no agreement
    from tests.locations.conftest import agree

    agree(cso, csp)
    assert [loc["id"] for loc in csp.client.get("/locations/").json()["results"]] == ["A"]
    assert csp.client.get("/locations/B").status_code == 404
    assert csp.client.get("/locations/A").status_code == 200


def test_same_location_id_at_two_csos_needs_operator(cso, csp):
    from tests.locations.conftest import agree

    other = onboard(name="Other", country="DE", party="OTH", roles=["CSO"])
    cso.client.put("/locations/A", make_location("A"))
    other.client.put("/locations/A", make_location("A", operator="DE*OTH"))
    agree(cso, csp)
    agree(other, csp)
    r = csp.client.get("/locations/A")
    assert r.status_code == 409 and error_code(r) == "ambiguous_location_id"
    assert r.json()["error"]["details"]["operators"] == ["DE*ACH", "DE*OTH"]
    r = csp.client.get("/locations/A?operator=DE*OTH")
    assert r.json()["evses"][0]["evse_id"] == "DE*OTH*EA1"
    assert csp.client.get("/locations/A/A-1/1?operator=DEOTH").status_code == 200
    assert csp.client.get("/locations/A?operator=nope").status_code == 400
