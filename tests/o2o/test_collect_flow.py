"""Click & collect: store choice at checkout, stock held at the store, ready, pickup code
and QR, verify and collect at the counter, expiry, cancellation, and every bad case."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plaza.config import get_settings
from plaza.db import Database, utcnow
from plaza.events import dispatch_pending
from plaza.o2o.collect import service
from plaza.o2o.collect.models import Pickup, PickupState
from tests.factories import Actor, Factory

from .collect_helpers import ADDRESS, CollectWorld, cart, collect_body, collect_world, level


@pytest.fixture
def world(db: Database, factory: Factory) -> CollectWorld:
    return collect_world(db, factory)


@pytest.fixture
def shopper(factory: Factory) -> Actor:
    return factory.user()


def _type(r: Any) -> str:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return str(r.json()["type"]).rsplit("/", 1)[-1]


def _collect_order(client: TestClient, w: CollectWorld, who: Actor, qty: int = 1) -> dict[str, Any]:
    c = cart(client, who.headers, [(w.variants[0], qty)])
    r = client.post(f"/carts/{c['id']}/checkout", json=collect_body(w.store), headers=who.headers)
    assert r.status_code == 201, r.text
    (order,) = r.json()["orders"]
    return dict(order)


def _ready(client: TestClient, w: CollectWorld, order_id: str) -> dict[str, Any]:
    r = client.post(
        f"/merchants/{w.merchant.id}/orders/{order_id}/ready", headers=w.merchant.admin.headers
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def _code(client: TestClient, who: Actor, order_id: str) -> str:
    r = client.get(f"/me/orders/{order_id}/pickup", headers=who.headers)
    assert r.status_code == 200, r.text
    return str(r.json()["code"])


def _counter(w: CollectWorld, store: uuid.UUID | None = None) -> str:
    return f"/merchants/{w.merchant.id}/stores/{store or w.store}/pickups"


def test_click_and_collect_end_to_end(
    client: TestClient, db: Database, world: CollectWorld, shopper: Actor
) -> None:
    w = world
    order = _collect_order(client, w, shopper, qty=2)
    assert order["status"] == "paid"
    assert order["fulfilment"] == "collect"
    assert order["pickup_store_id"] == str(w.store)
    assert order["shipping_address"] == {}
    # Held at the store (not sold) until collected; the warehouse is untouched.
    assert level(db, w, w.variants[0], w.store) == (3, 2)
    assert level(db, w, w.variants[0], w.warehouse) == (10, 0)

    mine = client.get(f"/me/orders/{order['id']}/pickup", headers=shopper.headers).json()
    assert mine["state"] == "awaiting_preparation" and mine["code"] is None
    r = client.get(f"/me/orders/{order['id']}/pickup-code.svg", headers=shopper.headers)
    assert r.status_code == 409 and _type(r) == "pickup-not-ready"

    queue = client.get(_counter(w), headers=w.merchant.admin.headers).json()["items"]
    assert [q["order_id"] for q in queue] == [order["id"]]

    ready = _ready(client, w, order["id"])
    assert ready["state"] == "ready" and "code" not in ready
    assert _ready(client, w, order["id"])["expires_at"] == ready["expires_at"]  # idempotent
    expires = dt.datetime.fromisoformat(ready["expires_at"].replace("Z", "+00:00"))
    hours = get_settings().pickup_hold_hours
    assert abs((expires - utcnow()).total_seconds() - hours * 3600) < 120

    mine = client.get(f"/me/orders/{order['id']}/pickup", headers=shopper.headers).json()
    code = mine["code"]
    assert mine["state"] == "ready" and len(code) == 6
    assert set(code) <= set(service.CODE_ALPHABET)
    assert mine["qr_payload"] == f"PLAZA-PICKUP:{order['id']}:{code}"
    svg = client.get(f"/me/orders/{order['id']}/pickup-code.svg", headers=shopper.headers)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content and svg.headers["cache-control"] == "no-store"
    png = client.get(f"/me/orders/{order['id']}/pickup-code.png", headers=shopper.headers)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    with db.reading() as s:  # only a keyed digest is stored, never the code
        row = s.get(Pickup, uuid.UUID(order["id"]))
        assert row is not None and code not in (row.code_digest, row.nonce)

    # Verify changes nothing; a typed code with a dash and lower case is fine.
    typed = f"{code[:3].lower()}-{code[3:]}"
    r = client.post(f"{_counter(w)}/verify", json={"code": typed}, headers=w.merchant.admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["order_id"] == order["id"] and r.json()["state"] == "ready"
    assert r.json()["customer_name"] == shopper.email  # no address: the email
    # The scanned QR payload works as well.
    r = client.post(
        f"{_counter(w)}/verify",
        json={"code": mine["qr_payload"]},
        headers=w.merchant.admin.headers,
    )
    assert r.status_code == 200, r.text

    r = client.post(
        f"{_counter(w)}/{order['id']}/collect",
        json={"code": code},
        headers=w.merchant.admin.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "collected" and r.json()["order_status"] == "fulfilled"
    assert level(db, w, w.variants[0], w.store) == (1, 0)  # sold at the store

    again = client.post(
        f"{_counter(w)}/{order['id']}/collect",
        json={"code": code},
        headers=w.merchant.admin.headers,
    )
    assert again.status_code == 409 and _type(again) == "pickup-already-collected"
    r = client.post(f"{_counter(w)}/verify", json={"code": code}, headers=w.merchant.admin.headers)
    assert r.status_code == 409 and _type(r) == "pickup-already-collected"
    mine = client.get(f"/me/orders/{order['id']}/pickup", headers=shopper.headers).json()
    assert mine["state"] == "collected" and mine["code"] is None
    collected = client.get(f"{_counter(w)}?state=collected", headers=w.merchant.admin.headers)
    assert [q["order_id"] for q in collected.json()["items"]] == [order["id"]]


def test_store_must_offer_click_and_collect(
    client: TestClient, db: Database, factory: Factory, world: CollectWorld, shopper: Actor
) -> None:
    w = world
    other_merchant = collect_world(db, factory)
    for store_id, problem in (
        (w.other_store, "collect-store-unavailable"),  # no click_collect service
        (w.warehouse, "collect-store-unavailable"),  # not a store
        (uuid.uuid4(), "collect-store-unavailable"),  # unknown
        (other_merchant.store, "fulfilment-not-in-cart"),  # no items of that merchant
    ):
        c = cart(client, shopper.headers, [(w.variants[0], 1)])
        r = client.post(
            f"/carts/{c['id']}/checkout", json=collect_body(store_id), headers=shopper.headers
        )
        assert r.status_code == 422, r.text
        assert _type(r) == problem
        # The cart is still open: empty it for the next round.
        for line in client.get(f"/carts/{c['id']}", headers=shopper.headers).json()["lines"]:
            client.delete(f"/carts/{c['id']}/lines/{line['id']}", headers=shopper.headers)


def test_collect_store_without_enough_stock_names_the_store(
    client: TestClient, db: Database, world: CollectWorld, shopper: Actor
) -> None:
    w = world
    c = cart(client, shopper.headers, [(w.variants[0], 5)])  # 3 at the store, 10 elsewhere
    r = client.post(
        f"/carts/{c['id']}/checkout", json=collect_body(w.store), headers=shopper.headers
    )
    assert r.status_code == 409 and _type(r) == "out-of-stock"
    body = r.json()
    assert body["store_id"] == str(w.store) and body["available"] == 3
    assert "Amsterdam" in body["detail"]
    assert level(db, w, w.variants[0], w.warehouse) == (10, 0)  # nothing held anywhere


def test_bad_fulfilment_inputs(client: TestClient, world: CollectWorld, shopper: Actor) -> None:
    w = world
    c = cart(client, shopper.headers, [(w.variants[0], 1)])
    url = f"/carts/{c['id']}/checkout"
    bad: list[dict[str, Any]] = [
        {"payment": {"token": "tok_visa"}},  # delivery needs an address
        {"payment": {"token": "tok_visa"}, "fulfilment": {"method": "collect"}},
        {
            "payment": {"token": "tok_visa"},
            "shipping_address": ADDRESS,
            "fulfilment": {"method": "delivery", "store_id": str(w.store)},
        },
        {**collect_body(w.store), "fulfilment": {"method": "teleport"}},
        {"payment": {"token": "tok_visa"}, "shipping_address": {**ADDRESS, "latitude": 52.0}},
    ]
    for body in bad:
        r = client.post(url, json=body, headers=shopper.headers)
        assert r.status_code == 422, (body, r.text)
        assert _type(r) == "validation-error"


def test_wrong_codes_leak_nothing(
    client: TestClient, db: Database, world: CollectWorld, shopper: Actor, factory: Factory
) -> None:
    w = world
    first = _collect_order(client, w, shopper)
    second = _collect_order(client, w, shopper)
    _ready(client, w, first["id"])
    _ready(client, w, second["id"])
    code = _code(client, shopper, first["id"])
    staff = w.merchant.admin.headers
    wrong = "777777" if code != "777777" else "999999"
    answers = [
        client.post(f"{_counter(w)}/verify", json={"code": wrong}, headers=staff),
        client.post(f"{_counter(w)}/verify", json={"code": "not a code"}, headers=staff),
        # the right code at another store of the merchant
        client.post(f"{_counter(w, w.other_store)}/verify", json={"code": code}, headers=staff),
        # the first order's code against the second order
        client.post(f"{_counter(w)}/{second['id']}/collect", json={"code": code}, headers=staff),
        # a made-up order
        client.post(f"{_counter(w)}/{uuid.uuid4()}/collect", json={"code": code}, headers=staff),
        client.post(
            f"{_counter(w)}/verify",
            json={"code": f"PLAZA-PICKUP:{second['id']}:{code}"},
            headers=staff,
        ),
    ]
    for r in answers:
        assert r.status_code == 422, r.text
        assert _type(r) == "pickup-code-invalid"
        assert set(r.json()) <= {"type", "title", "status", "detail", "instance"}
    r = client.post(f"{_counter(w)}/verify", json={"code": ""}, headers=staff)
    assert r.status_code == 422 and _type(r) == "validation-error"
    # Nothing changed.
    assert level(db, w, w.variants[0], w.store) == (3, 2)


def test_expired_pickup_releases_stock_and_refunds(
    client: TestClient, db: Database, world: CollectWorld, shopper: Actor
) -> None:
    w = world
    order = _collect_order(client, w, shopper)
    _ready(client, w, order["id"])
    code = _code(client, shopper, order["id"])
    later = utcnow() + dt.timedelta(hours=get_settings().pickup_hold_hours + 1)
    with db.reading() as s:
        assert service.has_due(s, later) and not service.has_due(s)
    with db.transaction() as s:
        assert service.expire_due(s, later) >= 1  # other tests' pickups may be due too
    with db.transaction() as s:
        row = s.get(Pickup, uuid.UUID(order["id"]))
        assert row is not None and row.state == PickupState.EXPIRED
        assert not service.expire(s, row, later)  # idempotent
    assert level(db, w, w.variants[0], w.store) == (3, 0)  # back to available
    while dispatch_pending(db):
        pass
    detail = client.get(f"/me/orders/{order['id']}", headers=shopper.headers).json()
    assert detail["status"] == "cancelled"
    from plaza.ordering import flows
    from plaza.ordering.service import provider_for

    flows.settle_refunds(db, provider_for(db, get_settings()))
    detail = client.get(f"/me/orders/{order['id']}", headers=shopper.headers).json()
    assert detail["refunded_amount"] == detail["total_amount"]
    r = client.post(
        f"{_counter(w)}/{order['id']}/collect",
        json={"code": code},
        headers=w.merchant.admin.headers,
    )
    assert r.status_code == 409 and _type(r) == "pickup-expired"
    mine = client.get(f"/me/orders/{order['id']}/pickup", headers=shopper.headers).json()
    assert mine["state"] == "expired" and mine["code"] is None


def test_collect_after_expiry_before_the_job_runs(
    client: TestClient, db: Database, world: CollectWorld, shopper: Actor
) -> None:
    w = world
    order = _collect_order(client, w, shopper)
    _ready(client, w, order["id"])
    code = _code(client, shopper, order["id"])
    with db.transaction() as s:
        row = s.get(Pickup, uuid.UUID(order["id"]))
        assert row is not None
        row.expires_at = utcnow() - dt.timedelta(minutes=1)
    r = client.post(
        f"{_counter(w)}/{order['id']}/collect",
        json={"code": code},
        headers=w.merchant.admin.headers,
    )
    assert r.status_code == 409 and _type(r) == "pickup-expired"
    # The expiry was committed: order cancelled, stock released, money back.
    detail = client.get(f"/me/orders/{order['id']}", headers=shopper.headers).json()
    assert detail["status"] == "cancelled"
    assert detail["refunded_amount"] == detail["total_amount"]
    assert level(db, w, w.variants[0], w.store) == (3, 0)


def test_pickup_of_a_cancelled_order(
    client: TestClient, db: Database, world: CollectWorld, shopper: Actor
) -> None:
    w = world
    order = _collect_order(client, w, shopper)
    _ready(client, w, order["id"])
    code = _code(client, shopper, order["id"])
    r = client.post(f"/me/orders/{order['id']}/cancel", json={}, headers=shopper.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert level(db, w, w.variants[0], w.store) == (3, 0)  # held stock released
    staff = w.merchant.admin.headers
    r = client.post(f"{_counter(w)}/verify", json={"code": code}, headers=staff)
    assert r.status_code == 409 and _type(r) == "pickup-cancelled"
    r = client.post(f"{_counter(w)}/{order['id']}/collect", json={"code": code}, headers=staff)
    assert r.status_code == 409 and _type(r) == "pickup-cancelled"
    # Cancelled before it was ready: no code is ever issued.
    other = _collect_order(client, w, shopper)
    client.post(f"/me/orders/{other['id']}/cancel", json={}, headers=shopper.headers)
    r = client.post(f"/merchants/{w.merchant.id}/orders/{other['id']}/ready", headers=staff)
    assert r.status_code == 409 and _type(r) == "pickup-cancelled"


def test_collect_orders_are_not_shipped_and_delivered_ones_not_collected(
    client: TestClient, world: CollectWorld, shopper: Actor
) -> None:
    w = world
    staff = w.merchant.admin.headers
    order = _collect_order(client, w, shopper)
    r = client.post(
        f"/merchants/{w.merchant.id}/orders/{order['id']}/fulfil", json={}, headers=staff
    )
    assert r.status_code == 409 and _type(r) == "collect-order-needs-pickup"
    c = cart(client, shopper.headers, [(w.variants[0], 1)])
    r = client.post(
        f"/carts/{c['id']}/checkout",
        json={"payment": {"token": "tok_visa"}, "shipping_address": ADDRESS},
        headers=shopper.headers,
    )
    delivered = r.json()["orders"][0]
    assert delivered["fulfilment"] == "delivery"
    r = client.post(f"/merchants/{w.merchant.id}/orders/{delivered['id']}/ready", headers=staff)
    assert r.status_code == 409 and _type(r) == "not-a-collect-order"
    r = client.get(f"/me/orders/{delivered['id']}/pickup", headers=shopper.headers)
    assert r.status_code == 409 and _type(r) == "not-a-collect-order"


def test_unpaid_collect_order_is_not_prepared(
    client: TestClient, world: CollectWorld, shopper: Actor
) -> None:
    w = world
    c = cart(client, shopper.headers, [(w.variants[0], 1)])
    r = client.post(
        f"/carts/{c['id']}/checkout",
        json=collect_body(w.store, token="tok_chargeDeclined"),
        headers=shopper.headers,
    )
    assert r.status_code == 402, r.text
    order_id = r.json()["checkout"]["orders"][0]["id"]
    r = client.post(
        f"/merchants/{w.merchant.id}/orders/{order_id}/ready", headers=w.merchant.admin.headers
    )
    assert r.status_code == 409 and _type(r) == "pickup-order-not-paid"


def test_tenancy_and_access(
    client: TestClient, factory: Factory, world: CollectWorld, shopper: Actor
) -> None:
    w = world
    order = _collect_order(client, w, shopper)
    _ready(client, w, order["id"])
    code = _code(client, shopper, order["id"])
    outsider = factory.merchant()
    # Another merchant's admin: not a member of this merchant.
    r = client.post(
        f"/merchants/{w.merchant.id}/orders/{order['id']}/ready", headers=outsider.admin.headers
    )
    assert r.status_code == 403
    # Under their own merchant id the order does not exist (404, not the order).
    r = client.post(
        f"/merchants/{outsider.id}/orders/{order['id']}/ready", headers=outsider.admin.headers
    )
    assert r.status_code == 404
    r = client.post(
        f"/merchants/{outsider.id}/stores/{w.store}/pickups/verify",
        json={"code": code},
        headers=outsider.admin.headers,
    )
    assert r.status_code == 404
    # Another customer sees nothing of it.
    stranger = factory.user()
    for path in ("pickup", "pickup-code.svg", "pickup-code.png"):
        r = client.get(f"/me/orders/{order['id']}/{path}", headers=stranger.headers)
        assert r.status_code == 404, path
    # A staff member of the merchant may work the counter.
    clerk = factory.staff(w.merchant)
    r = client.post(f"{_counter(w)}/verify", json={"code": code}, headers=clerk.headers)
    assert r.status_code == 200
    # Shoppers cannot.
    r = client.post(f"{_counter(w)}/verify", json={"code": code}, headers=shopper.headers)
    assert r.status_code == 403


def test_staffed_store_counter_is_for_its_own_staff(
    client: TestClient, factory: Factory, world: CollectWorld, shopper: Actor
) -> None:
    w = world
    order = _collect_order(client, w, shopper)
    _ready(client, w, order["id"])
    code = _code(client, shopper, order["id"])
    ours, theirs = factory.staff(w.merchant), factory.staff(w.merchant)
    # Nobody assigned yet: any staff member of the merchant works the counter.
    r = client.post(f"{_counter(w)}/verify", json={"code": code}, headers=theirs.headers)
    assert r.status_code == 200, r.text
    r = client.put(
        f"/merchants/{w.merchant.id}/stores/{w.store}/staff/{ours.id}",
        json={},
        headers=w.merchant.admin.headers,
    )
    assert r.status_code == 200, r.text
    # Now only the store's own staff (and the merchant's admins) may.
    for path, body in (("verify", {"code": code}), (f"{order['id']}/collect", {"code": code})):
        r = client.post(f"{_counter(w)}/{path}", json=body, headers=theirs.headers)
        assert r.status_code == 403 and _type(r) == "not-store-staff", r.text
    r = client.post(f"{_counter(w)}/verify", json={"code": code}, headers=w.merchant.admin.headers)
    assert r.status_code == 200, r.text
    r = client.post(
        f"{_counter(w)}/{order['id']}/collect", json={"code": code}, headers=ours.headers
    )
    assert r.status_code == 200 and r.json()["state"] == "collected", r.text
