"""Variants: option validation against the product's definition, option-definition changes,
SKU rules, archiving; prices per currency."""

from __future__ import annotations

import uuid

from plaza.catalog import service
from plaza.money import MAX_AMOUNT
from tests.core.helpers import problem

from .conftest import counts, events, product_body


def _product(client, merchant, **overrides):
    body = product_body(
        options=[
            {"name": "size", "values": ["S", "M", "L"]},
            {"name": "colour", "values": ["Red", "Blue"]},
        ],
        variants=[
            {
                "sku": "V-S-RED",
                "options": {"size": "S", "colour": "Red"},
                "prices": [{"currency": "EUR", "amount": 1000}],
            },
        ],
        **overrides,
    )
    r = client.post(f"/merchants/{merchant.id}/products", json=body, headers=merchant.admin.headers)
    assert r.status_code == 201, r.text
    return r.json()


def _add(client, merchant, pid, **variant):
    return client.post(
        f"/merchants/{merchant.id}/products/{pid}/variants",
        json=variant,
        headers=merchant.admin.headers,
    )


def test_add_variant_with_prices(client, db, merchant):
    p = _product(client, merchant)
    r = _add(
        client,
        merchant,
        p["id"],
        sku="V-M-BLUE",
        options={"size": "M", "colour": "Blue"},
        weight_grams=180,
        prices=[{"currency": "JPY", "amount": 1500}],
    )
    assert r.status_code == 201, r.text
    v = r.json()
    assert v["position"] == 1 and v["weight_grams"] == 180 and v["status"] == "active"
    assert v["prices"] == [{"currency": "JPY", "amount": 1500, "compare_at_amount": None}]
    assert [t for t, _ in events(db, v["id"])] == ["variant.created", "price.changed"]


def test_unknown_option_names_and_values_are_named(client, db, merchant):
    p = _product(client, merchant)
    before = counts(db, merchant.id)
    body = problem(
        _add(client, merchant, p["id"], sku="V-X", options={"size": "XXL", "fabric": "silk"}),
        422,
        "invalid-variant-options",
    )
    assert body["unknown_options"] == ["fabric"]
    assert body["unknown_values"] == {"size": "XXL"}
    assert body["missing_options"] == ["colour"]
    assert "fabric" in body["detail"] and "XXL" in body["detail"] and "colour" in body["detail"]
    assert counts(db, merchant.id) == before


def test_unknown_options_refused_on_create_and_patch(client, db, merchant):
    body = product_body()
    body["variants"][0]["options"] = {"size": "XS"}
    before = counts(db, merchant.id)
    problem(
        client.post(
            f"/merchants/{merchant.id}/products", json=body, headers=merchant.admin.headers
        ),
        422,
        "invalid-variant-options",
    )
    assert counts(db, merchant.id) == before
    p = _product(client, merchant)
    vid = p["variants"][0]["id"]
    problem(
        client.patch(
            f"/merchants/{merchant.id}/variants/{vid}",
            json={"options": {"size": "S"}},
            headers=merchant.admin.headers,
        ),
        422,
        "invalid-variant-options",
    )


def test_duplicate_option_combination(client, merchant):
    p = _product(client, merchant)
    problem(
        _add(client, merchant, p["id"], sku="V-DUP", options={"size": "S", "colour": "Red"}),
        409,
        "variant-options-taken",
    )
    # Once the first is archived, the combination is free again.
    vid = p["variants"][0]["id"]
    client.delete(f"/merchants/{merchant.id}/variants/{vid}", headers=merchant.admin.headers)
    r = _add(client, merchant, p["id"], sku="V-DUP", options={"size": "S", "colour": "Red"})
    assert r.status_code == 201
    # ...and the archived one cannot come back while the new one holds it.
    problem(
        client.patch(
            f"/merchants/{merchant.id}/variants/{vid}",
            json={"status": "active"},
            headers=merchant.admin.headers,
        ),
        409,
        "variant-options-taken",
    )


def test_products_without_options_may_have_several_variants(client, merchant):
    body = product_body(
        options=[],
        variants=[
            {"sku": "PACK-1", "prices": [{"currency": "EUR", "amount": 100}]},
            {"sku": "PACK-6", "prices": [{"currency": "EUR", "amount": 500}]},
        ],
    )
    r = client.post(f"/merchants/{merchant.id}/products", json=body, headers=merchant.admin.headers)
    assert r.status_code == 201, r.text


def test_changing_the_option_definition(client, db, merchant):
    p = _product(client, merchant)
    url = f"/merchants/{merchant.id}/products/{p['id']}"
    h = merchant.admin.headers
    # Adding an option gives live variants its first value.
    r = client.patch(
        url,
        json={
            "options": [
                {"name": "size", "values": ["S", "M", "L"]},
                {"name": "colour", "values": ["Red", "Blue"]},
                {"name": "material", "values": ["Cotton", "Linen"]},
            ]
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["variants"][0]["options"] == {
        "size": "S",
        "colour": "Red",
        "material": "Cotton",
    }
    # A value in use cannot be removed.
    body = problem(
        client.patch(
            url,
            json={
                "options": [
                    {"name": "size", "values": ["M", "L"]},
                    {"name": "colour", "values": ["Red", "Blue"]},
                    {"name": "material", "values": ["Cotton", "Linen"]},
                ]
            },
            headers=h,
        ),
        422,
        "option-value-in-use",
    )
    assert body["in_use"] == [{"sku": "V-S-RED", "option": "size", "value": "S"}]
    # Removing an option drops it from the variants.
    r = client.patch(url, json={"options": [{"name": "size", "values": ["S", "M"]}]}, headers=h)
    assert r.status_code == 200
    assert r.json()["variants"][0]["options"] == {"size": "S"}
    assert "variant.updated" in [t for t, _ in events(db, p["variants"][0]["id"])]
    # Duplicate option names or values are refused by validation.
    problem(
        client.patch(url, json={"options": [{"name": "size", "values": ["S", "S"]}]}, headers=h),
        422,
        "validation-error",
    )
    problem(
        client.patch(
            url,
            json={
                "options": [{"name": "size", "values": ["S"]}, {"name": "size", "values": ["M"]}]
            },
            headers=h,
        ),
        422,
        "validation-error",
    )


def test_sku_rules(client, merchant, other):
    p = _product(client, merchant)
    problem(
        _add(client, merchant, p["id"], sku="V-S-RED", options={"size": "M", "colour": "Red"}),
        409,
        "sku-taken",
    )
    problem(
        _add(client, merchant, p["id"], sku="bad sku!", options={"size": "M", "colour": "Red"}),
        422,
        "validation-error",
    )
    # The same SKU is fine at another merchant.
    body = product_body()
    body["variants"][0]["sku"] = "V-S-RED"
    r = client.post(f"/merchants/{other.id}/products", json=body, headers=other.admin.headers)
    assert r.status_code == 201
    # Repeating a SKU inside one create request is refused before anything is written.
    body = product_body()
    body["variants"][1]["sku"] = body["variants"][0]["sku"]
    problem(
        client.post(
            f"/merchants/{merchant.id}/products", json=body, headers=merchant.admin.headers
        ),
        409,
        "sku-taken",
    )


def test_patch_and_archive_variant(client, db, merchant):
    p = _product(client, merchant)
    vid = p["variants"][0]["id"]
    url = f"/merchants/{merchant.id}/variants/{vid}"
    h = merchant.admin.headers
    r = client.patch(url, json={"sku": "V-S-RED-2", "weight_grams": 250, "position": 7}, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["sku"], r.json()["weight_grams"], r.json()["position"]) == (
        "V-S-RED-2",
        250,
        7,
    )
    r = client.get(url, headers=h)
    assert r.status_code == 200 and r.json()["sku"] == "V-S-RED-2"
    r = client.delete(url, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "archived"
    assert client.delete(url, headers=h).status_code == 200
    # The archived variant leaves the storefront.
    assert client.get(f"/products/{p['id']}").json()["variants"] == []
    upd = [e for t, e in events(db, vid) if t == "variant.updated"]
    assert upd[-1]["fields"] == ["status"] and upd[-1]["status"] == "archived"
    problem(client.patch(url, json={"sku": None}, headers=h), 422, "validation-error")


def test_prices(client, db, merchant):
    p = _product(client, merchant)
    vid = p["variants"][0]["id"]
    base = f"/merchants/{merchant.id}/variants/{vid}/prices"
    h = merchant.admin.headers
    r = client.put(f"{base}/USD", json={"amount": 1200, "compare_at_amount": 1500}, headers=h)
    assert r.status_code == 200
    assert r.json() == {"currency": "USD", "amount": 1200, "compare_at_amount": 1500}
    r = client.put(f"{base}/EUR", json={"amount": 900}, headers=h)
    assert r.json()["amount"] == 900
    changed = [e for t, e in events(db, vid) if t == "price.changed"]
    assert changed[-1]["previous_amount"] == 1000 and changed[-1]["amount"] == 900
    prices = client.get(f"/merchants/{merchant.id}/variants/{vid}", headers=h).json()["prices"]
    assert {(x["currency"], x["amount"]) for x in prices} == {("EUR", 900), ("USD", 1200)}
    assert client.put(f"{base}/MAX", json={"amount": 1}, headers=h).status_code == 422
    r = client.put(f"{base}/KWD", json={"amount": 1}, headers=h)  # 3-decimal currency is fine
    assert r.status_code == 200
    assert client.delete(f"{base}/USD", headers=h).status_code == 204
    problem(client.delete(f"{base}/USD", headers=h), 404, "not-found")
    assert changed[-1]["merchant_id"] == str(merchant.id)


def test_bad_prices_leave_nothing_changed(client, db, merchant):
    p = _product(client, merchant)
    vid = p["variants"][0]["id"]
    base = f"/merchants/{merchant.id}/variants/{vid}/prices"
    h = merchant.admin.headers
    before = counts(db, merchant.id)
    for cur, body in [
        ("EUR", {"amount": -1}),
        ("EUR", {"amount": MAX_AMOUNT + 1}),
        ("EUR", {"amount": 10.5}),
        ("EUR", {"amount": "10"}),
        ("EUR", {"amount": 100, "compare_at_amount": 100}),
        ("XXX", {"amount": 100}),
        ("eur", {"amount": 100}),
        ("EUR", {"amount": 100, "extra": 1}),
    ]:
        problem(client.put(f"{base}/{cur}", json=body, headers=h), 422, "validation-error")
    assert counts(db, merchant.id) == before
    with db.reading() as s:
        vid = uuid.UUID(vid)
        assert service.get_sellable_variants(s, [vid], "EUR")[vid].unit_amount == 1000
