"""GET /locations/ for CSPs: every filter, the order, paging, bad values, and the geo index."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from locations.geo import BBox
from locations.models import EVSE, Location
from locations.selectors.common import Viewer
from locations.selectors.locations import LocationFilters, bbox_q, locations_filter, locations_visible
from tests.locations.conftest import agree, make_location
from tests.support import error_code, onboard

pytestmark = pytest.mark.django_db

# Gent, Brussels, Antwerp, Fiji east and west of the antimeridian.
PLACES = {
    "GENT": ("51.047599", "3.729944"),
    "BRUX": ("50.846557", "4.351697"),
    "ANTW": ("51.219448", "4.402464"),
    "FIJE": ("-17.713371", "179.900000"),
    "FIJW": ("-17.713371", "-179.900000"),
}


@pytest.fixture
def world(cso, csp):
    agree(cso, csp)
    docs = [
        make_location(
            "GENT", lat=PLACES["GENT"][0], lon=PLACES["GENT"][1], last_updated="2024-01-01T00:00:00Z"
        ),
        make_location(
            "BRUX",
            lat=PLACES["BRUX"][0],
            lon=PLACES["BRUX"][1],
            last_updated="2024-01-02T00:00:00Z",
            standard="IEC_62196_T2_COMBO",
            power_type="DC",
            volts=920,
            amps=400,
            max_electric_power=150000,
        ),
        make_location(
            "ANTW",
            lat=PLACES["ANTW"][0],
            lon=PLACES["ANTW"][1],
            last_updated="2024-01-03T00:00:00Z",
            status="CHARGING",
        ),
        make_location(
            "FIJE", lat=PLACES["FIJE"][0], lon=PLACES["FIJE"][1], last_updated="2024-01-04T00:00:00Z"
        ),
        make_location(
            "FIJW", lat=PLACES["FIJW"][0], lon=PLACES["FIJW"][1], last_updated="2024-01-05T00:00:00Z"
        ),
    ]
    assert cso.client.put("/locations/", docs).status_code == 200
    other = onboard(name="Elsewhere", country="DE", party="ELS", roles=["CSO"])
    agree(other, csp)
    x = make_location(
        "X",
        operator="DE*ELS",
        lat=PLACES["GENT"][0],
        lon=PLACES["GENT"][1],
        last_updated="2023-12-31T00:00:00Z",
    )
    assert other.client.put("/locations/X", x).status_code == 201
    return csp


def ids(response):
    assert response.status_code == 200, response.content
    return [loc["id"] for loc in response.json()["results"]]


def test_order_and_paging(world):
    assert ids(world.client.get("/locations/")) == ["X", "GENT", "BRUX", "ANTW", "FIJE", "FIJW"]
    first = world.client.get("/locations/?limit=4").json()
    assert [loc["id"] for loc in first["results"]] == ["X", "GENT", "BRUX", "ANTW"]
    second = world.client.get(first["next"].split("/api/i3/v1")[1])
    assert ids(second) == ["FIJE", "FIJW"]


def test_operator(world):
    assert ids(world.client.get("/locations/?operator=DE*ELS")) == ["X"]
    assert ids(world.client.get("/locations/?operator=deach")) == ["GENT", "BRUX", "ANTW", "FIJE", "FIJW"]


def test_since(world):
    assert ids(world.client.get("/locations/?since=2024-01-03T00:00:00Z")) == ["FIJE", "FIJW"]


def test_bbox(world):
    assert ids(world.client.get("/locations/?bbox=3.5,50.9,4.0,51.1")) == ["X", "GENT"]
    assert ids(world.client.get("/locations/?bbox=3.0,50.0,5.0,52.0")) == ["X", "GENT", "BRUX", "ANTW"]
    # Across the antimeridian.
    assert ids(world.client.get("/locations/?bbox=179.0,-18.0,-179.0,-17.0")) == ["FIJE", "FIJW"]


def test_near(world):
    # Gent to Brussels is about 48 km, to Antwerp about 50 km.
    assert ids(world.client.get("/locations/?near=51.047599,3.729944&radius_km=10")) == ["X", "GENT"]
    assert ids(world.client.get("/locations/?near=51.047599,3.729944&radius_km=49")) == ["X", "GENT", "BRUX"]
    assert ids(world.client.get("/locations/?near=-17.713371,179.95&radius_km=20")) == ["FIJE", "FIJW"]


def test_evse_status_connector_and_power(world):
    assert ids(world.client.get("/locations/?evse_status=CHARGING")) == ["ANTW"]
    assert ids(world.client.get("/locations/?connector_standard=IEC_62196_T2_COMBO")) == ["BRUX"]
    assert ids(world.client.get("/locations/?min_power_kw=50")) == ["BRUX"]
    assert ids(world.client.get("/locations/?min_power_kw=11")) == [
        "X",
        "GENT",
        "BRUX",
        "ANTW",
        "FIJE",
        "FIJW",
    ]
    assert ids(world.client.get("/locations/?min_power_kw=11.1")) == ["BRUX"]
    # EVSE and connector filters hold for one and the same EVSE.
    assert ids(world.client.get("/locations/?connector_standard=IEC_62196_T2&evse_status=CHARGING")) == [
        "ANTW"
    ]
    assert (
        ids(world.client.get("/locations/?connector_standard=IEC_62196_T2_COMBO&evse_status=CHARGING")) == []
    )
    assert ids(world.client.get("/locations/?bbox=3.0,50.0,5.0,52.0&min_power_kw=50&operator=DE*ACH")) == [
        "BRUX"
    ]


@pytest.mark.parametrize(
    "query",
    [
        "bbox=1,2,3",
        "bbox=0,60,1,50",
        "bbox=a,b,c,d",
        "near=51,3",
        "radius_km=5",
        "near=51,3&radius_km=0",
        "near=95,3&radius_km=1",
        "evse_status=FREE",
        "connector_standard=SCHUKO",
        "min_power_kw=-1",
        "min_power_kw=lots",
        "since=yesterday",
        "operator=DE-ACH",
        "limit=0",
        "limit=1001",
        "cursor=garbage",
        "colour=green",
    ],
)
def test_bad_filter_values_are_400(world, query):
    r = world.client.get(f"/locations/?{query}")
    assert r.status_code == 400, r.content
    assert error_code(r) in {"invalid_parameter", "unknown_parameter", "invalid_limit", "invalid_cursor"}


def test_ttl_reports_stale_statuses_as_unknown_to_csps(world, cso, settings):
    settings.EVSE_STATUS_TTL_SECONDS = 3600
    # The example statuses are from 2024-01: long stale. A fresh update for GENT.
    now = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    cso.client.post("/evse-statuses/", [{"evse_id": "DE*ACH*EGENT1", "status": "CHARGING", "timestamp": now}])
    seen = {loc["id"]: loc["evses"][0]["status"] for loc in world.client.get("/locations/").json()["results"]}
    assert seen == {
        "X": "UNKNOWN",
        "GENT": "CHARGING",
        "BRUX": "UNKNOWN",
        "ANTW": "UNKNOWN",
        "FIJE": "UNKNOWN",
        "FIJW": "UNKNOWN",
    }
    assert ids(world.client.get("/locations/?evse_status=CHARGING")) == ["GENT"]
    assert ids(world.client.get("/locations/?evse_status=UNKNOWN")) == ["X", "BRUX", "ANTW", "FIJE", "FIJW"]
    assert ids(world.client.get("/locations/?evse_status=AVAILABLE")) == []
    # The CSO sees its own statuses as reported.
    own = {loc["id"]: loc["evses"][0]["status"] for loc in cso.client.get("/locations/").json()["results"]}
    assert own["ANTW"] == "CHARGING" and own["BRUX"] == "AVAILABLE"
    assert ids(cso.client.get("/locations/?evse_status=AVAILABLE")) == ["BRUX", "FIJE", "FIJW"]


def test_list_costs_a_fixed_number_of_queries(world):
    world.client.get("/locations/?limit=1")  # log in and cache the principal first
    with CaptureQueriesContext(connection) as few:
        world.client.get("/locations/?limit=2")
    with CaptureQueriesContext(connection) as many:
        world.client.get("/locations/?limit=6")
    assert len(few) == len(many) <= 4


def test_geo_filters_use_the_bbox_predicate(world):
    viewer = Viewer(partner_id=world.partner.pk, is_cso=False, is_csp=True)
    rows = locations_filter(
        locations_visible(viewer=viewer),
        filters=LocationFilters(near=(51.047599, 3.729944, 10.0)),
        viewer=viewer,
        now=timezone.now(),
    )
    sql = str(rows.query).lower()
    assert '"latitude" >= ' in sql and '"latitude" <= ' in sql and '"longitude" >= ' in sql


@pytest.mark.skipif(connection.vendor != "postgresql", reason="EXPLAIN output of PostgreSQL")
def test_bbox_is_answered_from_the_geo_index(cso):
    # Enough rows that the planner prefers the index on its own.
    docs = [
        make_location(f"L{n}", lat=f"{40 + n / 100:.6f}", lon=f"{n / 100 % 20:.6f}", evses=0)
        for n in range(3000)
    ]
    assert cso.client.put("/locations/", docs).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE locations_location")
    rows = Location.objects.filter(bbox_q(BBox(1.0, 41.0, 2.0, 41.5))).values("id")
    plan = rows.explain()
    assert "location_geo" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_stale_status_time_is_per_evse(world, cso, settings):
    settings.EVSE_STATUS_TTL_SECONDS = 60
    EVSE.objects.update(status_updated_at=timezone.now() - timedelta(seconds=30))
    assert {loc["evses"][0]["status"] for loc in world.client.get("/locations/").json()["results"]} == {
        "AVAILABLE",
        "CHARGING",
    }
