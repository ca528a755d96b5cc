"""Signing in and out of the pages; web sessions; problems as pages for browsers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from plaza.db import Database
from plaza.identity import sessions

from ..factories import PASSWORD, Factory
from .conftest import csrf_of, sign_in_web


def test_sign_in_page_has_labelled_fields(web_client: TestClient) -> None:
    r = web_client.get("/shop/sign-in")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert '<label for="email">Email' in r.text and '<label for="password">Password' in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]


def test_wrong_password_says_so_and_sets_no_session(
    web_client: TestClient, factory: Factory
) -> None:
    user = factory.user()
    r = web_client.post("/shop/sign-in", data={"email": user.email, "password": "nope-nope-nope"})
    assert r.status_code == 401
    assert "The email or password is not right." in r.text
    assert not web_client.cookies.get("plaza_session")


def test_sign_in_then_out_ends_the_session(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    user = factory.user()
    sign_in_web(web_client, user.email)
    cookie = web_client.cookies["plaza_session"]
    with db.reading() as s:
        assert sessions.user_for_session(s, cookie) is not None
    page = web_client.get("/back-office")  # any signed-in page: carries the CSRF token
    assert page.status_code == 200
    # Unsafe requests from a signed-in browser need the token.
    assert web_client.post("/shop/sign-out").status_code == 403
    r = web_client.post("/shop/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    with db.reading() as s:
        assert sessions.user_for_session(s, cookie) is None


def test_next_only_goes_to_this_site(web_client: TestClient, factory: Factory) -> None:
    user = factory.user()
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        fresh = TestClient(web_client.app, headers=dict(web_client.headers), follow_redirects=False)
        r = fresh.post(
            "/shop/sign-in", data={"email": user.email, "password": PASSWORD, "next": evil}
        )
        assert r.status_code in (303, 401)
        if r.status_code == 303:
            assert r.headers["location"] == "/shop"


def test_anonymous_page_request_redirects_to_sign_in(
    web_client: TestClient, factory: Factory
) -> None:
    merchant = factory.merchant()
    r = web_client.get(f"/back-office/{merchant.id}")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/shop/sign-in?next=%2Fback-office%2F")


def test_api_clients_still_get_problem_json(client: TestClient, factory: Factory) -> None:
    merchant = factory.merchant()
    r = client.get(f"/back-office/{merchant.id}")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


def test_other_merchant_back_office_is_forbidden(web_client: TestClient, factory: Factory) -> None:
    mine, theirs = factory.merchant(), factory.merchant()
    sign_in_web(web_client, mine.admin.email)
    assert web_client.get(f"/back-office/{mine.id}").status_code == 200
    r = web_client.get(f"/back-office/{theirs.id}")
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"]


def test_register_validates_and_signs_in(web_client: TestClient) -> None:
    r = web_client.post("/shop/register", data={"email": "not-an-email", "password": "short"})
    assert r.status_code == 422
    assert 'aria-invalid="true"' in r.text
    r = web_client.post(
        "/shop/register",
        data={"email": "new.person@example.com", "password": "long-enough-password", "name": "New"},
    )
    assert r.status_code == 303
    assert web_client.cookies.get("plaza_session")


def test_static_assets_are_cached_long(web_client: TestClient) -> None:
    r = web_client.get("/static/app.css")
    assert r.status_code == 200
    assert "immutable" in r.headers["cache-control"]


def test_image_origins_widen_the_page_csp_only_for_images() -> None:
    from plaza.config import Settings
    from plaza.web.render import page_csp

    settings = Settings(image_origins=["https://cdn.example.com/path"])
    csp = page_csp(settings)
    assert "img-src 'self' data: https://cdn.example.com;" in csp
    assert "script-src 'self';" in csp


def test_sign_in_from_another_site_is_refused(web_client: TestClient, factory: Factory) -> None:
    """Login CSRF: another site's form must not sign the visitor into the attacker's account."""
    user = factory.user()
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        r = web_client.post(
            "/shop/sign-in",
            data={"email": user.email, "password": PASSWORD},
            headers=headers,
        )
        assert r.status_code == 403, headers
        assert r.json()["type"].endswith("/csrf-failed")
        assert not web_client.cookies.get("plaza_session")


def test_a_closed_merchant_does_not_break_the_others_back_office(
    web_client: TestClient, factory: Factory, db: Database
) -> None:
    from plaza.identity import service as identity
    from plaza.identity.models import MerchantRole

    open_shop, closed_shop = factory.merchant(), factory.merchant()
    person = factory.staff(open_shop)
    with db.transaction() as s:
        identity.set_member(s, closed_shop.id, person.email, MerchantRole.STAFF)
        identity.update_merchant(s, closed_shop.id, {"is_active": False})
    sign_in_web(web_client, person.email)
    r = web_client.get("/back-office")
    assert r.status_code == 303 and r.headers["location"] == f"/back-office/{open_shop.id}"
    page = web_client.get(f"/back-office/{open_shop.id}")
    assert page.status_code == 200
    assert closed_shop.slug.title() not in page.text


def test_static_assets_stay_cacheable_for_signed_in_browsers(
    web_client: TestClient, factory: Factory
) -> None:
    sign_in_web(web_client, factory.user().email)
    r = web_client.get("/static/app.css")
    assert "immutable" in r.headers["cache-control"]
    assert web_client.get("/shop/account").headers["cache-control"] == "no-store"


def test_a_guests_cart_and_checkout_are_never_stored(web_client: TestClient) -> None:
    for path in ("/shop/cart", "/shop/checkout"):
        r = web_client.get(path, follow_redirects=True)
        assert r.headers.get("cache-control") == "no-store", path
