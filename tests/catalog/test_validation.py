"""Bad inputs answer problem+json 4xx and leave the database as it was."""

from __future__ import annotations

import pytest

from plaza.money import MAX_AMOUNT
from tests.core.helpers import problem

from .conftest import counts, product_body


def _variant(**kw):
    v = {"sku": "OK-1", "options": {"size": "S"}, "prices": [{"currency": "EUR", "amount": 100}]}
    v.update(kw)
    return v


BAD_BODIES = {
    "negative price": product_body(variants=[_variant(prices=[{"currency": "EUR", "amount": -5}])]),
    "price over the maximum": product_body(
        variants=[_variant(prices=[{"currency": "EUR", "amount": MAX_AMOUNT + 1}])]
    ),
    "unknown currency": product_body(
        variants=[_variant(prices=[{"currency": "ABC", "amount": 100}])]
    ),
    "two prices in one currency": product_body(
        variants=[
            _variant(
                prices=[{"currency": "EUR", "amount": 100}, {"currency": "EUR", "amount": 200}]
            )
        ]
    ),
    "over-long title": product_body(title="x" * 201),
    "empty title": product_body(title=""),
    "over-long description": product_body(description="x" * 10_001),
    "javascript media URL": product_body(media=[{"url": "javascript:alert(1)"}]),
    "ftp media URL": product_body(media=[{"url": "ftp://example.com/a.jpg"}]),
    "relative media URL": product_body(media=[{"url": "/a.jpg"}]),
    "media URL with spaces": product_body(media=[{"url": "https://x.com/a b.jpg"}]),
    "unknown media kind": product_body(media=[{"url": "https://x.com/a.gif", "kind": "gif"}]),
    "unknown field": product_body(colour="red"),
    "bad status": product_body(status="deleted"),
    "bad handle": product_body(handle="Not A Slug"),
    "too many tags": product_body(tags=[f"t{i}" for i in range(51)]),
    "blank tag": product_body(tags=["  "]),
    "bad option name": product_body(options=[{"name": "Size!", "values": ["S"]}]),
    "option without values": product_body(options=[{"name": "size", "values": []}]),
    "negative weight": product_body(variants=[_variant(weight_grams=-1)]),
    "string amount": product_body(variants=[_variant(prices=[{"currency": "EUR", "amount": "1"}])]),
    "NUL in title": product_body(title="bad\x00title"),
    "NUL in a tag": product_body(tags=["ok", "b\x00d"]),
    "NUL in an option value": product_body(options=[{"name": "size", "values": ["S\x00"]}]),
    "compare-at below price": product_body(
        variants=[_variant(prices=[{"currency": "EUR", "amount": 100, "compare_at_amount": 50}])]
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_product_bodies(client, db, merchant, case):
    before = counts(db, merchant.id)
    r = client.post(
        f"/merchants/{merchant.id}/products", json=BAD_BODIES[case], headers=merchant.admin.headers
    )
    problem(r, 422, "validation-error")
    assert r.json()["errors"]
    assert counts(db, merchant.id) == before


def test_malformed_json(client, db, merchant):
    before = counts(db, merchant.id)
    r = client.post(
        f"/merchants/{merchant.id}/products",
        content=b'{"title": "x", ',
        headers={**merchant.admin.headers, "Content-Type": "application/json"},
    )
    problem(r, 400, "malformed-json")
    assert counts(db, merchant.id) == before


def test_late_failure_rolls_back_the_whole_product(client, db, merchant):
    """The second variant's GTIN is bad: nothing of the product is written."""
    body = product_body()
    body["variants"][1]["gtin"] = "12345678"
    before = counts(db, merchant.id)
    problem(
        client.post(
            f"/merchants/{merchant.id}/products", json=body, headers=merchant.admin.headers
        ),
        422,
        "invalid-gtin",
    )
    assert counts(db, merchant.id) == before


@pytest.mark.parametrize(
    "params",
    [
        {"currency": "ABC"},
        {"currency": "eur"},
        {"min_price": -1},
        {"limit": 0},
        {"limit": 101},
        {"sort": "random"},
        {"option": "size"},
        {"option": "Size:M"},
        {"q": "x" * 201},
        {"merchant_id": "not-a-uuid"},
        {"brand": "a\x00b"},
        {"option": "size:\x00"},
        {"category": "\x00"},
    ],
)
def test_bad_listing_parameters(client, params):
    problem(client.get("/products", params=params), 422, "validation-error")


def test_bad_cursor(client, merchant):
    problem(client.get("/products", params={"cursor": "garbage"}), 400, "invalid-cursor")


def test_bad_storefront_currency(client):
    problem(
        client.get("/products/00000000-0000-0000-0000-000000000000", params={"currency": "XX"}),
        422,
        "validation-error",
    )
