"""Endless aisle: store staff sell what the store lacks, fulfilled from elsewhere through
the same checkout (server-side cart, routed stock, payment), delivered or collected."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plaza.db import Database
from tests.factories import Factory

from .collect_helpers import ADDRESS, CollectWorld, collect_world, level


@pytest.fixture
def world(db: Database, factory: Factory) -> CollectWorld:
    return collect_world(db, factory)


def _url(w: CollectWorld, store: uuid.UUID | None = None) -> str:
    return f"/merchants/{w.merchant.id}/stores/{store or w.store}/endless-aisle/checkouts"


def _body(w: CollectWorld, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lines": [{"variant_id": str(w.variants[1]), "quantity": 2}],
        "email": "walk-in@example.com",
        "payment": {"token": "tok_visa"},
        "shipping_address": ADDRESS,
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def _type(r: Any) -> str:
    return str(r.json()["type"]).rsplit("/", 1)[-1]


def test_sell_what_the_store_lacks_delivered(
    client: TestClient, db: Database, world: CollectWorld
) -> None:
    w = world
    clerk = w.merchant.admin.headers
    headers = {**clerk, "Idempotency-Key": uuid.uuid4().hex}
    r = client.post(_url(w), json=_body(w), headers=headers)
    assert r.status_code == 201, r.text
    (order,) = r.json()["orders"]
    assert order["status"] == "paid"
    assert order["channel"] == "endless_aisle"
    assert order["placed_in_store"] == str(w.store)
    assert order["fulfilment"] == "delivery" and order["email"] == "walk-in@example.com"
    assert level(db, w, w.variants[1], w.warehouse) == (3, 0)  # shipped from the warehouse
    again = client.post(_url(w), json=_body(w), headers=headers)  # replayed, not resold
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert level(db, w, w.variants[1], w.warehouse) == (3, 0)


def test_sell_for_collection_later_at_this_store(
    client: TestClient, db: Database, factory: Factory, world: CollectWorld
) -> None:
    w = world
    shopper = factory.user()
    body = _body(
        w,
        shipping_address=None,
        collect_in_store=True,
        email=shopper.email,
        customer_id=str(shopper.id),
    )
    r = client.post(_url(w), json=body, headers=w.merchant.admin.headers)
    assert r.status_code == 201, r.text
    (order,) = r.json()["orders"]
    assert order["fulfilment"] == "collect" and order["pickup_store_id"] == str(w.store)
    assert order["customer_id"] == str(shopper.id)
    # Held at the warehouse (the store has none) until collected here.
    assert level(db, w, w.variants[1], w.warehouse) == (5, 2)
    staff = w.merchant.admin.headers
    r = client.post(f"/merchants/{w.merchant.id}/orders/{order['id']}/ready", headers=staff)
    assert r.status_code == 200, r.text
    code = client.get(f"/me/orders/{order['id']}/pickup", headers=shopper.headers).json()["code"]
    r = client.post(
        f"/merchants/{w.merchant.id}/stores/{w.store}/pickups/{order['id']}/collect",
        json={"code": code},
        headers=staff,
    )
    assert r.status_code == 200 and r.json()["state"] == "collected"
    assert level(db, w, w.variants[1], w.warehouse) == (3, 0)
    mine = client.get("/me/orders", headers=shopper.headers).json()["items"]
    assert [o["id"] for o in mine] == [order["id"]]


def test_bad_endless_aisle_requests(
    client: TestClient, db: Database, factory: Factory, world: CollectWorld
) -> None:
    w = world
    staff = w.merchant.admin.headers
    shopper = factory.user()
    other = collect_world(db, factory)
    cases: list[tuple[dict[str, Any], int, str]] = [
        (_body(w, collect_in_store=True), 422, "validation-error"),  # both destinations
        (_body(w, shipping_address=None), 422, "validation-error"),  # neither
        (_body(w, lines=[]), 422, "validation-error"),
        (_body(w, customer_id=str(shopper.id)), 422, "endless-aisle-customer-mismatch"),
        (
            _body(w, lines=[{"variant_id": str(other.variants[1]), "quantity": 1}]),
            422,
            "endless-aisle-foreign-variant",
        ),
        (_body(w, lines=[{"variant_id": str(w.variants[1]), "quantity": 50}]), 409, "out-of-stock"),
        (_body(w, payment={"token": "tok_declined"}), 402, "payment-declined"),
    ]
    for body, status, problem in cases:
        r = client.post(_url(w), json=body, headers=staff)
        assert r.status_code == status, (body, r.text)
        assert _type(r) == problem
    r = client.post(_url(w, w.warehouse), json=_body(w), headers=staff)
    assert r.status_code == 409 and _type(r) == "not-a-store"
    r = client.post(_url(w, other.store), json=_body(w), headers=staff)
    assert r.status_code == 404  # another merchant's store, under this merchant


def test_only_the_merchants_staff_sell(
    client: TestClient, factory: Factory, world: CollectWorld
) -> None:
    w = world
    assert client.post(_url(w), json=_body(w)).status_code == 401
    shopper = factory.user()
    assert client.post(_url(w), json=_body(w), headers=shopper.headers).status_code == 403
    outsider = factory.merchant()
    r = client.post(_url(w), json=_body(w), headers=outsider.admin.headers)
    assert r.status_code == 403
    clerk = factory.staff(w.merchant)
    assert client.post(_url(w), json=_body(w), headers=clerk.headers).status_code == 201
