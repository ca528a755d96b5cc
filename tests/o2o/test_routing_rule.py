"""Ship-from-store routing: whole line first, then most stock, then distance from the
shipping address (else location code); splits only when no location covers the line."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from plaza.db import Database
from plaza.inventory.models import LocationKind
from plaza.o2o import routing
from tests.catalog_helpers import create_product
from tests.factories import Factory, unique

from .collect_helpers import ADDRESS, AMSTERDAM, HAARLEM, ROTTERDAM, add_location, cart, set_stock

UTRECHT = (52.0894, 5.1100)


def _merchant_with(
    db: Database, factory: Factory, sites: list[tuple[str, tuple[float, float] | None, int]]
) -> tuple[Any, uuid.UUID, dict[str, uuid.UUID]]:
    """A merchant, one variant, and locations (code, point, units of the variant)."""
    m = factory.merchant()
    _, (vid,) = create_product(
        db,
        m.id,
        variants=[{"sku": unique("SKU"), "options": {"size": "M"}, "prices": {"EUR": 900}}],
    )
    ids = {}
    for code, point, units in sites:
        kind = LocationKind.STORE if code.startswith("S") else LocationKind.WAREHOUSE
        ids[code] = add_location(db, m.id, kind, point, code=f"{code}-{unique('x')}", name=code)
        set_stock(db, m.id, vid, ids[code], units)
    return m, vid, ids


def _plan(db: Database, m: Any, vid: uuid.UUID, qty: int, dest: Any = None) -> list[Any]:
    with db.reading() as s:
        return routing.plan(s, m.id, vid, qty, dest)


def test_whole_line_beats_nearer_partial(db: Database, factory: Factory) -> None:
    m, vid, ids = _merchant_with(
        db, factory, [("SAMS", AMSTERDAM, 2), ("WROT", ROTTERDAM, 5), ("SUTR", UTRECHT, 4)]
    )
    # From Amsterdam: the nearby store has only 2 of 4; Rotterdam (5) beats Utrecht (4):
    # more stock wins over distance once both can fulfil the line.
    assert _plan(db, m, vid, 4, AMSTERDAM) == [(ids["WROT"], 4)]
    # 2 units: all three can; most stock first (Rotterdam), distance only breaks ties.
    assert _plan(db, m, vid, 2, AMSTERDAM) == [(ids["WROT"], 2)]


def test_distance_breaks_ties_and_code_without_coordinates(db: Database, factory: Factory) -> None:
    m, vid, ids = _merchant_with(
        db,
        factory,
        [("SAMS", AMSTERDAM, 5), ("WROT", ROTTERDAM, 5), ("SHAA", HAARLEM, 5), ("WNOW", None, 5)],
    )
    assert _plan(db, m, vid, 1, ROTTERDAM) == [(ids["WROT"], 1)]
    assert _plan(db, m, vid, 1, HAARLEM) == [(ids["SHAA"], 1)]
    assert _plan(db, m, vid, 1, AMSTERDAM) == [(ids["SAMS"], 1)]
    # No destination: by location code (SAMS < SHAA < WNOW < WROT).
    assert _plan(db, m, vid, 1) == [(ids["SAMS"], 1)]
    # A location without coordinates ranks after those with, whatever its code.
    with db.reading() as s:
        router = routing.Router(s, m.id, (0.0, 0.0))
        from plaza.inventory import service as inventory

        cands = inventory.candidates(s, m.id, vid, None)
        assert router(cands, 1)[-1].location_id == ids["WNOW"]


def test_split_only_when_no_location_covers(db: Database, factory: Factory) -> None:
    m, vid, ids = _merchant_with(
        db, factory, [("SAMS", AMSTERDAM, 3), ("WROT", ROTTERDAM, 4), ("SHAA", HAARLEM, 3)]
    )
    # 4 fits Rotterdam alone: no split even though Amsterdam is nearer.
    assert _plan(db, m, vid, 4, AMSTERDAM) == [(ids["WROT"], 4)]
    # 6: split, fullest first (Rotterdam 4), then the nearer of the equal stores.
    assert _plan(db, m, vid, 6, AMSTERDAM) == [(ids["WROT"], 4), (ids["SAMS"], 2)]
    assert _plan(db, m, vid, 6, HAARLEM) == [(ids["WROT"], 4), (ids["SHAA"], 2)]
    assert _plan(db, m, vid, 11, AMSTERDAM) == []  # short in total


def test_locations_not_fulfilling_online_are_skipped(db: Database, factory: Factory) -> None:
    m, vid, ids = _merchant_with(db, factory, [("WROT", ROTTERDAM, 2)])
    near = add_location(
        db, m.id, LocationKind.STORE, AMSTERDAM, code=unique("S"), fulfils_online=False
    )
    set_stock(db, m.id, vid, near, 50)
    assert _plan(db, m, vid, 2, AMSTERDAM) == [(ids["WROT"], 2)]


def test_checkout_routes_by_the_shipping_address(
    client: TestClient, db: Database, factory: Factory
) -> None:
    _, vid, ids = _merchant_with(db, factory, [("SAMS", AMSTERDAM, 5), ("WROT", ROTTERDAM, 5)])
    shopper = factory.user()

    def order_from(address: dict[str, Any], qty: int = 1) -> list[tuple[str, int]]:
        c = cart(client, shopper.headers, [(vid, qty)])
        r = client.post(
            f"/carts/{c['id']}/checkout",
            json={"payment": {"token": "tok_visa"}, "shipping_address": address},
            headers=shopper.headers,
        )
        assert r.status_code == 201, r.text
        return _allocations(db, r.json()["orders"][0]["id"])

    rotterdam = {**ADDRESS, "latitude": ROTTERDAM[0], "longitude": ROTTERDAM[1]}
    assert order_from(rotterdam) == [(str(ids["WROT"]), 1)]
    # Stock now 5 Amsterdam / 4 Rotterdam: most stock wins before distance.
    assert order_from(rotterdam) == [(str(ids["SAMS"]), 1)]
    # Without coordinates (4/4 now): by code.
    assert order_from(ADDRESS) == [(str(ids["SAMS"]), 1)]
    # 7 units: nobody has them alone (3 and 4): split over both (held in id order).
    assert sorted(order_from(rotterdam, 7)) == sorted(
        [(str(ids["WROT"]), 4), (str(ids["SAMS"]), 3)]
    )
    stored = client.get("/me/orders", headers=shopper.headers).json()["items"][0]
    assert stored["shipping_address"]["latitude"] == ROTTERDAM[0]


def _allocations(db: Database, order_id: str) -> list[tuple[str, int]]:
    from plaza.ordering.models import Order

    with db.reading() as s:
        order = s.get(Order, uuid.UUID(order_id))
        assert order is not None
        return [(a["location_id"], a["quantity"]) for ln in order.lines for a in ln.allocations]
