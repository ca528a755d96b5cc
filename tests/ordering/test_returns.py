"""Returns: request, decide, receive (restock + refund), limits and tenancy."""

from __future__ import annotations

from .conftest import stock_of
from .test_orders import place


def fulfilled(client, customer, shop, qty=2):
    order = place(client, customer, shop, qty=qty)
    r = client.post(
        f"/merchants/{shop.merchant.id}/orders/{order['id']}/fulfil",
        json={},
        headers=shop.merchant.admin.headers,
    )
    assert r.status_code == 200
    return r.json()


def test_full_return_refunds_restocks_and_closes_order(client, db, shop, customer):
    order = fulfilled(client, customer, shop, qty=2)
    line = order["lines"][0]
    r = client.post(
        f"/me/orders/{order['id']}/returns",
        json={"lines": [{"order_line_id": line["id"], "quantity": 2}], "reason": "too small"},
        headers=customer.headers,
    )
    assert r.status_code == 201, r.text
    ret = r.json()
    assert ret["status"] == "requested"
    base = f"/merchants/{shop.merchant.id}/returns/{ret['id']}"
    h = shop.merchant.admin.headers
    assert client.post(f"{base}/approve", json={}, headers=h).json()["status"] == "approved"
    r = client.post(f"{base}/receive", json={"location_id": str(shop.location_id)}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "refunded" and r.json()["refund_amount"] == 2 * 1999
    assert stock_of(db, shop.variants[0], shop.merchant.id, shop.location_id) == (10, 0)
    detail = client.get(f"/me/orders/{order['id']}", headers=customer.headers).json()
    assert detail["status"] == "returned" and detail["refunded_amount"] == 2 * 1999
    assert detail["lines"][0]["returned_quantity"] == 2
    # receiving again changes nothing
    again = client.post(f"{base}/receive", json={"location_id": str(shop.location_id)}, headers=h)
    assert again.status_code == 200 and again.json()["refund_amount"] == 2 * 1999


def test_partial_return_keeps_order_fulfilled(client, shop, customer):
    order = fulfilled(client, customer, shop, qty=3)
    line = order["lines"][0]
    ret = client.post(
        f"/me/orders/{order['id']}/returns",
        json={"lines": [{"order_line_id": line["id"], "quantity": 1}], "reason": "one too many"},
        headers=customer.headers,
    ).json()
    client.post(
        f"/merchants/{shop.merchant.id}/returns/{ret['id']}/receive",
        json={"location_id": str(shop.location_id)},
        headers=shop.merchant.admin.headers,
    )
    detail = client.get(f"/me/orders/{order['id']}", headers=customer.headers).json()
    assert detail["status"] == "fulfilled" and detail["refunded_amount"] == 1999


def test_return_limits(client, shop, customer):
    order = fulfilled(client, customer, shop, qty=2)
    line = order["lines"][0]
    url = f"/me/orders/{order['id']}/returns"
    ok = client.post(
        url,
        json={"lines": [{"order_line_id": line["id"], "quantity": 1}], "reason": "x"},
        headers=customer.headers,
    )
    assert ok.status_code == 201
    # one is already being returned: only one more can be
    r = client.post(
        url,
        json={"lines": [{"order_line_id": line["id"], "quantity": 2}], "reason": "x"},
        headers=customer.headers,
    )
    assert r.status_code == 422 and r.json()["returnable"] == 1
    r = client.post(url, json={"lines": [], "reason": "x"}, headers=customer.headers)
    assert r.status_code == 422


def test_unfulfilled_order_cannot_be_returned(client, shop, customer):
    order = place(client, customer, shop)
    r = client.post(
        f"/me/orders/{order['id']}/returns",
        json={"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "x"},
        headers=customer.headers,
    )
    assert r.status_code == 409 and r.json()["type"] == "/problems/return-not-allowed"


def test_rejected_return_cannot_be_received_and_tenancy(client, shop, other_shop, customer):
    order = fulfilled(client, customer, shop)
    ret = client.post(
        f"/me/orders/{order['id']}/returns",
        json={"lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "x"},
        headers=customer.headers,
    ).json()
    intruder = other_shop.merchant.admin.headers
    r = client.post(
        f"/merchants/{other_shop.merchant.id}/returns/{ret['id']}/approve",
        json={},
        headers=intruder,
    )
    assert r.status_code == 404
    base = f"/merchants/{shop.merchant.id}/returns/{ret['id']}"
    h = shop.merchant.admin.headers
    assert (
        client.post(f"{base}/reject", json={"note": "worn"}, headers=h).json()["status"]
        == "rejected"
    )
    r = client.post(f"{base}/receive", json={"location_id": str(shop.location_id)}, headers=h)
    assert r.status_code == 409
    listed = client.get(f"/merchants/{shop.merchant.id}/returns", headers=h).json()["items"]
    assert [x["id"] for x in listed] == [ret["id"]]
