"""Carts: anonymous and signed-in access, lines, limits, and the merge at sign-in."""

from __future__ import annotations

import uuid

from tests.factories import PASSWORD

from .conftest import cart_with


def test_anonymous_cart_needs_its_token(client, shop):
    cart = cart_with(client, {}, [(shop.variants[0], 2)])
    assert cart["token"]
    r = client.get(f"/carts/{cart['id']}", headers=cart["headers"])
    assert r.status_code == 200
    body = r.json()
    assert body["total_amount"] == 2 * 1999 and body["lines"][0]["available"] is True
    assert body["token"] is None  # shown once, at creation
    r = client.get(f"/carts/{cart['id']}")
    assert r.status_code == 401
    assert r.json()["type"] == "/problems/cart-token-required"
    r = client.get(f"/carts/{cart['id']}", headers={"X-Cart-Token": "nope"})
    assert r.status_code == 403


def test_signed_in_cart_is_private(client, shop, customer, factory):
    cart = cart_with(client, customer.headers, [(shop.variants[0], 1)])
    assert cart["token"] is None and cart["customer_id"] == str(customer.id)
    stranger = factory.user()
    assert client.get(f"/carts/{cart['id']}", headers=stranger.headers).status_code == 404
    assert client.get("/me/cart", headers=customer.headers).json()["id"] == cart["id"]


def test_lines_add_patch_delete(client, shop):
    cart = cart_with(client, {}, [(shop.variants[0], 1)])
    h = cart["headers"]
    r = client.post(
        f"/carts/{cart['id']}/lines",
        json={"variant_id": str(shop.variants[0]), "quantity": 2},
        headers=h,
    )
    line = r.json()["lines"][0]
    assert line["quantity"] == 3
    r = client.patch(f"/carts/{cart['id']}/lines/{line['id']}", json={"quantity": 5}, headers=h)
    assert r.json()["lines"][0]["quantity"] == 5
    r = client.delete(f"/carts/{cart['id']}/lines/{line['id']}", headers=h)
    assert r.status_code == 200 and r.json()["lines"] == []
    r = client.delete(f"/carts/{cart['id']}/lines/{line['id']}", headers=h)
    assert r.status_code == 404


def test_bad_lines_are_refused_and_change_nothing(client, shop):
    cart = cart_with(client, {}, [(shop.variants[0], 1)])
    h, url = cart["headers"], f"/carts/{cart['id']}/lines"
    cases = [
        ({"variant_id": str(shop.variants[0]), "quantity": 0}, 422),
        ({"variant_id": str(shop.variants[0]), "quantity": -1}, 422),
        ({"variant_id": str(shop.variants[0]), "quantity": 1000}, 422),
        ({"variant_id": "not-a-uuid", "quantity": 1}, 422),
        ({"variant_id": str(uuid.uuid4()), "quantity": 1}, 404),
        ({"variant_id": str(shop.variants[0]), "quantity": 10}, 409),  # 1 + 10 > 10 in stock
        ({"variant_id": str(shop.variants[0]), "quantity": 1, "price": 1}, 422),
    ]
    for body, status in cases:
        r = client.post(url, json=body, headers=h)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = client.post(
        url, content=b'{"variant_id": ', headers={**h, "content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["type"] == "/problems/malformed-json"
    assert client.get(f"/carts/{cart['id']}", headers=h).json()["lines"][0]["quantity"] == 1


def test_unknown_currency_is_refused(client):
    r = client.post("/carts", json={"currency": "XYZ"})
    assert r.status_code == 422 and r.json()["type"] == "/problems/validation-error"


def test_sign_in_merges_anonymous_cart(client, shop, other_shop, customer):
    mine = cart_with(client, customer.headers, [(shop.variants[0], 1)])
    anon = cart_with(client, {}, [(shop.variants[0], 2), (other_shop.variants[0], 1)])
    r = client.post(
        "/auth/token",
        json={"email": customer.email, "password": PASSWORD, "cart_token": anon["token"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["merged_cart_id"] == mine["id"]
    cart = client.get("/me/cart", headers=customer.headers).json()
    qty = {ln["variant_id"]: ln["quantity"] for ln in cart["lines"]}
    assert qty == {str(shop.variants[0]): 3, str(other_shop.variants[0]): 1}
    assert cart["merchants"] == 2
    # the anonymous cart is closed; its token no longer opens it
    r = client.get(f"/carts/{anon['id']}", headers={"X-Cart-Token": anon["token"]})
    assert r.status_code == 403


def test_sign_in_adopts_cart_when_customer_has_none(client, shop, factory):
    newcomer = factory.user()
    anon = cart_with(client, {}, [(shop.variants[0], 2)])
    r = client.post(
        "/auth/token",
        json={"email": newcomer.email, "password": PASSWORD, "cart_token": anon["token"]},
    )
    assert r.json()["merged_cart_id"] == anon["id"]
    assert client.get(f"/carts/{anon['id']}", headers=newcomer.headers).status_code == 200
