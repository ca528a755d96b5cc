"""Test data for fitting rooms and Digital Links: a store with a fitting zone, a garment in
three sizes and two colours with GTINs, stock in the store, made through the services."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from plaza.catalog.gtin import check_digit
from plaza.db import Database
from plaza.inventory import service as inventory
from plaza.inventory.models import LocationKind
from plaza.o2o.stores import service as stores
from plaza.o2o.stores.models import ZoneKind
from plaza.o2o.stores.schemas import ZoneIn
from tests.catalog_helpers import create_product
from tests.factories import Factory, MerchantCtx, unique


def new_gtin() -> str:
    """A fresh GTIN-14 under GS1 company prefix 0614141 (7 digits, SGTIN-encodable)."""
    body = "0614141" + f"{random.randrange(10**6):06d}"
    return body + str(check_digit(body))


@dataclass
class Store:
    merchant: MerchantCtx
    location_id: uuid.UUID
    zone_id: uuid.UUID
    product_id: uuid.UUID
    variants: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)
    gtins: dict[uuid.UUID, str] = field(default_factory=dict)


SIZES = ("S", "M", "L")
COLOURS = ("Blue", "Black")


def make_store(db: Database, factory: Factory, *, stock: int = 3) -> Store:
    merchant = factory.merchant()
    with db.transaction() as s:
        loc = inventory.create_location(
            s,
            merchant.id,
            code=unique("ST"),
            name="Haarlemmerstraat",
            kind=LocationKind.STORE,
            address_line1="Haarlemmerstraat 1",
            city="Amsterdam",
            country="NL",
            latitude=52.38,
            longitude=4.89,
            timezone="Europe/Amsterdam",
        )
        zone = stores.create_zone(
            s, merchant.id, loc.id, ZoneIn(code="FIT", name="Fitting rooms", kind=ZoneKind.FITTING)
        )
        location_id, zone_id = loc.id, zone.id
    specs = [
        {"options": {"size": size, "colour": colour}, "gtin": new_gtin()}
        for colour in COLOURS
        for size in SIZES
    ]
    product_id, ids = create_product(db, merchant.id, title="Linen shirt", variants=specs)
    store = Store(merchant, location_id, zone_id, product_id)
    with db.transaction() as s:
        for spec, vid in zip(specs, ids, strict=True):
            key = (spec["options"]["size"], spec["options"]["colour"])
            store.variants[key] = vid
            store.gtins[vid] = spec["gtin"]
            # M/Black is sold out in the store, to see stock differ between alternatives
            on_hand = 0 if key == ("M", "Black") else stock
            inventory.set_stock(
                s, merchant_id=merchant.id, variant_id=vid, location_id=location_id, on_hand=on_hand
            )
    return store


def make_room(client, store: Store, code: str = "F1") -> str:  # type: ignore[no-untyped-def]
    r = client.post(
        f"/merchants/{store.merchant.id}/stores/{store.location_id}/fitting-rooms",
        json={"zone_id": str(store.zone_id), "code": code, "name": f"Room {code}"},
        headers=store.merchant.admin.headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])
