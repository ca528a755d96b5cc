"""Great-circle distances (haversine) and the bounding box of a search circle."""

from __future__ import annotations

import math

from plaza.inventory.queries import BoundingBox

# Mean Earth radius (IUGG), km: haversine on a sphere is within 0.5 % of the ellipsoid.
EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance in kilometres between two points given in decimal degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_km: float) -> BoundingBox:
    """A rectangle containing every point within ``radius_km`` of (lat, lon). Near the
    poles or across the antimeridian it widens to all longitudes (rare, still correct)."""
    delta = radius_km / EARTH_RADIUS_KM  # angular radius
    dlat = math.degrees(delta)
    min_lat, max_lat = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    cos_lat = math.cos(math.radians(lat))
    if max_lat >= 90 or min_lat <= -90 or math.sin(delta) >= cos_lat:
        return BoundingBox(min_lat, max_lat, -180.0, 180.0)
    # The circle's widest longitude span (Chamberlain's formula), not just r / cos(lat).
    dlon = math.degrees(math.asin(math.sin(delta) / cos_lat))
    if lon - dlon < -180 or lon + dlon > 180 or dlon >= 180:
        return BoundingBox(min_lat, max_lat, -180.0, 180.0)
    return BoundingBox(min_lat, max_lat, lon - dlon, lon + dlon)
