"""Page weight budgets (docs/web.md): what a storefront page makes a phone download.

- JavaScript referenced by a storefront page: at most 60 KiB gzip-compressed in total
  (htmx, vendored, and ``static/app.js``; nothing from elsewhere).
- CSS: at most 20 KiB gzip-compressed.
- The home page is rendered on the server: product titles are in the HTML, no JS needed.
"""

from __future__ import annotations

import gzip
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from plaza.db import Database

from ..catalog_helpers import create_product
from ..factories import Factory

JS_BUDGET = 60 * 1024
CSS_BUDGET = 20 * 1024
STOREFRONT_PAGES = ("/shop", "/shop/sign-in", "/shop/categories", "/shop/search?q=socks")


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        elif tag == "link" and "stylesheet" in a.get("rel", "").split() and a.get("href"):
            self.styles.append(a["href"])


def assets_of(html: str) -> _Assets:
    found = _Assets()
    found.feed(html)
    return found


def gzipped_size(client: TestClient, urls: list[str]) -> int:
    total = 0
    for url in urls:
        assert url.startswith("/static/"), f"{url}: pages load only what Plaza serves"
        r = client.get(url)
        assert r.status_code == 200, url
        total += len(gzip.compress(r.content, compresslevel=9))
    return total


@pytest.mark.parametrize("path", STOREFRONT_PAGES)
def test_storefront_pages_stay_within_the_js_and_css_budgets(
    web_client: TestClient, path: str
) -> None:
    r = web_client.get(path)
    assert r.status_code == 200, r.text[:500]
    assets = assets_of(r.text)
    js = gzipped_size(web_client, assets.scripts)
    css = gzipped_size(web_client, assets.styles)
    print(f"{path}: JS {js / 1024:.1f} KiB gz, CSS {css / 1024:.1f} KiB gz")
    assert assets.scripts, "the page loads htmx and app.js"
    assert js <= JS_BUDGET, f"{path}: {js / 1024:.1f} KiB of gzipped JS (budget 60 KiB)"
    assert css <= CSS_BUDGET, f"{path}: {css / 1024:.1f} KiB of gzipped CSS (budget 20 KiB)"


def test_the_home_page_is_rendered_on_the_server(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    merchant = factory.merchant()
    title = f"Budget Wool Scarf {merchant.slug[-6:]}"
    create_product(db, merchant.id, title=title)
    r = web_client.get("/shop")
    assert r.status_code == 200
    # No JS ran: the titles are in the HTML the server sent.
    assert title in r.text, "the home page lists products (new arrivals) in its HTML"


def test_static_assets_are_cached_for_a_long_time(web_client: TestClient) -> None:
    assets = assets_of(web_client.get("/shop").text)
    for url in assets.scripts + assets.styles:
        assert "?v=" in url, f"{url}: asset URLs carry their content hash"
        r = web_client.get(url)
        assert "immutable" in r.headers.get("cache-control", ""), url
