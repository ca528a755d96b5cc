"""The customer's account page and their personas and profile pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from plaza.identity.models import MerchantRole

from ..factories import Factory
from .conftest import csrf_of, sign_in_web


def test_account_needs_sign_in(web_client: TestClient) -> None:
    for path in ("/shop/account", "/shop/account/personas", "/shop/account/personas/new"):
        r = web_client.get(path)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/shop/sign-in?next=")


def test_account_page_links(web_client: TestClient, factory: Factory) -> None:
    user = factory.user()
    sign_in_web(web_client, user.email)
    r = web_client.get("/shop/account")
    assert r.status_code == 200
    assert user.email in r.text
    assert '<a href="/shop/orders">My orders</a>' in r.text
    assert '<a href="/shop/account/personas">My personas</a>' in r.text
    assert 'action="/shop/sign-out"' in r.text and "Sign out</button>" in r.text
    assert "Back-office" not in r.text and "Store staff" not in r.text
    r = web_client.post("/shop/sign-out", data={"csrf_token": csrf_of(r.text)})
    assert r.status_code == 303


def test_members_see_back_office_and_staff_links(web_client: TestClient, factory: Factory) -> None:
    merchant = factory.merchant()
    staff = factory.staff(merchant, MerchantRole.STAFF)
    sign_in_web(web_client, staff.email)
    r = web_client.get("/shop/account")
    assert '<a href="/back-office">Back-office</a>' in r.text
    assert f'<a href="/staff/{merchant.id}">Store staff</a>' in r.text


def test_personas_create_edit_delete(web_client: TestClient, factory: Factory) -> None:
    user = factory.user()
    sign_in_web(web_client, user.email)
    page = web_client.get("/shop/account/personas/new")
    assert page.status_code == 200
    token = csrf_of(page.text)
    for label in ("Name", "Sizes", "Fit", "Colours you like", "Sustainability", "Budget per item"):
        assert f">{label}" in page.text
    # Errors sit next to their fields.
    r = web_client.post(
        "/shop/account/personas",
        data={
            "csrf_token": token,
            "name": "",
            "colours_prefer": "red",
            "colours_avoid": "Red",
            "budget_amount": "lots",
        },
    )
    assert r.status_code == 422
    assert 'id="name-error"' in r.text and 'id="budget_amount-error"' in r.text
    form = {
        "csrf_token": token,
        "name": "Sam",
        "relation": "child",
        "is_default": "on",
        "sizes": "128, 134",
        "fit": "regular",
        "colours_prefer": "Blue, green",
        "colours_avoid": "pink",
        "styles": "sporty",
        "sustainability": "prefer",
        "budget_amount": "39.95",
        "budget_currency": "eur",
    }
    r = web_client.post("/shop/account/personas", data=form)
    assert r.status_code == 303, r.text
    listing = web_client.get("/shop/account/personas")
    assert "Sam" in listing.text and "128, 134" in listing.text and "Default" in listing.text
    assert "39.95" in listing.text
    # The same name twice is refused next to the name.
    r = web_client.post("/shop/account/personas", data=form)
    assert r.status_code == 409 and 'id="name-error"' in r.text
    persona_id = re.search(r'href="/shop/account/personas/([0-9a-f-]{36})"', listing.text)
    assert persona_id
    url = f"/shop/account/personas/{persona_id.group(1)}"
    edit = web_client.get(url)
    assert edit.status_code == 200 and 'value="Sam"' in edit.text and 'value="39.95"' in edit.text
    r = web_client.post(url, data={**form, "name": "Sammy", "budget_amount": "", "fit": ""})
    assert r.status_code == 303
    listing = web_client.get("/shop/account/personas")
    assert "Sammy" in listing.text and "Budget per item</dt>" not in listing.text
    r = web_client.post(f"{url}/delete", data={"csrf_token": token})
    assert r.status_code == 303
    assert "You have no personas yet." in web_client.get("/shop/account/personas").text


def test_someone_elses_persona_is_not_found(web_client: TestClient, factory: Factory) -> None:
    owner, other = factory.user(), factory.user()
    sign_in_web(web_client, owner.email)
    token = csrf_of(web_client.get("/shop/account/personas/new").text)
    web_client.post("/shop/account/personas", data={"csrf_token": token, "name": "Me"})
    listing = web_client.get("/shop/account/personas").text
    found = re.search(r'href="(/shop/account/personas/[0-9a-f-]{36})"', listing)
    assert found
    fresh = TestClient(web_client.app, headers=dict(web_client.headers), follow_redirects=False)
    sign_in_web(fresh, other.email)
    assert fresh.get(found.group(1)).status_code == 404


def test_profile_validates_and_saves(web_client: TestClient, factory: Factory) -> None:
    user = factory.user()
    sign_in_web(web_client, user.email)
    token = csrf_of(web_client.get("/shop/account/personas").text)
    r = web_client.post(
        "/shop/account/profile",
        data={"csrf_token": token, "birth_date": "2999-01-01", "country": "Holland"},
    )
    assert r.status_code == 422
    assert 'id="birth_date-error"' in r.text and 'id="country-error"' in r.text
    r = web_client.post(
        "/shop/account/profile",
        data={"csrf_token": token, "birth_date": "1990-05-04", "country": "nl", "city": "Utrecht"},
    )
    assert r.status_code == 303
    page = web_client.get("/shop/account/personas").text
    assert 'value="1990-05-04"' in page and 'value="NL"' in page and 'value="Utrecht"' in page
