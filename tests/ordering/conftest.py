"""Ordering fixtures: a merchant with a warehouse, products and stock, built via services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plaza.db import Database
from plaza.inventory import service as inventory
from plaza.inventory.models import LocationKind
from tests.factories import Actor, Factory, MerchantCtx, unique

from ..catalog_helpers import create_product

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1 Market Street",
    "city": "Amsterdam",
    "postal_code": "1011",
    "country": "NL",
}


@dataclass
class Shop:
    merchant: MerchantCtx
    location_id: uuid.UUID
    variants: list[uuid.UUID] = field(default_factory=list)


def make_shop(
    db: Database,
    factory: Factory,
    *,
    stock: int = 10,
    prices: tuple[int, ...] = (1999,),
    kind: LocationKind = LocationKind.WAREHOUSE,
) -> Shop:
    merchant = factory.merchant()
    with db.transaction() as s:
        loc = inventory.create_location(
            s,
            merchant.id,
            code=unique("WH"),
            name="Main warehouse",
            kind=kind,
            address_line1="1 Dock Road",
            city="Rotterdam",
            country="NL",
            latitude=51.92,
            longitude=4.48,
            timezone="Europe/Amsterdam",
        )
        location_id = loc.id
    _, variant_ids = create_product(
        db,
        merchant.id,
        variants=[
            {"sku": unique("SKU"), "options": {"size": f"S{i}"}, "prices": {"EUR": p}}
            for i, p in enumerate(prices)
        ],
    )
    with db.transaction() as s:
        for vid in variant_ids:
            inventory.set_stock(
                s, merchant_id=merchant.id, variant_id=vid, location_id=location_id, on_hand=stock
            )
    return Shop(merchant, location_id, list(variant_ids))


@pytest.fixture
def shop(db: Database, factory: Factory) -> Shop:
    return make_shop(db, factory)


@pytest.fixture
def other_shop(db: Database, factory: Factory) -> Shop:
    return make_shop(db, factory, prices=(500, 2500))


@pytest.fixture
def customer(factory: Factory) -> Actor:
    return factory.user()


def cart_with(
    client: TestClient, headers: dict[str, str], items: list[tuple[uuid.UUID, int]]
) -> dict[str, Any]:
    r = client.post("/carts", json={"currency": "EUR"}, headers=headers)
    assert r.status_code == 201, r.text
    cart = r.json()
    h = dict(headers)
    if cart["token"]:
        h["X-Cart-Token"] = cart["token"]
    for vid, qty in items:
        r = client.post(
            f"/carts/{cart['id']}/lines", json={"variant_id": str(vid), "quantity": qty}, headers=h
        )
        assert r.status_code == 201, r.text
    cart["headers"] = h
    return cart


def checkout_body(token: str = "tok_visa", email: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"shipping_address": ADDRESS, "payment": {"token": token}}
    if email:
        body["email"] = email
    return body


def stock_of(
    db: Database, variant_id: uuid.UUID, merchant_id: uuid.UUID, location_id: uuid.UUID
) -> tuple[int, int]:
    with db.reading() as s:
        level = inventory.get_level(s, merchant_id, variant_id, location_id)
        assert level is not None
        return level.on_hand, level.reserved
