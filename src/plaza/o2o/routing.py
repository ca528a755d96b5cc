"""Ship-from-store routing: which of a merchant's locations fulfils a line of an order.

The rule, for one line (one variant, a quantity) of one merchant's order. Candidates are the
merchant's active locations that fulfil online orders (warehouses and stores alike) and
have units available (on hand minus reserved). They are ranked by:

1. whether the location can fulfil the *whole* line alone (those that can come first);
2. then most available units first;
3. then distance (haversine, km) from the shipping address when it carries coordinates;
   locations without coordinates come after those with them;
4. then location code, then location id (so the answer never depends on row order).

The line goes to the first location when it can fulfil it alone. Only when none can is it
split: units are taken from the locations in the same order until the line is covered (so
the fewest, fullest locations are used). Not enough in total: the usual 409 out-of-stock.

Without coordinates step 3 is skipped and ties go by code. Click & collect lines never get
here: they are held at the chosen store only. The rule runs inside inventory's reservation
(``inventory.reserve(rank=...)``), so availability is read and taken in one code path.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from plaza.inventory import service as inventory
from plaza.o2o.stores.geo import haversine_km

Point = tuple[float, float]
MAX_LOCATIONS = 1000  # per merchant; more than any merchant runs


@dataclass(frozen=True)
class Site:
    """What the rule needs to know of a location besides its stock."""

    code: str
    point: Point | None


def rank_key(
    cand: inventory.Candidate, quantity: int, site: Site | None, destination: Point | None
) -> tuple[int, int, float, str, uuid.UUID]:
    """The sort key of the rule above (smaller is better)."""
    distance = 0.0
    if destination is not None:
        distance = (
            haversine_km(destination[0], destination[1], site.point[0], site.point[1])
            if site is not None and site.point is not None
            else math.inf
        )
    return (
        0 if cand.available >= quantity else 1,
        -cand.available,
        distance,
        site.code if site is not None else "",
        cand.location_id,
    )


class Router:
    """The ranking of one merchant's locations towards one destination, for
    ``inventory.reserve(rank=router)``. Locations are loaded on first use, once."""

    def __init__(self, s: Session, merchant_id: uuid.UUID, destination: Point | None) -> None:
        self._s = s
        self.merchant_id = merchant_id
        self.destination = destination
        self._sites: dict[uuid.UUID, Site] | None = None

    def sites(self) -> dict[uuid.UUID, Site]:
        if self._sites is None:
            self._sites = {
                loc.id: Site(
                    loc.code,
                    (loc.latitude, loc.longitude)
                    if loc.latitude is not None and loc.longitude is not None
                    else None,
                )
                for loc in inventory.list_locations(self._s, self.merchant_id, limit=MAX_LOCATIONS)
            }
        return self._sites

    def __call__(
        self, candidates: Sequence[inventory.Candidate], quantity: int
    ) -> list[inventory.Candidate]:
        sites = self.sites()
        return sorted(
            candidates,
            key=lambda c: rank_key(c, quantity, sites.get(c.location_id), self.destination),
        )


def plan(
    s: Session,
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    quantity: int,
    destination: Point | None = None,
) -> list[tuple[uuid.UUID, int]]:
    """Where a line would be taken from now, as (location id, units); empty when the
    merchant cannot cover it. Read-only: a preview of what checkout will reserve."""
    cands = inventory.candidates(s, merchant_id, variant_id, None)
    chosen = inventory.allocate(cands, quantity, Router(s, merchant_id, destination))
    return [(c.location_id, q) for c, q in chosen]


def destination_of(address: dict[str, object] | None) -> Point | None:
    """A shipping address's coordinates, when it has both."""
    if not address:
        return None
    lat, lon = address.get("latitude"), address.get("longitude")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        return (float(lat), float(lon))
    return None
