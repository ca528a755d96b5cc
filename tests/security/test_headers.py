"""Security headers on every kind of response, including 413s, 405s and unexpected 500s."""

from __future__ import annotations

import re

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from plaza.identity.auth import Principal, Public
from plaza.security.headers import API_CSP, script_hashes
from tests.core.helpers import problem

BASELINE = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


def assert_hardened(r) -> None:  # type: ignore[no-untyped-def]
    for name, value in BASELINE.items():
        assert r.headers.get(name) == value, (r.request.url, name)
    assert r.headers["content-security-policy"] == API_CSP
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


@pytest.fixture
def boom_client(make_app):  # type: ignore[no-untyped-def]
    app = make_app(max_request_bytes=1024, hsts=True, hsts_max_age_seconds=600)

    def boom(_: Principal = Depends(Public())) -> dict[str, str]:
        raise RuntimeError("unexpected")

    app.add_api_route("/_test/boom", boom, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_every_kind_of_response_is_hardened(boom_client, factory):
    c = boom_client
    user = factory.user()
    responses = {
        "200": c.get("/healthz"),
        "401": c.get("/me"),
        "404": c.get("/no/such/route"),
        "405": c.delete("/healthz"),
        "413": c.post("/auth/register", content=b"{" + b" " * 2048 + b"}"),
        "422": c.post("/auth/register", json={}),
        "500": c.get("/_test/boom"),
        "openapi": c.get("/openapi.json"),
        "auth": c.get("/me", headers=user.headers),
    }
    assert {k: r.status_code for k, r in responses.items()} == {
        "200": 200,
        "401": 401,
        "404": 404,
        "405": 405,
        "413": 413,
        "422": 422,
        "500": 500,
        "openapi": 200,
        "auth": 200,
    }
    problem(responses["500"], 500, "internal-error")
    for r in responses.values():
        assert_hardened(r)
        assert r.headers["strict-transport-security"] == "max-age=600; includeSubDomains"


def test_hsts_is_off_by_default(client):
    assert "strict-transport-security" not in client.get("/healthz").headers


def test_credentialed_and_unsafe_responses_are_not_cached(client, factory):
    user = factory.user()
    key_shop = factory.merchant()
    key = factory.api_key(key_shop, ["catalog:read"])
    assert client.get("/me", headers=user.headers).headers["cache-control"] == "no-store"
    r = client.get(f"/merchants/{key_shop.id}/products", headers={"X-API-Key": key})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    # A failed credential, a session cookie, and a token response are not cached either.
    assert client.get("/me", headers={"Authorization": "Bearer x"}).headers["cache-control"] == (
        "no-store"
    )
    assert client.get("/healthz", headers={"Cookie": "plaza_session=s1"}).headers[
        "cache-control"
    ] == ("no-store")
    r = client.post("/auth/token", json={"email": user.email, "password": "correct horse battery"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    # Anonymous reads of public data stay cacheable.
    assert "cache-control" not in client.get("/merchants").headers


def test_docs_pages_allow_their_cdn_and_only_their_own_inline_scripts(client):
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        inline = script_hashes(r.content)
        assert all(h in csp for h in inline)
        assert r.headers["x-frame-options"] == "DENY"
    swagger = client.get("/docs")
    assert len(script_hashes(swagger.content)) == 1  # the page's one inline script
    assert re.search(
        r"script-src https://cdn\.jsdelivr\.net 'sha256-[A-Za-z0-9+/=]+'",
        swagger.headers["content-security-policy"],
    )
    # The API's own responses keep the strict policy.
    assert client.get("/openapi.json").headers["content-security-policy"] == API_CSP
