"""The platform taxonomy: admins manage it, everyone reads it flat or as a tree."""

from __future__ import annotations

import uuid

import pytest

from tests.core.helpers import problem
from tests.factories import unique


@pytest.fixture
def admin(factory):
    return factory.platform_admin()


def _make(client, admin, name, parent=None, position=0):
    body = {"slug": unique(name.lower()), "name": name, "position": position}
    if parent:
        body["parent_id"] = parent
    r = client.post("/categories", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    return r.json()


def _walk(client, shape):
    out, cursor = [], None
    for _ in range(1000):
        params = {"shape": shape, "limit": 100, **({"cursor": cursor} if cursor else {})}
        body = client.get("/categories", params=params).json()
        out += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return out
    raise AssertionError("no end")


def test_only_platform_admins_write(client, factory, merchant):
    body = {"slug": unique("cat"), "name": "Cat"}
    problem(client.post("/categories", json=body), 401, "unauthenticated")
    problem(client.post("/categories", json=body, headers=merchant.admin.headers), 403, "forbidden")
    problem(
        client.patch(
            f"/categories/{uuid.uuid4()}", json={"name": "x"}, headers=factory.user().headers
        ),
        403,
        "forbidden",
    )


def test_tree_and_flat(client, admin):
    root = _make(client, admin, "Home", position=5)
    kitchen = _make(client, admin, "Kitchen", root["id"], position=2)
    bath = _make(client, admin, "Bath", root["id"], position=1)
    knives = _make(client, admin, "Knives", kitchen["id"])
    tree = _walk(client, "tree")
    node = next(n for n in tree if n["id"] == root["id"])
    assert [c["name"] for c in node["children"]] == ["Bath", "Kitchen"]  # by position
    assert node["children"][1]["children"][0]["id"] == knives["id"]
    assert all(n["parent_id"] is None for n in tree)
    flat = _walk(client, "flat")
    ids = [n["id"] for n in flat]
    assert {root["id"], kitchen["id"], bath["id"], knives["id"]} <= set(ids)
    assert len(ids) == len(set(ids)) and all(n["children"] == [] for n in flat)
    r = client.get(f"/categories/{bath['id']}")
    assert r.status_code == 200 and r.json()["parent_id"] == root["id"]


def test_pagination_of_categories(client, admin):
    for i in range(3):
        _make(client, admin, f"Page{i}")
    pages, cursor = [], None
    for _ in range(1000):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get("/categories", params=params).json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            break
    flat = [c["id"] for page in pages for c in page]
    assert flat == [c["id"] for c in _walk(client, "flat")]
    assert all(len(p) <= 2 for p in pages)
    problem(
        client.get("/categories", params={"shape": "tree", "cursor": "bad"}), 400, "invalid-cursor"
    )


def test_patch_rename_move_and_cycles(client, admin):
    a = _make(client, admin, "Alpha")
    b = _make(client, admin, "Beta", a["id"])
    c = _make(client, admin, "Gamma", b["id"])
    h = admin.headers
    r = client.patch(
        f"/categories/{c['id']}", json={"name": "Gamma 2", "parent_id": None}, headers=h
    )
    assert r.status_code == 200 and r.json()["parent_id"] is None and r.json()["name"] == "Gamma 2"
    problem(
        client.patch(f"/categories/{a['id']}", json={"parent_id": b["id"]}, headers=h),
        422,
        "category-cycle",
    )
    problem(
        client.patch(f"/categories/{a['id']}", json={"parent_id": a["id"]}, headers=h),
        422,
        "category-cycle",
    )
    problem(
        client.patch(f"/categories/{a['id']}", json={"slug": b["slug"]}, headers=h),
        409,
        "category-slug-taken",
    )
    problem(
        client.patch(f"/categories/{a['id']}", json={"parent_id": str(uuid.uuid4())}, headers=h),
        422,
        "unknown-category",
    )
    problem(
        client.patch(f"/categories/{uuid.uuid4()}", json={"name": "x"}, headers=h), 404, "not-found"
    )
    problem(
        client.patch(f"/categories/{a['id']}", json={"name": None}, headers=h),
        422,
        "validation-error",
    )


def test_create_errors_and_idempotency(client, admin):
    a = _make(client, admin, "Dup")
    problem(
        client.post(
            "/categories", json={"slug": a["slug"], "name": "Again"}, headers=admin.headers
        ),
        409,
        "category-slug-taken",
    )
    problem(
        client.post("/categories", json={"slug": "Bad Slug", "name": "x"}, headers=admin.headers),
        422,
        "validation-error",
    )
    problem(
        client.post(
            "/categories",
            json={"slug": unique("o"), "name": "Orphan", "parent_id": str(uuid.uuid4())},
            headers=admin.headers,
        ),
        422,
        "unknown-category",
    )
    body = {"slug": unique("idem"), "name": "Idem"}
    h = {**admin.headers, "Idempotency-Key": unique("k")}
    r1 = client.post("/categories", json=body, headers=h)
    r2 = client.post("/categories", json=body, headers=h)
    assert r1.status_code == r2.status_code == 201 and r1.json() == r2.json()


def test_new_category_shows_in_cached_tree(client, admin):
    _walk(client, "tree")
    c = _make(client, admin, "Fresh")
    assert c["id"] in {n["id"] for n in _walk(client, "tree")}
