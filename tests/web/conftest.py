"""Page tests: a TestClient that behaves like a browser (asks for HTML, keeps cookies)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from ..factories import PASSWORD

BROWSER_HEADERS = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def web_client(app) -> TestClient:  # type: ignore[no-untyped-def]
    """A fresh browser: no cookies, asks for HTML (so problems render as pages)."""
    return TestClient(
        app, raise_server_exceptions=False, headers=BROWSER_HEADERS, follow_redirects=False
    )


def sign_in_web(client: TestClient, email: str, password: str = PASSWORD) -> None:
    """Sign ``client`` in through the sign-in form (sets the session cookie)."""
    r = client.post("/shop/sign-in", data={"email": email, "password": password, "next": "/shop"})
    assert r.status_code == 303, r.text
    assert client.cookies.get("plaza_session")


def csrf_of(html: str) -> str:
    """The CSRF token a page embeds for its forms (signed-in pages only)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'"X-CSRF-Token": "([^"]+)"', html
    )
    assert found, "the page carries no CSRF token"
    return found.group(1)
