"""Bounding boxes, circles and distances."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from locations.geo import BBox, GeoError, bbox_around, haversine_km, parse_bbox, parse_near, parse_radius_km


def test_parse_bbox():
    assert parse_bbox("3.0,50.5,4.5,51.5") == BBox(3.0, 50.5, 4.5, 51.5)
    assert parse_bbox(" 170, -10, -170, 10 ").lon_ranges() == [(170.0, 180.0), (-180.0, -170.0)]


@pytest.mark.parametrize("text", ["", "1,2,3", "a,b,c,d", "0,91,1,92", "0,10,1,5", "-181,0,0,1", "nan,0,1,1"])
def test_parse_bbox_refuses(text):
    with pytest.raises(GeoError):
        parse_bbox(text)


def test_parse_near_and_radius():
    assert parse_near("51.05,3.72") == (51.05, 3.72)
    assert parse_radius_km("2.5") == 2.5
    for bad in ("0", "-1", "501", "x", "inf"):
        with pytest.raises(GeoError):
            parse_radius_km(bad)
    with pytest.raises(GeoError):
        parse_near("91,0")


def test_known_distance():
    # Gent Zuid (the location example) to Brussels Grand-Place: about 50 km.
    assert haversine_km(51.047599, 3.729944, 50.846557, 4.351697) == pytest.approx(48.0, abs=1.0)


def test_circle_box_crossing_the_antimeridian():
    box = bbox_around(0.0, 179.9, 50)
    assert box.min_lon > box.max_lon
    assert len(box.lon_ranges()) == 2


def test_circle_box_holding_a_pole():
    box = bbox_around(89.9, 0.0, 50)
    assert (box.min_lon, box.max_lon, box.max_lat) == (-180.0, 180.0, 90.0)


def _inside(box: BBox, lat: float, lon: float) -> bool:
    in_lon = any(low <= lon <= high for low, high in box.lon_ranges())
    return box.min_lat <= lat <= box.max_lat and in_lon


@given(
    lat=st.floats(-80, 80),
    lon=st.floats(-180, 180),
    radius=st.floats(0.1, 500),
    bearing=st.floats(0, 2 * math.pi),
    fraction=st.floats(0, 0.999),
)
def test_every_point_of_the_circle_is_in_its_box(lat, lon, radius, bearing, fraction):
    # A point at distance fraction × radius in some direction (spherical destination formula).
    d = fraction * radius / 6371.0088
    phi1, lmb1 = math.radians(lat), math.radians(lon)
    phi2 = math.asin(math.sin(phi1) * math.cos(d) + math.cos(phi1) * math.sin(d) * math.cos(bearing))
    lmb2 = lmb1 + math.atan2(
        math.sin(bearing) * math.sin(d) * math.cos(phi1), math.cos(d) - math.sin(phi1) * math.sin(phi2)
    )
    point_lat = math.degrees(phi2)
    point_lon = (math.degrees(lmb2) + 540) % 360 - 180
    assert haversine_km(lat, lon, point_lat, point_lon) <= radius + 1e-6
    assert _inside(bbox_around(lat, lon, radius), point_lat, point_lon)
