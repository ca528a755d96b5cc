"""GET /me/personas/{id}/products: filtered and ranked for the persona, cursor-paginated."""

from __future__ import annotations

import uuid

import pytest

from plaza.catalog import service as catalog
from plaza.catalog.schemas import CategoryIn
from plaza.personas.recommend import service
from tests.factories import unique
from tests.personas.test_recommend_helpers import COATS, KITCHEN, SUMMER, make_catalog, persona


@pytest.fixture
def shop(db, factory):  # type: ignore[no-untyped-def]
    service.clear_caches()
    merchant = factory.merchant()
    with db.transaction() as s:
        slug = unique("cat")
        category = catalog.create_category(s, CategoryIn(slug=slug, name="Test"))
        cid = category.id
    groups = make_catalog(db, merchant.id, [COATS, KITCHEN, SUMMER], category_id=cid)
    return merchant, slug, groups


def _walk(client, url: str, headers: dict[str, str]) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    items: list[dict] = []  # type: ignore[type-arg]
    cursor = None
    for _ in range(50):
        r = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=headers)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("no last page")


def test_filtered_ranked_and_paginated(client, db, factory, shop) -> None:  # type: ignore[no-untyped-def]
    _, slug, (coats, kitchen, _) = shop
    me = factory.user()
    pid = persona(db, me.id, materials_avoid=["oak"], sustainability="prefer")
    items = _walk(client, f"/me/personas/{pid}/products?category={slug}&limit=2", me.headers)
    ids = [i["product"]["id"] for i in items]
    assert len(ids) == len(set(ids)) == 7  # 8 products, the oak board excluded
    assert str(kitchen[1]) not in ids
    # Sustainable (organic) first: the persona's bonus lifts it.
    assert ids[0] == str(coats[2]) and items[0]["matches_persona"] is True
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)


def test_search_within_persona(client, db, factory, shop) -> None:  # type: ignore[no-untyped-def]
    _, slug, (coats, _, _) = shop
    me = factory.user()
    pid = persona(db, me.id, materials_avoid=["waterproof"])
    r = client.get(
        f"/me/personas/{pid}/products?q=coat for rain&category={slug}", headers=me.headers
    )
    assert r.status_code == 200, r.text
    ids = [i["product"]["id"] for i in r.json()["items"]]
    assert ids[0] == str(coats[2])  # the waterproof ones are excluded
    assert str(coats[0]) not in ids and str(coats[1]) not in ids


def test_bad_inputs_and_tenancy(client, db, factory, shop) -> None:  # type: ignore[no-untyped-def]
    me, other = factory.user(), factory.user()
    pid = persona(db, me.id)
    theirs = persona(db, other.id)
    assert client.get(f"/me/personas/{theirs}/products", headers=me.headers).status_code == 404
    r = client.get(f"/me/personas/{uuid.uuid4()}/products", headers=me.headers)
    assert r.status_code == 404 and r.json()["type"] == "/problems/not-found"
    for q in ("limit=0", "limit=101", "currency=xx"):
        r = client.get(f"/me/personas/{pid}/products?{q}", headers=me.headers)
        assert r.status_code == 422, q
    r = client.get(f"/me/personas/{pid}/products?cursor=garbage", headers=me.headers)
    assert r.status_code == 400 and r.json()["type"] == "/problems/invalid-cursor"
    # A cursor of one persona's listing does not work on another's.
    mine2 = persona(db, me.id)
    first = client.get(f"/me/personas/{pid}/products?limit=1", headers=me.headers).json()
    if first["next_cursor"]:
        r = client.get(
            f"/me/personas/{mine2}/products?limit=1&cursor={first['next_cursor']}",
            headers=me.headers,
        )
        assert r.status_code == 400
    assert client.get(f"/me/personas/{pid}/products").status_code == 401
