"""Checkout: splitting by merchant, payment outcomes, idempotency and oversell."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import func, select

from plaza.ordering.models import Checkout, Order, Payment
from plaza.ordering.sandbox import SandboxOperation

from .conftest import cart_with, checkout_body, make_shop, stock_of


def count(db, model, *where) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_multi_merchant_checkout_splits_into_paid_orders(client, db, shop, other_shop, customer):
    cart = cart_with(
        client,
        customer.headers,
        [(shop.variants[0], 2), (other_shop.variants[0], 1), (other_shop.variants[1], 3)],
    )
    r = client.post(
        f"/carts/{cart['id']}/checkout",
        json=checkout_body(),
        headers={**customer.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    co = r.json()
    assert co["status"] == "completed" and co["email"] == customer.email
    assert co["total_amount"] == 2 * 1999 + 500 + 3 * 2500
    by_merchant = {o["merchant_id"]: o for o in co["orders"]}
    assert set(by_merchant) == {str(shop.merchant.id), str(other_shop.merchant.id)}
    for order in co["orders"]:
        assert order["status"] == "paid"
        assert [h["to_status"] for h in order["history"]] == ["placed", "paid"]
        assert order["payments"][0]["status"] == "captured"
        assert order["payments"][0]["captured_amount"] == order["total_amount"]
    assert stock_of(db, shop.variants[0], shop.merchant.id, shop.location_id) == (8, 0)
    assert stock_of(db, other_shop.variants[1], other_shop.merchant.id, other_shop.location_id) == (
        7,
        0,
    )
    # the cart is closed, and the customer sees both orders
    assert (
        client.get(f"/carts/{cart['id']}", headers=customer.headers).json()["status"]
        == "checked_out"
    )
    mine = client.get("/me/orders", headers=customer.headers).json()["items"]
    assert {o["id"] for o in mine} >= {o["id"] for o in co["orders"]}


def test_guest_checkout_requires_email(client, shop):
    cart = cart_with(client, {}, [(shop.variants[0], 1)])
    r = client.post(f"/carts/{cart['id']}/checkout", json=checkout_body(), headers=cart["headers"])
    assert r.status_code == 422
    r = client.post(
        f"/carts/{cart['id']}/checkout",
        json=checkout_body(email="guest@example.com"),
        headers=cart["headers"],
    )
    assert r.status_code == 201, r.text
    assert r.json()["orders"][0]["customer_id"] is None


def test_same_key_twice_creates_one_order_and_one_charge(client, db, shop, customer):
    cart = cart_with(client, customer.headers, [(shop.variants[0], 1)])
    headers = {**customer.headers, "Idempotency-Key": uuid.uuid4().hex}
    first = client.post(f"/carts/{cart['id']}/checkout", json=checkout_body(), headers=headers)
    second = client.post(f"/carts/{cart['id']}/checkout", json=checkout_body(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.json() == second.json()
    checkout_id = first.json()["id"]
    assert count(db, Order, Order.checkout_id == uuid.UUID(checkout_id)) == 1
    # a different body under the same key is refused
    other = client.post(
        f"/carts/{cart['id']}/checkout", json=checkout_body("tok_mastercard"), headers=headers
    )
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    # without a key a second checkout of the closed cart is refused
    again = client.post(
        f"/carts/{cart['id']}/checkout", json=checkout_body(), headers=customer.headers
    )
    assert again.status_code == 409 and again.json()["type"] == "/problems/cart-closed"


def test_concurrent_same_key_creates_one_order(client, db, shop, customer):
    cart = cart_with(client, customer.headers, [(shop.variants[0], 1)])
    headers = {**customer.headers, "Idempotency-Key": uuid.uuid4().hex}
    results: list[int] = []
    lock = threading.Lock()

    def go() -> None:
        r = client.post(f"/carts/{cart['id']}/checkout", json=checkout_body(), headers=headers)
        with lock:
            results.append(r.status_code)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert set(results) <= {201, 409}, results
    assert 201 in results
    assert count(db, Checkout, Checkout.cart_id == uuid.UUID(cart["id"])) == 1
    with db.reading() as s:
        order_id = s.scalar(
            select(Order.id)
            .join(Checkout, Checkout.id == Order.checkout_id)
            .where(Checkout.cart_id == uuid.UUID(cart["id"]))
        )
        payment_ids = [
            str(p) for p in s.scalars(select(Payment.id).where(Payment.order_id == order_id))
        ]
        charges = s.scalar(
            select(func.count())
            .select_from(SandboxOperation)
            .where(SandboxOperation.key.in_(payment_ids))
        )
    assert len(payment_ids) == 1 and charges == 1


def test_declined_then_paid_with_another_card(client, db, shop, customer):
    cart = cart_with(client, customer.headers, [(shop.variants[0], 2)])
    r = client.post(
        f"/carts/{cart['id']}/checkout",
        json=checkout_body("tok_declined"),
        headers={**customer.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 402
    problem = r.json()
    assert problem["type"] == "/problems/payment-declined"
    assert problem["decline_code"] == "card_declined"
    checkout_id = problem["checkout_id"]
    assert problem["checkout"]["orders"][0]["status"] == "placed"
    # the stock stays held for this checkout while the customer finds another card
    assert stock_of(db, shop.variants[0], shop.merchant.id, shop.location_id) == (10, 2)
    r = client.post(
        f"/checkouts/{checkout_id}/payments",
        json={"token": "tok_visa"},
        headers={**customer.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    order = r.json()["orders"][0]
    assert order["status"] == "paid"
    assert [p["status"] for p in order["payments"]] == ["failed", "captured"]
    assert stock_of(db, shop.variants[0], shop.merchant.id, shop.location_id) == (8, 0)


def test_timeout_is_resumed_by_retry_without_double_charge(client, db, shop, customer):
    cart = cart_with(client, customer.headers, [(shop.variants[0], 1)])
    headers = {**customer.headers, "Idempotency-Key": uuid.uuid4().hex}
    r = client.post(
        f"/carts/{cart['id']}/checkout", json=checkout_body("tok_timeout"), headers=headers
    )
    assert r.status_code == 503 and r.json()["type"] == "/problems/payment-pending"
    assert r.headers["Retry-After"]
    r = client.post(
        f"/carts/{cart['id']}/checkout", json=checkout_body("tok_timeout"), headers=headers
    )
    assert r.status_code == 201, r.text
    order = r.json()["orders"][0]
    assert order["status"] == "paid" and len(order["payments"]) == 1
    with db.reading() as s:
        charges = s.scalar(
            select(func.count())
            .select_from(SandboxOperation)
            .where(SandboxOperation.key == order["payments"][0]["id"])
        )
    assert charges == 1


def test_out_of_stock_checkout_changes_nothing(client, db, factory, customer):
    shop = make_shop(db, factory, stock=1)
    cart = cart_with(client, customer.headers, [(shop.variants[0], 1)])
    rival = factory.user()
    rival_cart = cart_with(client, rival.headers, [(shop.variants[0], 1)])
    assert (
        client.post(
            f"/carts/{rival_cart['id']}/checkout", json=checkout_body(), headers=rival.headers
        ).status_code
        == 201
    )
    orders_before = count(db, Order, Order.merchant_id == shop.merchant.id)
    r = client.post(f"/carts/{cart['id']}/checkout", json=checkout_body(), headers=customer.headers)
    assert r.status_code == 409 and r.json()["type"] == "/problems/out-of-stock"
    assert count(db, Order, Order.merchant_id == shop.merchant.id) == orders_before
    assert client.get(f"/carts/{cart['id']}", headers=customer.headers).json()["status"] == "active"
    assert stock_of(db, shop.variants[0], shop.merchant.id, shop.location_id) == (0, 0)


def test_last_unit_is_sold_once_under_concurrency(client, db, factory):
    shop = make_shop(db, factory, stock=3)
    buyers = [factory.user() for _ in range(12)]
    cart_ids = [cart_with(client, b.headers, [(shop.variants[0], 1)])["id"] for b in buyers]
    statuses: list[int] = []
    lock = threading.Lock()

    def buy(buyer, cart_id) -> None:
        r = client.post(
            f"/carts/{cart_id}/checkout",
            json=checkout_body(),
            headers={**buyer.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        with lock:
            statuses.append(r.status_code)

    threads = [
        threading.Thread(target=buy, args=pair) for pair in zip(buyers, cart_ids, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses) == [201] * 3 + [409] * 9
    assert stock_of(db, shop.variants[0], shop.merchant.id, shop.location_id) == (0, 0)
    assert count(db, Order, Order.merchant_id == shop.merchant.id) == 3


def test_checkout_of_empty_or_foreign_cart(client, customer, factory):
    r = client.post("/carts", json={}, headers=customer.headers)
    cart_id = r.json()["id"]
    r = client.post(f"/carts/{cart_id}/checkout", json=checkout_body(), headers=customer.headers)
    assert r.status_code == 422 and r.json()["type"] == "/problems/cart-empty"
    stranger = factory.user()
    r = client.post(f"/carts/{cart_id}/checkout", json=checkout_body(), headers=stranger.headers)
    assert r.status_code == 404


def test_bad_checkout_bodies(client, shop, customer):
    cart = cart_with(client, customer.headers, [(shop.variants[0], 1)])
    url = f"/carts/{cart['id']}/checkout"
    bad = [
        {"shipping_address": {"name": "x"}, "payment": {"token": "tok_visa"}},
        {
            **checkout_body(),
            "shipping_address": {**checkout_body()["shipping_address"], "country": "Netherlands"},
        },
        {**checkout_body(), "payment": {"token": ""}},
        {**checkout_body(), "email": "not-an-email"},
        {
            **checkout_body(),
            "shipping_address": {**checkout_body()["shipping_address"], "name": "x" * 201},
        },
    ]
    for body in bad:
        r = client.post(url, json=body, headers=customer.headers)
        assert r.status_code == 422, (body, r.text)
    r = client.post(
        url, json=checkout_body(), headers={**customer.headers, "Idempotency-Key": "has spaces"}
    )
    assert r.status_code == 400
    assert client.get(f"/carts/{cart['id']}", headers=customer.headers).json()["status"] == "active"
