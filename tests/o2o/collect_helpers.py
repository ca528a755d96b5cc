"""Helper G's test world: a merchant with a warehouse and two stores (one offering click
& collect), products with stock spread over them, made through the services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from plaza.db import Database
from plaza.inventory import service as inventory
from plaza.inventory.models import LocationKind
from plaza.o2o.stores import service as stores
from plaza.o2o.stores.models import StoreService
from plaza.o2o.stores.schemas import StoreProfileIn
from tests.catalog_helpers import create_product
from tests.factories import Factory, MerchantCtx, unique

AMSTERDAM = (52.3791, 4.9003)
HAARLEM = (52.3874, 4.6462)
ROTTERDAM = (51.9244, 4.4690)
ADDRESS: dict[str, Any] = {
    "name": "Ada Lovelace",
    "line1": "1 Market Street",
    "city": "Amsterdam",
    "postal_code": "1011",
    "country": "NL",
}


@dataclass
class CollectWorld:
    merchant: MerchantCtx
    warehouse: uuid.UUID
    store: uuid.UUID  # Amsterdam, offers click & collect
    other_store: uuid.UUID  # Haarlem, no click & collect
    variants: list[uuid.UUID] = field(default_factory=list)


def add_location(
    db: Database,
    merchant_id: uuid.UUID,
    kind: LocationKind,
    point: tuple[float, float] | None,
    *,
    code: str | None = None,
    name: str = "Location",
    fulfils_online: bool = True,
) -> uuid.UUID:
    with db.transaction() as s:
        return inventory.create_location(
            s,
            merchant_id,
            code=code or unique("LOC"),
            name=name,
            kind=kind,
            address_line1="1 Main Street",
            city="Somewhere",
            country="NL",
            latitude=point[0] if point else None,
            longitude=point[1] if point else None,
            timezone="Europe/Amsterdam",
            fulfils_online=fulfils_online,
        ).id


def offer(db: Database, merchant_id: uuid.UUID, store_id: uuid.UUID, *services: str) -> None:
    with db.transaction() as s:
        stores.save_profile(
            s,
            merchant_id,
            store_id,
            StoreProfileIn(services=[StoreService(x) for x in services]),
        )


def set_stock(
    db: Database, merchant_id: uuid.UUID, variant_id: uuid.UUID, location_id: uuid.UUID, n: int
) -> None:
    with db.transaction() as s:
        inventory.set_stock(
            s, merchant_id=merchant_id, variant_id=variant_id, location_id=location_id, on_hand=n
        )


def level(db: Database, w: CollectWorld, variant_id: uuid.UUID, loc: uuid.UUID) -> tuple[int, int]:
    with db.reading() as s:
        lv = inventory.get_level(s, w.merchant.id, variant_id, loc)
        return (lv.on_hand, lv.reserved) if lv else (0, 0)


def collect_world(db: Database, factory: Factory) -> CollectWorld:
    """v0: warehouse 10, store 3, other store 2. v1: warehouse 5 only."""
    m = factory.merchant()
    wh = add_location(db, m.id, LocationKind.WAREHOUSE, ROTTERDAM, name="Warehouse")
    store = add_location(db, m.id, LocationKind.STORE, AMSTERDAM, name="Amsterdam")
    other = add_location(db, m.id, LocationKind.STORE, HAARLEM, name="Haarlem")
    offer(db, m.id, store, "click_collect")
    offer(db, m.id, other, "fitting_rooms")
    _, vids = create_product(
        db,
        m.id,
        variants=[
            {"sku": unique("SKU"), "options": {"size": s}, "prices": {"EUR": 2500}}
            for s in ("M", "L")
        ],
    )
    w = CollectWorld(m, wh, store, other, list(vids))
    for loc, n in ((wh, 10), (store, 3), (other, 2)):
        set_stock(db, m.id, w.variants[0], loc, n)
    set_stock(db, m.id, w.variants[1], wh, 5)
    return w


def cart(
    client: TestClient, headers: dict[str, str], items: list[tuple[uuid.UUID, int]]
) -> dict[str, Any]:
    r = client.post("/carts", json={"currency": "EUR"}, headers=headers)
    assert r.status_code == 201, r.text
    c = r.json()
    for vid, qty in items:
        r = client.post(
            f"/carts/{c['id']}/lines",
            json={"variant_id": str(vid), "quantity": qty},
            headers=headers,
        )
        assert r.status_code == 201, r.text
    return c


def collect_body(store_id: uuid.UUID, token: str = "tok_visa") -> dict[str, Any]:
    return {
        "payment": {"token": token},
        "fulfilment": {"method": "collect", "store_id": str(store_id)},
    }
