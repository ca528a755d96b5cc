"""Partner API keys: issue, list, revoke, authenticate, scopes and tenancy."""

from __future__ import annotations

import uuid

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from plaza.db import Database
from plaza.http import install_error_handlers
from plaza.identity.auth import SCOPES, MerchantAccess, Principal
from plaza.identity.models import MerchantRole

from ..core.helpers import problem as _problem


@pytest.fixture(scope="module")
def probe(db: Database) -> TestClient:
    """A throwaway app whose merchant routes need a scope, so key checks do not depend on
    which other contexts exist yet."""
    app = FastAPI()
    app.state.db = db
    install_error_handlers(app)
    router = APIRouter()

    @router.get("/merchants/{merchant_id}/probe-read")
    def read(
        merchant_id: uuid.UUID,
        p: Principal = Depends(MerchantAccess(MerchantRole.STAFF, "catalog:read")),
    ) -> dict[str, str]:
        return {"actor": p.actor, "merchant": str(merchant_id)}

    @router.post("/merchants/{merchant_id}/probe-write")
    def write(
        merchant_id: uuid.UUID,
        p: Principal = Depends(MerchantAccess(MerchantRole.STAFF, "catalog:write")),
    ) -> dict[str, str]:
        return {"actor": p.actor}

    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False)


def _create(client, merchant, scopes, name="integration"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/merchants/{merchant.id}/api-keys",
        json={"name": name, "scopes": scopes},
        headers=merchant.admin.headers,
    )


def test_scopes_are_published(client):
    r = client.get("/api-scopes")
    assert r.status_code == 200 and r.json() == SCOPES


def test_secret_is_shown_once_and_never_listed(client, factory):
    m = factory.merchant()
    r = _create(client, m, ["catalog:read", "catalog:read", "orders:read"])
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["key"]
    assert secret.startswith("plz_") and created["prefix"] in secret
    assert created["scopes"] == ["catalog:read", "orders:read"]
    assert created["revoked_at"] is None

    r = client.get(f"/merchants/{m.id}/api-keys", headers=m.admin.headers)
    assert r.status_code == 200
    listed = r.json()
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0]
    assert secret not in r.text
    assert secret.split("_")[2] not in r.text


def test_unknown_or_missing_scopes_are_refused(client, factory):
    m = factory.merchant()
    problem = _problem(_create(client, m, ["catalog:read", "root:all"]), 422, "unknown-scope")
    assert "root:all" in problem["detail"] and problem["known"] == sorted(SCOPES)
    _problem(_create(client, m, []), 422, "validation-error")
    _problem(_create(client, m, ["catalog:read"], name=""), 422, "validation-error")
    assert client.get(f"/merchants/{m.id}/api-keys", headers=m.admin.headers).json() == []


def test_only_admins_manage_keys(client, factory):
    m = factory.merchant()
    staff = factory.staff(m)
    url = f"/merchants/{m.id}/api-keys"
    body = {"name": "k", "scopes": ["catalog:read"]}
    _problem(client.post(url, json=body), 401, "unauthenticated")
    _problem(client.post(url, json=body, headers=staff.headers), 403, "forbidden")
    _problem(client.get(url, headers=staff.headers), 403, "forbidden")
    key_id = _create(client, m, ["catalog:read"]).json()["id"]
    _problem(client.delete(f"{url}/{key_id}", headers=staff.headers), 403, "forbidden")


def test_key_authenticates_by_header_and_bearer(client, factory, probe):
    m = factory.merchant()
    created = _create(client, m, ["catalog:read"]).json()
    key = created["key"]
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        r = probe.get(f"/merchants/{m.id}/probe-read", headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["actor"] == f"api_key:{created['id']}"
    listed = client.get(f"/merchants/{m.id}/api-keys", headers=m.admin.headers).json()
    assert listed[0]["last_used_at"] is not None


def test_key_scope_and_merchant_are_enforced(client, factory, probe):
    a = factory.merchant()
    b = factory.merchant()
    key = factory.api_key(a, ["catalog:read"])
    h = {"X-API-Key": key}
    assert probe.get(f"/merchants/{a.id}/probe-read", headers=h).status_code == 200
    # Another merchant's path.
    _problem(probe.get(f"/merchants/{b.id}/probe-read", headers=h), 403, "forbidden")
    # A scope the key lacks.
    _problem(probe.post(f"/merchants/{a.id}/probe-write", headers=h), 403, "forbidden")
    writer = factory.api_key(a, ["catalog:write"])
    r = probe.post(f"/merchants/{a.id}/probe-write", headers={"X-API-Key": writer})
    assert r.status_code == 200


def test_key_cannot_call_rules_without_a_scope(client, factory):
    m = factory.merchant()
    key = factory.api_key(m, sorted(SCOPES))
    h = {"X-API-Key": key}
    # Merchant-admin routes declare no scope: keys never manage members or keys.
    _problem(client.get(f"/merchants/{m.id}/members", headers=h), 403, "forbidden")
    _problem(client.get(f"/merchants/{m.id}/api-keys", headers=h), 403, "forbidden")
    r = client.post(
        f"/merchants/{m.id}/api-keys", json={"name": "x", "scopes": ["catalog:read"]}, headers=h
    )
    _problem(r, 403, "forbidden")
    _problem(client.patch(f"/merchants/{m.id}", json={"name": "K"}, headers=h), 403, "forbidden")
    # Account routes need a signed-in person; platform routes a platform admin.
    _problem(client.get("/me", headers=h), 401, "unauthenticated")
    body = {"slug": "key-made", "name": "K", "kind": "brand", "admin_email": "a@example.com"}
    _problem(client.post("/merchants", json=body, headers=h), 403, "forbidden")
    # Public routes still answer.
    assert client.get("/healthz", headers=h).status_code == 200


def test_revocation_takes_effect_immediately(client, factory, probe):
    m = factory.merchant()
    created = _create(client, m, ["catalog:read"]).json()
    h = {"X-API-Key": created["key"]}
    assert probe.get(f"/merchants/{m.id}/probe-read", headers=h).status_code == 200

    url = f"/merchants/{m.id}/api-keys/{created['id']}"
    r = client.delete(url, headers=m.admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["revoked_at"] is not None
    _problem(probe.get(f"/merchants/{m.id}/probe-read", headers=h), 401, "unauthenticated")
    r = probe.get(
        f"/merchants/{m.id}/probe-read", headers={"Authorization": f"Bearer {created['key']}"}
    )
    _problem(r, 401, "unauthenticated")
    _problem(client.delete(url, headers=m.admin.headers), 409, "conflict")


def test_malformed_and_forged_keys(client, factory, probe):
    m = factory.merchant()
    real = factory.api_key(m, ["catalog:read"])
    prefix = real.split("_")[1]
    for bad in ("plz_", "plz_abc", "nope", f"plz_{prefix}_wrongsecret", f"{real}x", "plz_a_b_c"):
        r = probe.get(f"/merchants/{m.id}/probe-read", headers={"X-API-Key": bad})
        _problem(r, 401, "unauthenticated")


def test_keys_of_b_are_invisible_under_a(client, factory):
    a = factory.merchant()
    b = factory.merchant()
    b_key = _create(client, b, ["orders:read"]).json()
    r = client.delete(f"/merchants/{a.id}/api-keys/{b_key['id']}", headers=a.admin.headers)
    _problem(r, 404, "not-found")
    assert client.get(f"/merchants/{a.id}/api-keys", headers=a.admin.headers).json() == []
    listed = client.get(f"/merchants/{b.id}/api-keys", headers=b.admin.headers).json()
    assert [k["revoked_at"] for k in listed] == [None]


def test_platform_admin_acts_for_any_merchant(client, factory, probe):
    m = factory.merchant()
    root = factory.platform_admin()
    assert client.get(f"/merchants/{m.id}/members", headers=root.headers).status_code == 200
    assert probe.get(f"/merchants/{m.id}/probe-read", headers=root.headers).status_code == 200
    r = client.post(
        f"/merchants/{m.id}/api-keys",
        json={"name": "by-root", "scopes": ["inventory:read"]},
        headers=root.headers,
    )
    assert r.status_code == 201


def test_a_rule_cannot_name_an_unknown_scope():
    with pytest.raises(ValueError, match="unknown scope"):
        MerchantAccess(MerchantRole.STAFF, "catalog:delete-everything")
