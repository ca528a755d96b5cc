"""Hybrid, keyword and semantic search over a small catalog made here."""

from __future__ import annotations

import pytest

from tests.personas.test_recommend_helpers import COATS, KITCHEN, SUMMER, make_catalog


@pytest.fixture
def shop(db, factory):  # type: ignore[no-untyped-def]
    merchant = factory.merchant()
    coats, kitchen, summer = make_catalog(db, merchant.id, [COATS, KITCHEN, SUMMER])
    return merchant, coats, kitchen, summer


def test_warm_jacket_for_rain_finds_waterproof_coats(client, shop) -> None:  # type: ignore[no-untyped-def]
    merchant, coats, _, _ = shop
    r = client.get("/search", params={"q": "warm jacket for rain", "merchant_id": str(merchant.id)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == "hybrid"
    top = [i["product"]["id"] for i in body["items"][:3]]
    assert set(top) == {str(c) for c in coats}


def test_modes(client, shop) -> None:  # type: ignore[no-untyped-def]
    merchant, _, kitchen, _ = shop
    m = str(merchant.id)
    semantic = client.get(
        "/search",
        params={"q": "something to cook dinner with", "mode": "semantic", "merchant_id": m},
    ).json()
    assert semantic["items"][0]["product"]["id"] in {str(k) for k in kitchen}
    assert all(i["matched"] == "semantic" and i["keyword_rank"] is None for i in semantic["items"])
    keyword = client.get(
        "/search", params={"q": "skillet", "mode": "keyword", "merchant_id": m}
    ).json()
    assert [i["product"]["id"] for i in keyword["items"]] == [str(kitchen[2])]
    assert keyword["items"][0]["matched"] == "keyword"
    hybrid = client.get("/search", params={"q": "skillet", "merchant_id": m}).json()
    assert hybrid["items"][0]["product"]["id"] == str(kitchen[2])
    assert hybrid["items"][0]["matched"] == "both"


def test_only_sellable_products(client, db, shop) -> None:  # type: ignore[no-untyped-def]
    from tests.catalog_helpers import create_product

    merchant, _, _, _ = shop
    create_product(db, merchant.id, title="Draft Rain Cape", status="draft", tags=["waterproof"])
    from plaza.personas.recommend.embeddings import embed_products

    embed_products(db)
    body = client.get("/search", params={"q": "rain cape", "merchant_id": str(merchant.id)}).json()
    assert "Draft Rain Cape" not in [i["product"]["title"] for i in body["items"]]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "x" * 201},
        {"q": "coat", "mode": "fuzzy"},
        {"q": "coat", "limit": 0},
        {"q": "coat", "limit": 51},
        {"q": "coat", "currency": "EURO"},
        {"q": "a\x00b"},
    ],
)
def test_bad_inputs(client, params) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/search", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == "/problems/validation-error"


def test_query_without_words_still_answers(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/search", params={"q": "!!!", "mode": "keyword"})
    assert r.status_code == 200 and r.json()["items"] == []


def test_answers_are_cached_until_the_catalog_or_its_embeddings_change(  # type: ignore[no-untyped-def]
    client, db, shop
) -> None:
    from plaza.catalog.cache import cache_for
    from plaza.personas.recommend.embeddings import embed_products
    from tests.catalog_helpers import create_product

    merchant, _, _, _ = shop
    params = {"q": "poncho for storms", "merchant_id": str(merchant.id), "mode": "semantic"}
    cache_for(db).clear()
    first = client.get("/search", params=params)
    assert first.status_code == 200 and first.headers["x-cache"] == "miss"
    again = client.get("/search", params=params)
    assert again.headers["x-cache"] == "hit" and again.json() == first.json()
    create_product(db, merchant.id, title="Storm Poncho", tags=["waterproof", "rain"])
    embed_products(db)  # a new vector must not be hidden by a cached answer
    titles = [i["product"]["title"] for i in client.get("/search", params=params).json()["items"]]
    assert "Storm Poncho" in titles
