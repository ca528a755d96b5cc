"""Platform admins configure single sign-on providers; secrets never come back out."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from plaza.identity import oidc_service
from plaza.identity.models import SsoIdentity, SsoProvider, User

from ..core.helpers import problem
from ..factories import unique

SECRET = "s3cret-client-secret-value"


def body(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": unique("kc"),
        "display_name": "Keycloak",
        "issuer": "https://login.example.com/realms/shop",
        "client_id": "plaza",
        "client_secret": SECRET,
        "redirect_uris": ["https://shop.example.com/signed-in"],
    }
    data.update(over)
    return data


@pytest.fixture
def admin(factory) -> dict[str, str]:
    return factory.platform_admin().headers


def test_create_read_list_and_never_return_the_secret(client, admin, db):
    r = client.post("/sso/providers", json=body(scopes=["email"]), headers=admin)
    assert r.status_code == 201, r.text
    created = r.json()
    assert SECRET not in r.text and "client_secret" not in created
    assert created["has_client_secret"] is True
    assert created["token_auth_method"] == "client_secret_basic"
    assert created["scopes"] == ["openid", "email"]  # openid is always asked for
    assert created["enabled"] is True and created["trust_email"] is False
    assert created["callback_url"] == f"http://testserver/auth/sso/{created['slug']}/callback"

    got = client.get(f"/sso/providers/{created['id']}", headers=admin)
    assert got.status_code == 200 and got.json() == created and SECRET not in got.text
    listed = client.get("/sso/providers", params={"limit": 100}, headers=admin)
    assert SECRET not in listed.text
    assert created["id"] in {p["id"] for p in listed.json()["items"]}

    # Stored encrypted (keyed from PLAZA_SECRET_KEY), and readable by Plaza itself.
    with db.reading() as s:
        row = s.get(SsoProvider, uuid.UUID(created["id"]))
        assert row is not None and row.client_secret_enc and SECRET not in row.client_secret_enc
        assert oidc_service.client_config(row).client_secret == SECRET


def test_a_public_client_has_no_secret(client, admin):
    r = client.post("/sso/providers", json=body(client_secret=None), headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["token_auth_method"] == "none" and r.json()["has_client_secret"] is False


def test_only_platform_admins(client, factory):
    customer = factory.user().headers
    pid = uuid.uuid4()
    calls = [
        ("GET", "/sso/providers", None),
        ("POST", "/sso/providers", body()),
        ("GET", f"/sso/providers/{pid}", None),
        ("PATCH", f"/sso/providers/{pid}", {"enabled": False}),
        ("DELETE", f"/sso/providers/{pid}", None),
    ]
    for method, url, payload in calls:
        problem(client.request(method, url, json=payload), 401, "unauthenticated")
        problem(client.request(method, url, json=payload, headers=customer), 403, "forbidden")


@pytest.mark.parametrize(
    "change",
    [
        {"issuer": "http://login.example.com"},  # plain http off the loopback interface
        {"issuer": "https://login.example.com/#frag"},
        {"issuer": "https://login.example.com/?q=1"},
        {"issuer": "ftp://login.example.com"},
        {"redirect_uris": ["javascript:alert(1)"]},
        {"redirect_uris": ["myapp:/cb"]},  # private-use schemes are reverse-domain
        {"redirect_uris": ["http://shop.example.com/cb"]},
        {"redirect_uris": ["https://shop.example.com/cb#x"]},
        {"scopes": ["openid email"]},
        {"scopes": []},
        {"slug": "Not A Slug"},
        {"token_auth_method": "none"},  # with a secret
        {"client_secret": None, "token_auth_method": "client_secret_post"},
        {"client_id": ""},
        {"display_name": "x" * 101},
        {"is_admin": True},
    ],
)
def test_invalid_configurations_are_422(client, admin, change):
    problem(
        client.post("/sso/providers", json=body(**change), headers=admin), 422, "validation-error"
    )


def test_loopback_http_and_app_schemes_are_accepted(client, admin):
    r = client.post(
        "/sso/providers",
        json=body(
            issuer="http://127.0.0.1:8080/realms/dev",
            redirect_uris=["http://localhost:3000/cb", "com.example.shop:/sso"],
        ),
        headers=admin,
    )
    assert r.status_code == 201, r.text


def test_duplicate_slug_is_409(client, admin):
    data = body()
    assert client.post("/sso/providers", json=data, headers=admin).status_code == 201
    problem(client.post("/sso/providers", json=data, headers=admin), 409, "sso-provider-exists")


def test_patch_rotates_the_secret_and_switches_off(client, admin, db):
    created = client.post("/sso/providers", json=body(), headers=admin).json()
    url = f"/sso/providers/{created['id']}"
    r = client.patch(url, json={"client_secret": "rotated-secret", "enabled": False}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is False and "rotated-secret" not in r.text
    with db.reading() as s:
        row = s.get(SsoProvider, uuid.UUID(created["id"]))
        assert row is not None
        assert oidc_service.client_config(row).client_secret == "rotated-secret"

    # Becoming a public client drops the secret.
    r = client.patch(url, json={"token_auth_method": "none"}, headers=admin)
    assert r.status_code == 200 and r.json()["has_client_secret"] is False
    # A confidential method needs a secret again.
    r = client.patch(url, json={"token_auth_method": "client_secret_post"}, headers=admin)
    problem(r, 422, "validation-error")
    for bad in ({"display_name": None}, {"issuer": "https://elsewhere.example.com"}, {"slug": "x"}):
        problem(client.patch(url, json=bad, headers=admin), 422, "validation-error")
    problem(
        client.patch(f"/sso/providers/{uuid.uuid4()}", json={}, headers=admin), 404, "not-found"
    )


def test_delete_removes_the_links_but_not_the_accounts(client, admin, db, factory):
    created = client.post("/sso/providers", json=body(), headers=admin).json()
    pid = uuid.UUID(created["id"])
    person = factory.user()
    with db.transaction() as s:
        s.add(SsoIdentity(user_id=person.id, provider_id=pid, subject="abc", email=person.email))
    assert client.delete(f"/sso/providers/{pid}", headers=admin).status_code == 204
    problem(client.get(f"/sso/providers/{pid}", headers=admin), 404, "not-found")
    problem(client.delete(f"/sso/providers/{pid}", headers=admin), 404, "not-found")
    with db.reading() as s:
        assert s.scalars(select(SsoIdentity).where(SsoIdentity.provider_id == pid)).all() == []
        assert s.get(User, person.id) is not None


def test_pages_and_the_public_list(client, admin):
    slugs = [unique("pg") for _ in range(3)]
    for slug in slugs:
        assert client.post("/sso/providers", json=body(slug=slug), headers=admin).status_code == 201
    hidden = body(enabled=False)
    assert client.post("/sso/providers", json=hidden, headers=admin).status_code == 201

    seen: list[str] = []
    cursor = None
    for _ in range(50):  # bounded walk through every page of two
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/sso/providers", params=params, headers=admin).json()
        assert len(page["items"]) <= 2
        seen += [p["slug"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert set(slugs) | {hidden["slug"]} <= set(seen) and len(seen) == len(set(seen))

    public = client.get("/auth/sso/providers", params={"limit": 100})
    assert public.status_code == 200
    shown = {p["slug"]: p for p in public.json()["items"]}
    assert set(slugs) <= set(shown) and hidden["slug"] not in shown
    assert shown[slugs[0]]["authorize_path"] == f"/auth/sso/{slugs[0]}/authorize"
    assert "client_id" not in shown[slugs[0]] and "issuer" not in shown[slugs[0]]
    problem(
        client.get("/auth/sso/providers", params={"cursor": page["next_cursor"] or "x"}),
        400,
        "invalid-cursor",
    )
