"""Tenancy and access: a merchant never sees or changes another's catalog; API key scopes;
anonymous and customer callers stay out of the back-office."""

from __future__ import annotations

import pytest

from tests.core.helpers import problem

from .conftest import counts, product_body


@pytest.fixture
def b_product(client, other):
    r = client.post(
        f"/merchants/{other.id}/products", json=product_body(), headers=other.admin.headers
    )
    assert r.status_code == 201
    return r.json()


def test_other_merchants_rows_are_404_under_my_path(client, db, merchant, other, b_product):
    h = merchant.admin.headers
    a = f"/merchants/{merchant.id}"
    pid = b_product["id"]
    vid = b_product["variants"][0]["id"]
    before = counts(db, other.id)
    calls = [
        ("GET", f"{a}/products/{pid}", None),
        ("PATCH", f"{a}/products/{pid}", {"title": "Stolen"}),
        ("DELETE", f"{a}/products/{pid}", None),
        ("POST", f"{a}/products/{pid}/variants", {"sku": "X-1", "options": {"size": "L"}}),
        ("GET", f"{a}/variants/{vid}", None),
        ("PATCH", f"{a}/variants/{vid}", {"sku": "STOLEN"}),
        ("DELETE", f"{a}/variants/{vid}", None),
        ("PUT", f"{a}/variants/{vid}/prices/EUR", {"amount": 1}),
        ("DELETE", f"{a}/variants/{vid}/prices/EUR", None),
    ]
    for method, url, body in calls:
        r = client.request(method, url, json=body, headers=h)
        problem(r, 404, "not-found")
    listed = client.get(f"{a}/products", headers=h).json()["items"]
    assert pid not in {i["id"] for i in listed}
    assert counts(db, other.id) == before
    after = client.get(f"/merchants/{other.id}/products/{pid}", headers=other.admin.headers).json()
    assert after == {**b_product, "version": after["version"]} and after["version"] == 1


def test_my_token_on_their_path_is_403(client, merchant, other, b_product):
    h = merchant.admin.headers
    b = f"/merchants/{other.id}"
    vid = b_product["variants"][0]["id"]
    for method, url, body in [
        ("GET", f"{b}/products", None),
        ("GET", f"{b}/products/{b_product['id']}", None),
        ("POST", f"{b}/products", product_body()),
        ("PATCH", f"{b}/products/{b_product['id']}", {"title": "x"}),
        ("DELETE", f"{b}/products/{b_product['id']}", None),
        ("PUT", f"{b}/variants/{vid}/prices/EUR", {"amount": 1}),
        ("PATCH", f"{b}/variants/{vid}", {"sku": "x"}),
    ]:
        problem(client.request(method, url, json=body, headers=h), 403, "forbidden")


def test_anonymous_and_customers_are_kept_out(client, factory, merchant):
    url = f"/merchants/{merchant.id}/products"
    problem(client.get(url), 401, "unauthenticated")
    problem(client.post(url, json=product_body()), 401, "unauthenticated")
    customer = factory.user()
    problem(client.get(url, headers=customer.headers), 403, "forbidden")
    problem(client.post(url, json=product_body(), headers=customer.headers), 403, "forbidden")


def test_api_key_scopes(client, db, factory, merchant, other, b_product):
    read_key = {"X-API-Key": factory.api_key(merchant, ["catalog:read"])}
    write_key = {"X-API-Key": factory.api_key(merchant, ["catalog:write"])}
    base = f"/merchants/{merchant.id}"
    r = client.post(f"{base}/products", json=product_body(), headers=write_key)
    assert r.status_code == 201
    p = r.json()
    vid = p["variants"][0]["id"]
    assert client.get(f"{base}/products", headers=read_key).status_code == 200
    assert client.get(f"{base}/products/{p['id']}", headers=read_key).status_code == 200
    before = counts(db, merchant.id)
    for method, url, body in [
        ("POST", f"{base}/products", product_body()),
        ("PATCH", f"{base}/products/{p['id']}", {"title": "x"}),
        ("DELETE", f"{base}/products/{p['id']}", None),
        ("POST", f"{base}/products/{p['id']}/variants", {"sku": "K-1", "options": {"size": "L"}}),
        ("PATCH", f"{base}/variants/{vid}", {"sku": "x"}),
        ("DELETE", f"{base}/variants/{vid}", None),
        ("PUT", f"{base}/variants/{vid}/prices/EUR", {"amount": 1}),
    ]:
        problem(client.request(method, url, json=body, headers=read_key), 403, "forbidden")
    assert counts(db, merchant.id) == before
    # A write-only key cannot read; a key never reaches another merchant.
    problem(client.get(f"{base}/products", headers=write_key), 403, "forbidden")
    problem(client.get(f"/merchants/{other.id}/products", headers=read_key), 403, "forbidden")
    problem(
        client.get(f"/merchants/{other.id}/products/{b_product['id']}", headers=read_key),
        403,
        "forbidden",
    )


def test_platform_admin_may_act_for_any_merchant(client, factory, merchant):
    admin = factory.platform_admin()
    r = client.post(
        f"/merchants/{merchant.id}/products", json=product_body(), headers=admin.headers
    )
    assert r.status_code == 201


def test_storefront_is_public_and_merchant_filter_is_exact(client, merchant, other, b_product):
    r = client.get("/products", params={"merchant_id": str(merchant.id)})
    assert r.status_code == 200 and b_product["id"] not in {i["id"] for i in r.json()["items"]}
    assert client.get(f"/products/{b_product['id']}").status_code == 200
