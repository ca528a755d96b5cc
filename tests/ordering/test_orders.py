"""Orders after checkout: merchant views, fulfilment, cancellation, refunds, expiry, tenancy."""

from __future__ import annotations

import datetime as dt
import uuid

from plaza.events import dispatch_pending
from plaza.inventory import service as inventory

from .conftest import cart_with, checkout_body, stock_of


def place(client, customer, shop, qty=1, token="tok_visa"):
    cart = cart_with(client, customer.headers, [(shop.variants[0], qty)])
    r = client.post(
        f"/carts/{cart['id']}/checkout",
        json=checkout_body(token),
        headers={**customer.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code in (201, 402), r.text
    body = r.json()
    return (body.get("checkout") or body)["orders"][0]


def test_merchant_lists_and_reads_own_orders(client, shop, customer):
    order = place(client, customer, shop)
    h = shop.merchant.admin.headers
    base = f"/merchants/{shop.merchant.id}/orders"
    listed = client.get(base, headers=h).json()["items"]
    assert [o["id"] for o in listed] == [order["id"]]
    assert client.get(base, params={"status": "fulfilled"}, headers=h).json()["items"] == []
    detail = client.get(f"{base}/{order['id']}", headers=h).json()
    assert detail["number"] == order["number"] and detail["payments"]


def test_pagination_walks_every_order_once(client, shop, customer):
    ids = {place(client, customer, shop)["id"] for _ in range(5)}
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(
            f"/merchants/{shop.merchant.id}/orders",
            params=params,
            headers=shop.merchant.admin.headers,
        ).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))


def test_tenancy_merchant_cannot_see_or_touch_others_orders(client, shop, other_shop, customer):
    order = place(client, customer, shop)
    intruder = other_shop.merchant.admin.headers
    assert client.get(f"/merchants/{shop.merchant.id}/orders", headers=intruder).status_code == 403
    # under its own path, another merchant's order does not exist
    for method, suffix, body in [
        ("get", "", None),
        ("post", "/fulfil", {}),
        ("post", "/cancel", {}),
        ("post", "/refunds", {"amount": 1, "reason": "x"}),
    ]:
        r = getattr(client, method)(
            f"/merchants/{other_shop.merchant.id}/orders/{order['id']}{suffix}",
            headers=intruder,
            **({"json": body} if body is not None else {}),
        )
        assert r.status_code == 404, (suffix, r.text)
    listed = client.get(f"/merchants/{other_shop.merchant.id}/orders", headers=intruder).json()
    assert order["id"] not in {o["id"] for o in listed["items"]}
    # a customer cannot read someone else's order
    assert (
        client.get(
            f"/me/orders/{order['id']}", headers=other_shop.merchant.admin.headers
        ).status_code
        == 404
    )


def test_api_key_scopes_for_orders(client, factory, shop, customer):
    order = place(client, customer, shop)
    reader = factory.api_key(shop.merchant, ["orders:read"])
    url = f"/merchants/{shop.merchant.id}/orders/{order['id']}"
    assert client.get(url, headers={"X-API-Key": reader}).status_code == 200
    assert client.post(f"{url}/fulfil", json={}, headers={"X-API-Key": reader}).status_code == 403
    writer = factory.api_key(shop.merchant, ["orders:write"])
    assert client.post(f"{url}/fulfil", json={}, headers={"X-API-Key": writer}).status_code == 200


def test_fulfil_then_state_machine_guards(client, shop, customer):
    order = place(client, customer, shop)
    h = shop.merchant.admin.headers
    url = f"/merchants/{shop.merchant.id}/orders/{order['id']}"
    r = client.post(
        f"{url}/fulfil", json={"carrier": "PostNL", "tracking_number": "3S123"}, headers=h
    )
    assert r.status_code == 200
    assert r.json()["status"] == "fulfilled" and r.json()["tracking"]["carrier"] == "PostNL"
    assert client.post(f"{url}/fulfil", json={}, headers=h).status_code == 200  # idempotent
    r = client.post(f"{url}/cancel", json={}, headers=h)
    assert r.status_code == 409 and r.json()["type"] == "/problems/invalid-order-transition"
    history = client.get(url, headers=h).json()["history"]
    assert [x["to_status"] for x in history] == ["placed", "paid", "fulfilled"]


def test_placed_order_cannot_be_fulfilled(client, shop, customer):
    order = place(client, customer, shop, token="tok_declined")
    r = client.post(
        f"/merchants/{shop.merchant.id}/orders/{order['id']}/fulfil",
        json={},
        headers=shop.merchant.admin.headers,
    )
    assert r.status_code == 409


def test_cancel_paid_order_refunds_and_restocks(client, db, shop, customer):
    order = place(client, customer, shop, qty=2)
    assert stock_of(db, shop.variants[0], shop.merchant.id, shop.location_id) == (8, 0)
    r = client.post(
        f"/me/orders/{order['id']}/cancel",
        json={"reason": "changed my mind"},
        headers=customer.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "cancelled" and body["refunded_amount"] == body["total_amount"]
    assert body["payments"][0]["status"] == "refunded"
    assert stock_of(db, shop.variants[0], shop.merchant.id, shop.location_id) == (10, 0)
    again = client.post(f"/me/orders/{order['id']}/cancel", json={}, headers=customer.headers)
    assert again.status_code == 200 and again.json()["refunded_amount"] == body["total_amount"]


def test_cancel_unpaid_order_releases_stock(client, db, shop, customer):
    order = place(client, customer, shop, qty=3, token="tok_declined")
    assert stock_of(db, shop.variants[0], shop.merchant.id, shop.location_id) == (10, 3)
    r = client.post(
        f"/merchants/{shop.merchant.id}/orders/{order['id']}/cancel",
        json={},
        headers=shop.merchant.admin.headers,
    )
    assert r.json()["status"] == "cancelled" and r.json()["refunded_amount"] == 0
    assert stock_of(db, shop.variants[0], shop.merchant.id, shop.location_id) == (10, 0)


def test_partial_refund_limits(client, shop, customer):
    order = place(client, customer, shop)
    h = {**shop.merchant.admin.headers, "Idempotency-Key": uuid.uuid4().hex}
    url = f"/merchants/{shop.merchant.id}/orders/{order['id']}/refunds"
    r = client.post(url, json={"amount": 500, "reason": "scratched box"}, headers=h)
    assert r.status_code == 200 and r.json()["refunded_amount"] == 500
    replay = client.post(url, json={"amount": 500, "reason": "scratched box"}, headers=h)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    r = client.post(
        url, json={"amount": 1999, "reason": "too much"}, headers=shop.merchant.admin.headers
    )
    assert r.status_code == 422 and r.json()["refundable"] == 1499
    assert (
        client.post(
            url, json={"amount": -5, "reason": "x"}, headers=shop.merchant.admin.headers
        ).status_code
        == 422
    )


def test_unpaid_order_is_cancelled_when_its_hold_expires(client, db, shop, customer):
    order = place(client, customer, shop, qty=2, token="tok_declined")
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    with db.transaction() as s:
        refs = inventory.expire_due(s, now=future)
    assert order["id"] in refs
    while dispatch_pending(db):
        pass
    detail = client.get(f"/me/orders/{order['id']}", headers=customer.headers).json()
    assert detail["status"] == "cancelled"
    assert stock_of(db, shop.variants[0], shop.merchant.id, shop.location_id) == (10, 0)
    # paying now is too late: nothing is awaiting payment any more
    r = client.post(
        f"/checkouts/{detail['checkout_id']}/payments",
        json={"token": "tok_visa"},
        headers=customer.headers,
    )
    assert r.status_code == 409 and r.json()["type"] == "/problems/checkout-orders-cancelled"
    assert r.json()["checkout"]["status"] == "cancelled"
