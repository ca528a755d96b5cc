"""The installable storefront: manifest, icons, service worker and offline page."""

from __future__ import annotations

import json
import re
import struct

from fastapi.testclient import TestClient

from plaza.web.render import static_url

from ..factories import Factory
from .conftest import sign_in_web


def test_manifest_is_a_valid_web_app_manifest(web_client: TestClient) -> None:
    r = web_client.get("/shop/manifest.webmanifest")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/manifest+json")
    m = json.loads(r.text)
    assert m["name"] == "Plaza" and m["short_name"] == "Plaza"
    assert m["display"] == "standalone"
    assert m["start_url"] == "/shop"
    # start_url must lie inside the scope, or browsers ignore the scope.
    assert m["start_url"].startswith(m["scope"]) and m["scope"].startswith("/shop")
    assert re.fullmatch(r"#[0-9a-f]{6}", m["theme_color"])
    assert re.fullmatch(r"#[0-9a-f]{6}", m["background_color"])
    sizes = {i["sizes"] for i in m["icons"]}
    assert {"any", "192x192", "512x512"} <= sizes
    assert any("maskable" in i.get("purpose", "") for i in m["icons"])
    for item in m["icons"]:
        icon = web_client.get(item["src"])
        assert icon.status_code == 200, item
        assert icon.headers["content-type"].startswith(item["type"])


def test_png_icons_have_their_declared_size(web_client: TestClient) -> None:
    for size in (192, 512):
        r = web_client.get(f"/shop/icons/icon-{size}.png")
        assert r.status_code == 200
        assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", r.content[16:24])
        assert (width, height) == (size, size)
    assert web_client.get("/shop/icons/icon-64.png").status_code == 404


def test_service_worker_headers_and_precache(web_client: TestClient) -> None:
    r = web_client.get("/shop/sw.js")
    assert r.status_code == 200
    assert "javascript" in r.headers["content-type"]
    assert r.headers["service-worker-allowed"] == "/shop"
    assert r.headers["cache-control"] == "no-cache"
    # The worker's own policy must let it fetch from Plaza (or its install fails).
    assert "connect-src 'self'" in r.headers["content-security-policy"]
    config = json.loads(r.text.split("const CONFIG = ", 1)[1].split(";\n", 1)[0])
    precache = config["precache"]
    for url in (
        "/shop/offline",
        static_url("app.css"),
        static_url("app.js"),
        static_url("icon.svg"),
    ):
        assert url in precache and url in r.text
    assert any("/static/vendor/htmx-" in u and "?v=" in u for u in precache)
    for url in precache:
        assert web_client.get(url).status_code == 200, url
    never = config["neverCache"]
    for private in ("/shop/cart", "/shop/checkout", "/shop/account", "/shop/orders"):
        assert private in never
    assert config["productPrefix"] == "/shop/products/" and config["recentProducts"] == 20
    assert 'request.method !== "GET"' in r.text  # POSTs are never cached


def test_offline_page_carries_nothing_personal(web_client: TestClient, factory: Factory) -> None:
    user = factory.user()
    sign_in_web(web_client, user.email)
    r = web_client.get("/shop/offline")
    assert r.status_code == 200
    assert "You are offline" in r.text
    assert "csrf" not in r.text.lower()
    assert 'href="/shop/account"' not in r.text  # the signed-out layout
