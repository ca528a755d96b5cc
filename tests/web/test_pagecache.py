"""Anonymous browse pages come from the page cache; anything personal never does."""

from __future__ import annotations

from fastapi.testclient import TestClient

from plaza.catalog import service as catalog
from plaza.catalog.schemas import ProductPatch
from plaza.db import Database

from ..catalog_helpers import create_product
from ..factories import Factory
from .conftest import sign_in_web


def test_anonymous_search_is_served_from_the_cache_until_the_catalog_changes(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    merchant = factory.merchant()
    word = f"zq{merchant.slug[-8:]}"
    product_id, _ = create_product(db, merchant.id, title=f"Parka {word}")
    url = f"/shop/search?q={word}&mode=keyword"
    first = web_client.get(url)
    assert first.status_code == 200 and f"Parka {word}" in first.text
    again = web_client.get(url)
    assert again.headers.get("x-cache") == "hit"
    assert again.text == first.text
    assert again.headers["content-security-policy"] == first.headers["content-security-policy"]
    with db.transaction() as s:
        catalog.update_product(s, merchant.id, product_id, ProductPatch(title=f"Anorak {word}"))
    fresh = web_client.get(url)
    assert fresh.headers.get("x-cache") != "hit"
    assert f"Anorak {word}" in fresh.text


def test_signed_in_pages_are_never_cached(web_client: TestClient, factory: Factory) -> None:
    sign_in_web(web_client, factory.user().email)
    web_client.get("/shop/categories")
    r = web_client.get("/shop/categories")
    assert r.headers.get("x-cache") != "hit"
    assert "X-CSRF-Token" in r.text  # the signed-in page, with its own token


def test_fragments_and_pages_are_kept_apart(web_client: TestClient) -> None:
    page = web_client.get("/shop/search?q=socks")
    htmx = {"HX-Request": "true", "HX-Target": "search-results"}
    fragment = web_client.get("/shop/search?q=socks", headers=htmx)
    again = web_client.get("/shop/search?q=socks", headers=htmx)
    assert "<html" in page.text and "<html" not in fragment.text and "<html" not in again.text
