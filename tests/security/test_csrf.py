"""CSRF protection of requests authenticated by the session cookie, on a test-only route
mounted in the real app (web pages arrive later; the protection is in place now)."""

from __future__ import annotations

import pytest
from fastapi import Depends, Request
from fastapi.testclient import TestClient

from plaza.identity.auth import Principal, Public
from plaza.security.csrf import csrf_token, csrf_token_matches
from tests.core.helpers import problem

SESSION = "s3ss10n-value"
SECRET = "k" * 48


@pytest.fixture
def web(make_app):  # type: ignore[no-untyped-def]
    app = make_app(
        secret_key=SECRET,
        session_cookie_name="plaza_session",
        csrf_trusted_origins=["https://shop.example.org"],
        max_request_bytes=4096,
    )

    async def submit(request: Request, _: Principal = Depends(Public())) -> dict[str, str]:
        # Echo the body: proves a form read by the CSRF check still reaches the handler.
        return {"body": (await request.body()).decode()}

    app.add_api_route("/_test/web/submit", submit, methods=["POST", "GET"])
    client = TestClient(app, raise_server_exceptions=False, base_url="http://testserver")
    client.cookies.set("plaza_session", SESSION)
    return client


TOKEN = csrf_token(SESSION, SECRET)
PATH = "/_test/web/submit"


def refused(r, reason: str) -> None:  # type: ignore[no-untyped-def]
    body = problem(r, 403, "csrf-failed")
    assert reason in body["detail"]


def test_token_helpers():
    assert csrf_token_matches(SESSION, TOKEN, SECRET)
    assert not csrf_token_matches("another-session", TOKEN, SECRET)
    assert not csrf_token_matches(SESSION, TOKEN, "j" * 48)
    assert not csrf_token_matches(SESSION, TOKEN[:-1], SECRET)
    assert csrf_token(SESSION, SECRET) == TOKEN  # stable for the session: pages can embed it


def test_cookie_authenticated_writes_need_the_token(web):
    refused(web.post(PATH, json={"a": 1}), "missing")
    refused(web.post(PATH, json={"a": 1}, headers={"X-CSRF-Token": "forged"}), "does not match")
    other = csrf_token("someone-elses-session", SECRET)
    refused(web.post(PATH, json={}, headers={"X-CSRF-Token": other}), "does not match")
    r = web.post(PATH, json={"a": 1}, headers={"X-CSRF-Token": TOKEN})
    assert r.status_code == 200 and r.json() == {"body": '{"a":1}'}
    # Safe methods are never checked.
    assert web.get(PATH).status_code == 200


def test_the_token_may_come_in_a_urlencoded_form(web):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = web.post(PATH, content=f"name=ada&csrf_token={TOKEN}", headers=form)
    assert r.status_code == 200 and r.json()["body"] == f"name=ada&csrf_token={TOKEN}"
    refused(web.post(PATH, content="name=ada&csrf_token=nope", headers=form), "does not match")
    refused(web.post(PATH, content="name=ada", headers=form), "missing")
    # The body limit still holds for a form read by the check.
    big = "name=" + "x" * 5000
    problem(web.post(PATH, content=big, headers=form), 413, "payload-too-large")


def test_cross_site_requests_are_refused_even_with_the_token(web):
    ok = {"X-CSRF-Token": TOKEN}
    for site in ("cross-site", "same-site"):
        r = web.post(PATH, json={}, headers={**ok, "Sec-Fetch-Site": site})
        refused(r, "another site")
    for origin in ("https://evil.example", "null", "http://testserver.evil.example"):
        refused(web.post(PATH, json={}, headers={**ok, "Origin": origin}), "Origin")
    for headers in (
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": "https://shop.example.org"},  # a trusted origin (PLAZA_CSRF_TRUSTED_ORIGINS)
    ):
        assert web.post(PATH, json={}, headers={**ok, **headers}).status_code == 200, headers


def test_requests_not_authenticated_by_the_cookie_are_not_checked(web, factory):
    anonymous = TestClient(web.app, raise_server_exceptions=False)
    assert anonymous.post(PATH, json={}).status_code == 200
    # A bearer token or API key authenticates instead of the cookie: a browser never adds
    # those to a forged cross-site request, so there is nothing to ride on.
    user = factory.user()
    assert web.post(PATH, json={}, headers=user.headers).status_code == 200
    key = factory.api_key(factory.merchant(), ["catalog:read"])
    assert web.post(PATH, json={}, headers={"X-API-Key": key}).status_code == 200
    # Another cookie is not the session.
    other = TestClient(web.app, raise_server_exceptions=False)
    other.cookies.set("theme", "dark")
    assert other.post(PATH, json={}).status_code == 200
