"""The click & collect demo seed: ready, collected and expired pickups at a store and an
endless-aisle sale, through the real flows."""

from __future__ import annotations

import random

from sqlalchemy import select

from plaza.db import Database
from plaza.identity.models import User
from plaza.o2o.collect import demo
from plaza.o2o.collect.models import Pickup, PickupState
from plaza.ordering.models import Order
from tests.factories import Factory

from .collect_helpers import collect_world, set_stock


def test_seed_store_places_each_kind(db: Database, factory: Factory) -> None:
    w = collect_world(db, factory)
    for vid in w.variants:
        set_stock(db, w.merchant.id, vid, w.store, 4)
    # The endless-aisle sale needs a variant the store lacks.
    from tests.catalog_helpers import create_product
    from tests.factories import unique

    _, (lacking,) = create_product(
        db, w.merchant.id, variants=[{"sku": unique("SKU"), "prices": {"EUR": 100}}]
    )
    set_stock(db, w.merchant.id, lacking, w.warehouse, 3)
    actors = [factory.user() for _ in range(4)]
    with db.reading() as s:
        people = [s.get(User, a.id) for a in actors]
        s.expunge_all()
    counts = demo.seed_store(
        db,
        random.Random(3),
        w.merchant.id,
        w.store,
        w.variants + w.variants[:1],
        people,  # type: ignore[arg-type]
    )
    assert counts == {"collect_orders": 3, "endless_aisle_orders": 1}
    with db.reading() as s:
        states = sorted(
            p.state for p in s.scalars(select(Pickup).where(Pickup.location_id == w.store))
        )
        assert states == sorted([PickupState.READY, PickupState.COLLECTED, PickupState.EXPIRED])
        aisle = s.scalars(select(Order).where(Order.placed_in_store == w.store)).one()
        assert aisle.channel == "endless_aisle" and aisle.status.value == "paid"
