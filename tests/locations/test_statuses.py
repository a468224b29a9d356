"""Live EVSE status: the bulk update, its cost, and the change feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from locations.models import EVSE, EvseStatusChange
from locations.ocpi.datetimes import format_datetime
from locations.services import evse_statuses_apply
from tests.locations.conftest import agree, make_location
from tests.support import error_code

pytestmark = pytest.mark.django_db

T0 = "2024-01-01T00:00:00Z"


def stamp(minutes: int) -> str:
    return f"2024-01-01T{minutes // 60:02d}:{minutes % 60:02d}:00Z"


@pytest.fixture
def site(cso):
    assert cso.client.put("/locations/S", make_location("S", evses=3, last_updated=T0)).status_code == 201
    return cso


def post(cso, items, **kw):
    return cso.client.post("/evse-statuses/", items, **kw)


def test_per_item_results(site):
    items = [
        {"evse_id": "DE*ACH*ES1", "status": "CHARGING", "timestamp": stamp(10)},
        {"evse_id": "DEACHES1", "status": "CHARGING", "timestamp": stamp(11)},  # same again, other spelling
        {"evse_id": "DE*ACH*ES1", "status": "AVAILABLE", "timestamp": stamp(5)},  # older than the stored
        {"evse_id": "DE*ACH*ES2", "status": "OUTOFORDER", "timestamp": stamp(10)},
        {"evse_id": "DE*ACH*ES9", "status": "CHARGING", "timestamp": stamp(10)},  # unknown
        {"evse_id": "NL*XYZ*E1", "status": "CHARGING", "timestamp": stamp(10)},  # not ours
        {"evse_id": "DE*ACH*ES3", "status": "FREE", "timestamp": stamp(10)},
        {"evse_id": "DE*ACH*ES3", "status": "CHARGING", "timestamp": "soon"},
        {"evse_id": "garbage!", "status": "CHARGING", "timestamp": stamp(10)},
        "not an object",
        {
            "evse_id": "DE*ACH*ES3",
            "status": "CHARGING",
            "timestamp": format_datetime(timezone.now() + timedelta(hours=1)),
        },
        {"evse_id": "DE*ACH*ES3", "status": "AVAILABLE", "timestamp": stamp(10)},  # same as stored
    ]
    r = post(site, items)
    assert r.status_code == 200, r.content
    body = r.json()
    assert [(x["index"], x["status"], x.get("error", {}).get("code")) for x in body["results"]] == [
        (0, "applied", None),
        (1, "unchanged", None),
        (2, "ignored_older", None),
        (3, "applied", None),
        (4, "rejected", "unknown_evse"),
        (5, "rejected", "evse_not_owned"),
        (6, "rejected", "invalid_status"),
        (7, "rejected", "invalid_timestamp"),
        (8, "rejected", "invalid_evse_id"),
        (9, "rejected", "invalid_item"),
        (10, "rejected", "timestamp_in_future"),
        (11, "unchanged", None),
    ]
    assert body["results"][1]["evse_id"] == "DE*ACH*ES1"
    assert body["counts"] == {"applied": 2, "unchanged": 2, "ignored_older": 1, "rejected": 7}
    states = dict(EVSE.objects.values_list("evse_id", "status"))
    assert states == {"DE*ACH*ES1": "CHARGING", "DE*ACH*ES2": "OUTOFORDER", "DE*ACH*ES3": "AVAILABLE"}
    # The repeated status refreshed the EVSE's status time; only real changes are logged.
    assert EVSE.objects.get(evse_id="DE*ACH*ES1").status_updated_at == datetime(2024, 1, 1, 0, 11, tzinfo=UTC)
    assert sorted(EvseStatusChange.objects.values_list("evse__evse_id", "status")) == [
        ("DE*ACH*ES1", "CHARGING"),
        ("DE*ACH*ES2", "OUTOFORDER"),
    ]


def test_repeating_a_batch_changes_nothing(site):
    items = [{"evse_id": f"DE*ACH*ES{n}", "status": "CHARGING", "timestamp": stamp(1)} for n in (1, 2, 3)]
    assert post(site, items).json()["counts"] == {"applied": 3}
    assert post(site, items).json()["counts"] == {"unchanged": 3}
    assert EvseStatusChange.objects.count() == 3


def test_several_changes_of_one_evse_in_a_batch_are_all_logged_in_order(site):
    items = [
        {"evse_id": "DE*ACH*ES1", "status": status, "timestamp": stamp(n)}
        for n, status in enumerate(["CHARGING", "AVAILABLE", "RESERVED", "RESERVED"], start=1)
    ]
    assert [x["status"] for x in post(site, items).json()["results"]] == [
        "applied",
        "applied",
        "applied",
        "unchanged",
    ]
    assert list(EvseStatusChange.objects.order_by("id").values_list("status", flat=True)) == [
        "CHARGING",
        "AVAILABLE",
        "RESERVED",
    ]


def test_too_many_items(site, settings):
    r = post(site, [{"evse_id": "DE*ACH*ES1", "status": "CHARGING", "timestamp": stamp(1)}] * 10001)
    assert r.status_code == 400 and error_code(r) == "too_many_items"
    assert EVSE.objects.filter(status="CHARGING").count() == 0


@pytest.mark.parametrize("body", [{"evse_id": "DE*ACH*ES1"}, "x", 3])
def test_body_must_be_an_array(site, body):
    r = post(site, body)
    assert r.status_code == 400 and error_code(r) == "invalid_body"


def test_empty_batch(site):
    r = post(site, [])
    assert r.status_code == 200 and r.json() == {"results": [], "counts": {}}


def test_only_csos_post(csp):
    r = post(csp, [])
    assert r.status_code == 403


def test_idempotency_key_replays_the_answer(site):
    items = [{"evse_id": "DE*ACH*ES1", "status": "CHARGING", "timestamp": stamp(1)}]
    first = post(site, items, headers={"Idempotency-Key": "batch-1"})
    again = post(site, items, headers={"Idempotency-Key": "batch-1"})
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"


def _batch(size: int, minute: int, status: str) -> list[dict]:
    return [{"evse_id": f"DE*ACH*EQ{n}", "status": status, "timestamp": stamp(minute)} for n in range(size)]


@pytest.fixture
def many_evses(cso):
    docs = [make_location(f"Q{n}", evses=1, evse_prefix=f"Q{n}") for n in range(500)]
    for doc in docs:
        doc["evses"][0]["evse_id"] = doc["evses"][0]["evse_id"][:-1]  # DE*ACH*EQ<n>
    assert cso.client.put("/locations/", docs).status_code == 200
    return cso


def test_bulk_cost_does_not_grow_with_the_batch(many_evses):
    cso_id, operator = many_evses.partner.pk, "DE*ACH"
    with CaptureQueriesContext(connection) as small:
        results = evse_statuses_apply(cso_id=cso_id, operator_id=operator, items=_batch(10, 1, "BLOCKED"))
    assert {r["status"] for r in results} == {"applied"}
    with CaptureQueriesContext(connection) as large:
        results = evse_statuses_apply(cso_id=cso_id, operator_id=operator, items=_batch(500, 3, "CHARGING"))
    assert {r["status"] for r in results} == {"applied"}
    assert len(small) == len(large) <= 6, [q["sql"][:80] for q in large]
    # Through the API as well (authentication and throttling come from the cache).
    many_evses.client.post("/evse-statuses/", _batch(1, 5, "RESERVED"))
    with CaptureQueriesContext(connection) as api_small:
        assert many_evses.client.post("/evse-statuses/", _batch(10, 7, "OUTOFORDER")).json()["counts"] == {
            "applied": 10
        }
    with CaptureQueriesContext(connection) as api_large:
        assert many_evses.client.post("/evse-statuses/", _batch(500, 9, "AVAILABLE")).json()["counts"] == {
            "applied": 500
        }
    assert len(api_small) == len(api_large) <= 7
    assert EVSE.objects.filter(status="AVAILABLE").count() == 500
    assert EvseStatusChange.objects.count() == 10 + 500 + 1 + 10 + 500


# --------------------------------------------------------------------------- the change feed


def test_feed_for_csps(site, csp, both, settings):
    agree(site, csp)
    post(site, [{"evse_id": "DE*ACH*ES1", "status": "CHARGING", "timestamp": stamp(1)}])
    post(site, [{"evse_id": "DE*ACH*ES2", "status": "BLOCKED", "timestamp": stamp(2)}])
    # Another CSO's changes reach only its own partners.
    both.client.put("/locations/F", make_location("F", operator="FR*GRO"))
    post(both, [{"evse_id": "FR*GRO*EF1", "status": "CHARGING", "timestamp": stamp(3)}])

    r = csp.client.get("/evse-statuses/")
    assert r.status_code == 200, r.content
    results = r.json()["results"]
    assert [(x["evse_id"], x["status"]) for x in results] == [
        ("DE*ACH*ES1", "CHARGING"),
        ("DE*ACH*ES2", "BLOCKED"),
    ]
    assert set(results[0]) == {
        "id",
        "evse_id",
        "evse_uid",
        "location_id",
        "operator_id",
        "status",
        "timestamp",
        "received_at",
    }
    assert results[0]["location_id"] == "S" and results[0]["operator_id"] == "DE*ACH"
    assert results[0]["timestamp"] == stamp(1)

    since = results[0]["received_at"]
    EvseStatusChange.objects.filter(id=results[1]["id"]).update(
        received_at=timezone.now() + timedelta(seconds=5)
    )
    assert [x["evse_id"] for x in csp.client.get(f"/evse-statuses/?since={since}").json()["results"]] == [
        "DE*ACH*ES2"
    ]
    assert csp.client.get("/evse-statuses/?operator=FR*GRO").json()["results"] == []
    page = csp.client.get("/evse-statuses/?limit=1").json()
    assert [x["evse_id"] for x in page["results"]] == ["DE*ACH*ES1"]
    following = csp.client.get(page["next"].split("/api/i3/v1")[1]).json()
    assert [x["evse_id"] for x in following["results"]] == ["DE*ACH*ES2"]

    # The CSO reads its own changes; the both-roles partner its own only.
    assert len(site.client.get("/evse-statuses/").json()["results"]) == 2
    assert [x["evse_id"] for x in both.client.get("/evse-statuses/").json()["results"]] == ["FR*GRO*EF1"]

    # With the TTL on, a CSP sees UNKNOWN for EVSEs not refreshed within it.
    settings.EVSE_STATUS_TTL_SECONDS = 60
    assert {x["status"] for x in csp.client.get("/evse-statuses/").json()["results"]} == {"UNKNOWN"}
    assert {x["status"] for x in site.client.get("/evse-statuses/").json()["results"]} == {
        "CHARGING",
        "BLOCKED",
    }


def test_feed_hides_unpublished_locations_from_csps(cso, csp):
    agree(cso, csp)
    cso.client.put("/locations/H", make_location("H", publish=False))
    post(cso, [{"evse_id": "DE*ACH*EH1", "status": "CHARGING", "timestamp": stamp(1)}])
    assert csp.client.get("/evse-statuses/").json()["results"] == []
    assert len(cso.client.get("/evse-statuses/").json()["results"]) == 1


@pytest.mark.parametrize("query", ["since=x", "operator=??", "status=AVAILABLE", "limit=-1"])
def test_feed_bad_parameters(site, query):
    r = site.client.get(f"/evse-statuses/?{query}")
    assert r.status_code == 400
    error_code(r)
