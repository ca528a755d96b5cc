"""Merchants, staff membership and tenancy between merchants."""

from __future__ import annotations

import threading
import uuid

import pytest

from plaza.errors import ProblemError
from plaza.identity import service
from plaza.identity.models import MerchantRole

from ..core.helpers import problem as _problem
from ..factories import unique

ADMIN = MerchantRole.ADMIN.value
STAFF = MerchantRole.STAFF.value


def _merchant_body(admin_email: str, **over: object) -> dict[str, object]:
    return {
        "slug": unique("shop"),
        "name": "Corner Shop",
        "kind": "street_shop",
        "admin_email": admin_email,
        **over,
    }


def test_only_a_platform_admin_creates_merchants(client, factory):
    owner = factory.user()
    body = _merchant_body(owner.email)
    _problem(client.post("/merchants", json=body), 401, "unauthenticated")
    _problem(client.post("/merchants", json=body, headers=owner.headers), 403, "forbidden")
    other_merchant = factory.merchant()
    r = client.post("/merchants", json=body, headers=other_merchant.admin.headers)
    _problem(r, 403, "forbidden")

    root = factory.platform_admin()
    r = client.post("/merchants", json=body, headers=root.headers)
    assert r.status_code == 201, r.text
    merchant = r.json()
    assert merchant["slug"] == body["slug"] and merchant["kind"] == "street_shop"
    assert merchant["default_currency"] == "EUR"
    # The named account becomes the merchant's admin.
    me = client.get("/me", headers=owner.headers).json()
    assert me["memberships"] == [{"merchant_id": merchant["id"], "role": ADMIN}]
    # Public profile.
    r = client.get(f"/merchants/{merchant['id']}")
    assert r.status_code == 200 and r.json()["name"] == "Corner Shop"


@pytest.mark.parametrize(
    "slug",
    ["Upper", "-lead", "trail-", "with space", "under_score", "dot.ted", "", "a" * 65, "é-shop"],
)
def test_merchant_slug_rules(client, factory, slug):
    root = factory.platform_admin()
    r = client.post("/merchants", json=_merchant_body(root.email, slug=slug), headers=root.headers)
    _problem(r, 422, "validation-error")


@pytest.mark.parametrize("slug_len", [1, 2, 64])
def test_merchant_slug_accepts_bounds(client, factory, slug_len):
    root = factory.platform_admin()
    slug = (uuid.uuid4().hex * 3)[:slug_len]
    r = client.post("/merchants", json=_merchant_body(root.email, slug=slug), headers=root.headers)
    assert r.status_code == 201, r.text
    assert r.json()["slug"] == slug


def test_duplicate_slug_and_bad_fields(client, factory):
    root = factory.platform_admin()
    body = _merchant_body(root.email)
    assert client.post("/merchants", json=body, headers=root.headers).status_code == 201
    dup = {**body, "name": "Another"}
    _problem(client.post("/merchants", json=dup, headers=root.headers), 409, "slug-taken")

    for bad in (
        {"default_currency": "EURO"},
        {"default_currency": "XYZ"},
        {"kind": "pawn_shop"},
        {"name": ""},
        {"unexpected": 1},
    ):
        r = client.post("/merchants", json=_merchant_body(root.email, **bad), headers=root.headers)
        _problem(r, 422, "validation-error")
    r = client.post(
        "/merchants", json=_merchant_body(f"{unique('ghost')}@example.com"), headers=root.headers
    )
    _problem(r, 404, "not-found")


def test_public_merchant_listing_paginates(client, factory):
    made = {str(factory.merchant().id) for _ in range(3)}
    seen: list[str] = []
    cursor = None
    for _ in range(1000):  # bounded walk over every page
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = client.get("/merchants", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert cursor is None
    assert made <= set(seen)
    assert len(seen) == len(set(seen)), "a merchant was served twice"
    assert seen == sorted(seen, key=uuid.UUID), "keyset order is by id"
    _problem(client.get("/merchants", params={"limit": 101}), 422, "validation-error")
    _problem(client.get("/merchants", params={"limit": 0}), 422, "validation-error")


def test_unknown_merchant_is_404(client):
    _problem(client.get(f"/merchants/{uuid.uuid4()}"), 404, "not-found")
    _problem(client.get("/merchants/not-a-uuid"), 422, "validation-error")


def test_patch_merchant_roles(client, factory):
    m = factory.merchant()
    staff = factory.staff(m)
    other = factory.merchant()
    url = f"/merchants/{m.id}"
    _problem(client.patch(url, json={"name": "X"}), 401, "unauthenticated")
    _problem(client.patch(url, json={"name": "X"}, headers=staff.headers), 403, "forbidden")
    r = client.patch(url, json={"name": "X"}, headers=other.admin.headers)
    _problem(r, 403, "forbidden")

    r = client.patch(
        url, json={"name": "Renamed", "default_currency": "JPY"}, headers=m.admin.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Renamed" and r.json()["default_currency"] == "JPY"
    r = client.patch(url, json={"slug": "new-slug"}, headers=m.admin.headers)
    _problem(r, 422, "validation-error")
    r = client.patch(url, json={"default_currency": "ABC"}, headers=m.admin.headers)
    _problem(r, 422, "validation-error")

    root = factory.platform_admin()
    r = client.patch(url, json={"description": "by the platform"}, headers=root.headers)
    assert r.status_code == 200 and r.json()["description"] == "by the platform"
    assert client.get(url).json()["name"] == "Renamed"


def test_admin_manages_members_and_staff_cannot(client, factory):
    m = factory.merchant()
    newcomer = factory.user()
    url = f"/merchants/{m.id}/members"

    r = client.put(url, json={"email": newcomer.email, "role": STAFF}, headers=m.admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == str(newcomer.id) and r.json()["role"] == STAFF
    # PUT is idempotent.
    r = client.put(url, json={"email": newcomer.email, "role": STAFF}, headers=m.admin.headers)
    assert r.status_code == 200

    members = client.get(url, headers=m.admin.headers).json()
    assert {(x["email"], x["role"]) for x in members} == {
        (m.admin.email, ADMIN),
        (newcomer.email, STAFF),
    }

    outsider = factory.user()
    staff_h = newcomer.headers
    _problem(client.get(url, headers=staff_h), 403, "forbidden")
    r = client.put(url, json={"email": outsider.email, "role": STAFF}, headers=staff_h)
    _problem(r, 403, "forbidden")
    r = client.put(url, json={"email": newcomer.email, "role": ADMIN}, headers=staff_h)
    _problem(r, 403, "forbidden")
    _problem(client.delete(f"{url}/{m.admin.id}", headers=staff_h), 403, "forbidden")
    _problem(client.get(url), 401, "unauthenticated")

    r = client.put(
        url,
        json={"email": f"{unique('nobody')}@example.com", "role": STAFF},
        headers=m.admin.headers,
    )
    _problem(r, 404, "not-found")
    r = client.put(url, json={"email": outsider.email, "role": "owner"}, headers=m.admin.headers)
    _problem(r, 422, "validation-error")

    assert client.delete(f"{url}/{newcomer.id}", headers=m.admin.headers).status_code == 204
    _problem(client.delete(f"{url}/{newcomer.id}", headers=m.admin.headers), 404, "not-found")
    # The removed member lost access at once.
    _problem(
        client.patch(f"/merchants/{m.id}", json={"name": "Y"}, headers=staff_h), 403, "forbidden"
    )


def test_last_admin_cannot_be_removed_or_demoted(client, factory):
    m = factory.merchant()
    url = f"/merchants/{m.id}/members"
    r = client.put(url, json={"email": m.admin.email, "role": STAFF}, headers=m.admin.headers)
    _problem(r, 409, "last-admin")
    _problem(client.delete(f"{url}/{m.admin.id}", headers=m.admin.headers), 409, "last-admin")

    second = factory.user()
    r = client.put(url, json={"email": second.email, "role": ADMIN}, headers=m.admin.headers)
    assert r.status_code == 200
    # With two admins, one may step down; then the other is the last again.
    r = client.put(url, json={"email": m.admin.email, "role": STAFF}, headers=m.admin.headers)
    assert r.status_code == 200 and r.json()["role"] == STAFF
    _problem(client.delete(f"{url}/{second.id}", headers=second.headers), 409, "last-admin")
    assert client.delete(f"{url}/{m.admin.id}", headers=second.headers).status_code == 204


def _demote(
    db, merchant_id: uuid.UUID, email: str, barrier: threading.Barrier, outcomes: list[str]
) -> None:  # type: ignore[no-untyped-def]
    barrier.wait(timeout=10)
    try:
        with db.transaction() as s:
            service.set_member(s, merchant_id, email, MerchantRole.STAFF)
        outcomes.append("ok")
    except ProblemError as exc:
        outcomes.append(exc.kind.slug)


def test_concurrent_demotions_keep_an_admin(db, factory):
    """Two admins demoting each other at once: one must win, the other get last-admin."""
    for _ in range(5):
        m = factory.merchant()
        second = factory.staff(m, MerchantRole.ADMIN)
        barrier = threading.Barrier(2)
        outcomes: list[str] = []
        threads = [
            threading.Thread(target=_demote, args=(db, m.id, email, barrier, outcomes))
            for email in (m.admin.email, second.email)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(outcomes) == ["last-admin", "ok"]
        with db.reading() as s:
            roles = [mb.role for mb, _ in service.list_members(s, m.id)]
        assert roles.count(MerchantRole.ADMIN) == 1


def test_tenancy_admin_of_a_cannot_touch_b(client, factory):
    a = factory.merchant()
    b = factory.merchant()
    b_staff = factory.staff(b)
    h = a.admin.headers
    base = f"/merchants/{b.id}"
    _problem(client.patch(base, json={"name": "Pwned"}, headers=h), 403, "forbidden")
    _problem(client.get(f"{base}/members", headers=h), 403, "forbidden")
    r = client.put(f"{base}/members", json={"email": a.admin.email, "role": ADMIN}, headers=h)
    _problem(r, 403, "forbidden")
    _problem(client.delete(f"{base}/members/{b_staff.id}", headers=h), 403, "forbidden")
    _problem(client.get(f"{base}/api-keys", headers=h), 403, "forbidden")
    r = client.post(f"{base}/api-keys", json={"name": "x", "scopes": ["catalog:read"]}, headers=h)
    _problem(r, 403, "forbidden")

    # B's rows named under A's own path are simply not there.
    r = client.delete(f"/merchants/{a.id}/members/{b_staff.id}", headers=h)
    _problem(r, 404, "not-found")
    assert client.get(base).json()["name"] != "Pwned"
    members = client.get(f"{base}/members", headers=b.admin.headers).json()
    assert {x["email"] for x in members} == {b.admin.email, b_staff.email}
