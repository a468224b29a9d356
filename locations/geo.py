"""Geographic filters: bounding boxes, a circle around a point, great-circle distance.

A circle is searched as its bounding box first (answered from the latitude/longitude index),
then by exact distance on the few candidates. Boxes may cross the antimeridian (min_lon > max_lon).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
KM_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_KM / 180
MAX_RADIUS_KM = 500.0


class GeoError(ValueError):
    """A geographic filter value that cannot be read."""


@dataclass(frozen=True)
class BBox:
    """A box of longitudes and latitudes; min_lon > max_lon means it crosses the antimeridian."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def lon_ranges(self) -> list[tuple[float, float]]:
        """The box's longitude span as one or two plain ranges."""
        if self.min_lon <= self.max_lon:
            return [(self.min_lon, self.max_lon)]
        return [(self.min_lon, 180.0), (-180.0, self.max_lon)]


def _floats(text: str, count: int, what: str) -> list[float]:
    parts = [p.strip() for p in (text or "").split(",")]
    if len(parts) != count:
        raise GeoError(f"{what} must be {count} comma-separated numbers")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise GeoError(f"{what} must be {count} comma-separated numbers") from None
    if not all(math.isfinite(v) for v in values):
        raise GeoError(f"{what} must hold finite numbers")
    return values


def _check_lat(value: float, what: str) -> None:
    if not -90 <= value <= 90:
        raise GeoError(f"{what} latitude must be between -90 and 90")


def _check_lon(value: float, what: str) -> None:
    if not -180 <= value <= 180:
        raise GeoError(f"{what} longitude must be between -180 and 180")


def parse_bbox(text: str) -> BBox:
    """`min_lon,min_lat,max_lon,max_lat` (the order of GeoJSON and OGC bounding boxes)."""
    min_lon, min_lat, max_lon, max_lat = _floats(text, 4, "bbox")
    for lat in (min_lat, max_lat):
        _check_lat(lat, "bbox")
    for lon in (min_lon, max_lon):
        _check_lon(lon, "bbox")
    if min_lat > max_lat:
        raise GeoError("bbox min_lat must not be above max_lat")
    return BBox(min_lon, min_lat, max_lon, max_lat)


def parse_near(text: str) -> tuple[float, float]:
    """`lat,lon` of the centre of a circle search."""
    lat, lon = _floats(text, 2, "near")
    _check_lat(lat, "near")
    _check_lon(lon, "near")
    return lat, lon


def parse_radius_km(text: str) -> float:
    try:
        radius = float(text)
    except (TypeError, ValueError):
        raise GeoError("radius_km must be a number") from None
    if not (math.isfinite(radius) and 0 < radius <= MAX_RADIUS_KM):
        raise GeoError(f"radius_km must be above 0 and at most {MAX_RADIUS_KM:g}")
    return radius


def bbox_around(lat: float, lon: float, radius_km: float) -> BBox:
    """The smallest latitude/longitude box holding every point within radius_km of (lat, lon)."""
    dlat = radius_km / KM_PER_DEGREE_LAT
    min_lat, max_lat = lat - dlat, lat + dlat
    if min_lat <= -90 or max_lat >= 90:
        # The circle holds a pole: every longitude is in reach.
        return BBox(-180.0, max(min_lat, -90.0), 180.0, min(max_lat, 90.0))
    # The widest longitude span of the circle, at the latitude where it touches its box.
    dlon = math.degrees(
        math.asin(min(1.0, math.sin(radius_km / EARTH_RADIUS_KM) / math.cos(math.radians(lat))))
    )
    if dlon >= 180:
        return BBox(-180.0, min_lat, 180.0, max_lat)
    min_lon, max_lon = lon - dlon, lon + dlon
    if min_lon < -180:
        min_lon += 360
    if max_lon > 180:
        max_lon -= 360
    return BBox(min_lon, min_lat, max_lon, max_lat)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points on a spherical Earth, in km."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
