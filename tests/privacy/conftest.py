"""Privacy fixtures: a shop to buy from and a customer with a distinctive identity, so a
scan of the whole database can tell the planted personal data from everything else."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plaza.db import Database
from plaza.identity import service as identity
from plaza.identity.tokens import issue_token
from tests.factories import PASSWORD, Actor, Factory
from tests.ordering.conftest import Shop, make_shop


@dataclass
class Person(Actor):
    name: str


def person(db: Database, tag: str | None = None) -> Person:
    """A customer whose email and name appear nowhere else in the database (ASCII only, so
    a LIKE over SQLite's escaped JSON text finds them too)."""
    tag = tag or uuid.uuid4().hex[:10]
    email = f"planted-{tag}@example.com"
    name = f"Quillon Varnasse {tag}"
    with db.transaction() as s:
        user = identity.register_user(s, email, PASSWORD, name)
    token, _ = issue_token(user.id)
    return Person(user.id, email, token, name)


@pytest.fixture
def someone(db: Database) -> Person:
    return person(db)


@pytest.fixture
def shop(db: Database, factory: Factory) -> Shop:
    return make_shop(db, factory, stock=50)


def address(tag: str) -> dict[str, str]:
    return {
        "name": f"Quillon Varnasse {tag}",
        "line1": f"{tag} Marigold Lane",
        "line2": f"Flat {tag}-B",
        "city": f"Quxville-{tag}",
        "postal_code": "1011",
        "region": "Noord-Holland",
        "country": "NL",
        "phone": f"+31 555 {tag}",
    }


def buy(
    client: TestClient,
    headers: dict[str, str],
    shop: Shop,
    addr: dict[str, str],
    *,
    qty: int = 1,
    key: str | None = None,
) -> dict[str, Any]:
    """A paid order of the signed-in customer; returns the order."""
    cart = client.post("/carts", json={"currency": "EUR"}, headers=headers).json()
    r = client.post(
        f"/carts/{cart['id']}/lines",
        json={"variant_id": str(shop.variants[0]), "quantity": qty},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/carts/{cart['id']}/checkout",
        json={"shipping_address": addr, "payment": {"token": "tok_visa"}},
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    order: dict[str, Any] = r.json()["orders"][0]
    return order


def fulfil(client: TestClient, shop: Shop, order_id: str) -> None:
    r = client.post(
        f"/merchants/{shop.merchant.id}/orders/{order_id}/fulfil",
        json={"carrier": "PostNL", "tracking_number": "3S123"},
        headers=shop.merchant.admin.headers,
    )
    assert r.status_code == 200, r.text
