"""Read-only, cross-merchant queries over stores and their stock, for the public store
finder and "find in store" (O2O). Writes stay in ``plaza.inventory.service``.

Only active store locations of open merchants (identity's flag, read-only here, as the
catalog's search does) are ever returned.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, literal, select
from sqlalchemy.orm import Session

from plaza.identity.models import Merchant
from plaza.inventory.models import Location, LocationKind, StockLevel


@dataclass(frozen=True)
class BoundingBox:
    """A latitude/longitude rectangle that contains a search circle (a cheap pre-filter;
    the exact distance is computed afterwards)."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float


def _open_stores() -> Select[Any]:
    return (
        select(Location)
        .join(Merchant, Merchant.id == Location.merchant_id)
        .where(
            Location.kind == LocationKind.STORE,
            Location.is_active.is_(True),
            Merchant.is_active.is_(True),
        )
    )


def _within(q: Select[Any], box: BoundingBox | None) -> Select[Any]:
    if box is None:
        return q
    return q.where(
        Location.latitude.is_not(None),
        Location.latitude.between(box.min_lat, box.max_lat),
        Location.longitude.between(box.min_lon, box.max_lon),
    )


def public_stores(
    s: Session, *, box: BoundingBox | None = None, limit: int = 1000
) -> list[Location]:
    """Active stores of open merchants, optionally inside ``box``."""
    q = _within(_open_stores(), box).order_by(Location.name, Location.id).limit(limit)
    return list(s.scalars(q))


def public_store(s: Session, location_id: uuid.UUID) -> Location | None:
    """One active store of an open merchant, or None."""
    return s.scalar(_open_stores().where(Location.id == location_id))


def store_stock(
    s: Session, variant_id: uuid.UUID, *, box: BoundingBox | None = None
) -> list[tuple[Location, int]]:
    """Stores (active, of an open merchant) holding available units of ``variant_id``:
    ``available = on_hand - reserved``, where ``reserved`` counts the active reservations
    (inventory keeps the two in step), so held units are never offered."""
    available = (StockLevel.on_hand - StockLevel.reserved).label("available")
    q = (
        _within(_open_stores(), box)
        .add_columns(available)
        .join(StockLevel, StockLevel.location_id == Location.id)
        .where(StockLevel.variant_id == variant_id, available > 0)
    )
    return [(loc, int(a)) for loc, a in s.execute(q).all()]


def stores_by_id(s: Session, location_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Location]:
    ids = list(set(location_ids))
    if not ids:
        return {}
    return {loc.id: loc for loc in s.scalars(_open_stores().where(Location.id.in_(ids)))}


@dataclass(frozen=True)
class StockAlert:
    """A stock level at or below its alert threshold."""

    variant_id: uuid.UUID
    location_id: uuid.UUID
    location_name: str
    on_hand: int
    reserved: int
    available: int
    threshold: int


def low_stock_alerts(
    s: Session, merchant_id: uuid.UUID, *, threshold: int | None = None, limit: int = 10
) -> list[StockAlert]:
    """The merchant's stock levels at active locations whose available units are at or below
    ``threshold``, or without one, the location's own ``low_stock_threshold`` (what
    ``stock.low`` fires on); the emptiest first."""
    available = StockLevel.on_hand - StockLevel.reserved
    limit_col = literal(threshold) if threshold is not None else Location.low_stock_threshold
    q = (
        select(
            StockLevel.variant_id,
            StockLevel.location_id,
            Location.name,
            StockLevel.on_hand,
            StockLevel.reserved,
            limit_col,
        )
        .join(Location, Location.id == StockLevel.location_id)
        .where(
            StockLevel.merchant_id == merchant_id,
            Location.merchant_id == merchant_id,
            Location.is_active.is_(True),
            available <= limit_col,
        )
        .order_by(available, Location.name, StockLevel.id)
        .limit(limit)
    )
    return [
        StockAlert(v, loc, str(name), int(oh), int(res), int(oh) - int(res), int(th))
        for v, loc, name, oh, res, th in s.execute(q)
    ]
