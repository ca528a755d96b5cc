"""Product CRUD through the back-office API: create with variants and prices, read, patch
(optimistic concurrency), archive, idempotent retries, events."""

from __future__ import annotations

import uuid

from tests.core.helpers import problem

from .conftest import counts, events, product_body


def _create(client, merchant, **overrides):
    r = client.post(
        f"/merchants/{merchant.id}/products",
        json=product_body(**overrides),
        headers=merchant.admin.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_create_with_variants_and_prices(client, db, merchant):
    body = product_body()
    r = client.post(f"/merchants/{merchant.id}/products", json=body, headers=merchant.admin.headers)
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["merchant_id"] == str(merchant.id)
    assert p["title"] == body["title"] and p["status"] == "active" and p["version"] == 1
    assert p["handle"] == body["title"].lower().replace(" ", "-")
    assert p["tags"] == ["summer", "cotton"]  # normalised to lower case
    assert p["options"] == [{"name": "size", "values": ["S", "M", "L"]}]
    assert p["media"] == body["media"]
    assert [v["sku"] for v in p["variants"]] == [v["sku"] for v in body["variants"]]
    assert [v["position"] for v in p["variants"]] == [0, 1]
    assert p["variants"][1]["prices"] == [
        {"currency": "EUR", "amount": 2199, "compare_at_amount": 2999},
        {"currency": "USD", "amount": 2399, "compare_at_amount": None},
    ]
    assert counts(db, merchant.id) == (1, 2, 3)
    types = [t for t, _ in events(db, p["id"])]
    assert types == ["product.created"]
    created = events(db, p["id"])[0][1]
    assert created["merchant_id"] == str(merchant.id)
    assert set(created["variant_ids"]) == {v["id"] for v in p["variants"]}
    vid = p["variants"][1]["id"]
    assert [t for t, _ in events(db, vid)] == ["variant.created", "price.changed", "price.changed"]


def test_get_list_and_drafts_in_back_office(client, merchant):
    active = _create(client, merchant)
    draft = _create(client, merchant, status="draft")
    h = merchant.admin.headers
    r = client.get(f"/merchants/{merchant.id}/products/{draft['id']}", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "draft"
    assert r.headers["etag"] == '"1"'
    listed = client.get(f"/merchants/{merchant.id}/products", headers=h).json()
    assert {i["id"] for i in listed["items"]} == {active["id"], draft["id"]}
    only = client.get(
        f"/merchants/{merchant.id}/products", params={"status": "draft"}, headers=h
    ).json()
    assert [i["id"] for i in only["items"]] == [draft["id"]]


def test_staff_can_manage_catalog(client, factory, merchant):
    """Staff, not only admins, may write the catalog."""
    staff = factory.staff(merchant)
    r = client.post(
        f"/merchants/{merchant.id}/products", json=product_body(), headers=staff.headers
    )
    assert r.status_code == 201


def test_handle_generated_unique_and_explicit_conflict(client, merchant):
    a = _create(client, merchant, title="Linen Shirt")
    b = _create(client, merchant, title="Linen Shirt")
    assert (a["handle"], b["handle"]) == ("linen-shirt", "linen-shirt-2")
    r = client.post(
        f"/merchants/{merchant.id}/products",
        json=product_body(handle="linen-shirt"),
        headers=merchant.admin.headers,
    )
    problem(r, 409, "handle-taken")
    c = _create(client, merchant, title="Ümlaut Café ★")
    assert c["handle"] == "umlaut-cafe"


def test_patch_fields_and_versions(client, db, merchant):
    p = _create(client, merchant)
    url = f"/merchants/{merchant.id}/products/{p['id']}"
    h = merchant.admin.headers
    r = client.patch(
        url,
        json={"title": "Renamed", "tags": ["A", "b", "a"], "brand": "Other", "expected_version": 1},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Renamed" and r.json()["tags"] == ["a", "b"]
    assert r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    # A stale version is refused, whether in the body or as If-Match.
    body = problem(
        client.patch(url, json={"title": "X", "expected_version": 1}, headers=h),
        409,
        "product-version-mismatch",
    )
    assert body["current_version"] == 2
    problem(
        client.patch(url, json={"title": "X"}, headers={**h, "If-Match": '"1"'}),
        409,
        "product-version-mismatch",
    )
    r = client.patch(url, json={"title": "Y"}, headers={**h, "If-Match": '"2"'})
    assert r.status_code == 200 and r.json()["version"] == 3
    problem(
        client.patch(url, json={"title": "Z"}, headers={**h, "If-Match": "nope"}),
        422,
        "validation-error",
    )
    # A no-op patch changes nothing (no version bump, no event).
    before = events(db, p["id"])
    r = client.patch(url, json={"title": "Y"}, headers=h)
    assert r.json()["version"] == 3 and events(db, p["id"]) == before
    updated = [e for t, e in events(db, p["id"]) if t == "product.updated"]
    assert updated[0]["fields"] == ["brand", "tags", "title"]


def test_patch_rejects_nulls_and_unknown_category(client, merchant):
    p = _create(client, merchant)
    url = f"/merchants/{merchant.id}/products/{p['id']}"
    h = merchant.admin.headers
    problem(client.patch(url, json={"title": None}, headers=h), 422, "validation-error")
    problem(client.patch(url, json={"nope": 1}, headers=h), 422, "validation-error")
    problem(
        client.patch(url, json={"category_id": str(uuid.uuid4())}, headers=h),
        422,
        "unknown-category",
    )


def test_variant_and_price_writes_bump_the_product_version(client, merchant):
    p = _create(client, merchant)
    h = merchant.admin.headers
    vid = p["variants"][0]["id"]
    client.put(
        f"/merchants/{merchant.id}/variants/{vid}/prices/GBP", json={"amount": 1500}, headers=h
    )
    r = client.get(f"/merchants/{merchant.id}/products/{p['id']}", headers=h)
    assert r.json()["version"] == 2


def test_delete_archives_idempotently_and_patch_restores(client, db, merchant):
    p = _create(client, merchant)
    url = f"/merchants/{merchant.id}/products/{p['id']}"
    h = merchant.admin.headers
    r = client.delete(url, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "archived"
    assert client.delete(url, headers=h).status_code == 200
    assert [t for t, _ in events(db, p["id"])] == ["product.created", "product.archived"]
    assert client.get(f"/products/{p['id']}").status_code == 404
    r = client.patch(url, json={"status": "active"}, headers=h)
    assert r.json()["status"] == "active"
    assert client.get(f"/products/{p['id']}").status_code == 200
    assert counts(db, merchant.id) == (1, 2, 3)  # archiving deletes nothing


def test_idempotent_create(client, db, merchant):
    body = product_body()
    h = {**merchant.admin.headers, "Idempotency-Key": "create-tee-1"}
    r1 = client.post(f"/merchants/{merchant.id}/products", json=body, headers=h)
    r2 = client.post(f"/merchants/{merchant.id}/products", json=body, headers=h)
    assert r1.status_code == r2.status_code == 201
    assert r1.json() == r2.json()
    assert r2.headers.get("idempotent-replayed") == "true"
    assert counts(db, merchant.id) == (1, 2, 3)
    other = product_body()
    problem(
        client.post(f"/merchants/{merchant.id}/products", json=other, headers=h),
        422,
        "idempotency-key-reused",
    )


def test_unknown_product_and_merchant(client, factory, merchant):
    h = merchant.admin.headers
    problem(
        client.get(f"/merchants/{merchant.id}/products/{uuid.uuid4()}", headers=h), 404, "not-found"
    )
    admin = factory.platform_admin()
    problem(
        client.post(
            f"/merchants/{uuid.uuid4()}/products", json=product_body(), headers=admin.headers
        ),
        404,
        "not-found",
    )
