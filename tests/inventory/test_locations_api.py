"""Locations over HTTP: create, read, list, patch, validation, idempotency, tenancy."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ..factories import unique


def body(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": unique("WH"),
        "name": "Paris warehouse",
        "kind": "warehouse",
        "address": {
            "line1": "12 Quai de la Gare",
            "city": "Paris",
            "postal_code": "75013",
            "region": "Île-de-France",
            "country": "fr",
        },
        "latitude": 48.8339,
        "longitude": 2.3755,
        "timezone": "Europe/Paris",
    }
    data.update(overrides)
    return data


def url(merchant_id: uuid.UUID, *rest: object) -> str:
    return "/".join([f"/merchants/{merchant_id}/locations", *map(str, rest)])


def _count(client, m) -> int:
    r = client.get(url(m.id), params={"limit": 100}, headers=m.admin.headers)
    assert r.status_code == 200
    return len(r.json()["items"])


def test_create_read_list_patch(client, factory):
    m = factory.merchant()
    r = client.post(url(m.id), json=body(code="WH-1"), headers=m.admin.headers)
    assert r.status_code == 201, r.text
    loc = r.json()
    assert loc["address"]["country"] == "FR"  # normalised
    assert (loc["kind"], loc["is_active"], loc["fulfils_online"]) == ("warehouse", True, True)
    assert loc["low_stock_threshold"] == 5

    got = client.get(url(m.id, loc["id"]), headers=m.admin.headers)
    assert got.status_code == 200 and got.json() == loc

    staff = factory.staff(m)
    r = client.patch(
        url(m.id, loc["id"]),
        json={"name": "Paris DC", "is_active": False, "latitude": None, "longitude": None},
        headers=staff.headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["is_active"], r.json()["latitude"]) == (
        "Paris DC",
        False,
        None,
    )
    assert r.json()["address"] == loc["address"]


def test_list_paginates_and_filters(client, factory):
    m = factory.merchant()
    ids = []
    for kind in ("warehouse", "store", "store"):
        r = client.post(url(m.id), json=body(kind=kind), headers=m.admin.headers)
        ids.append(r.json()["id"])
    first = client.get(url(m.id), params={"limit": 2}, headers=m.admin.headers).json()
    assert [x["id"] for x in first["items"]] == ids[:2] and first["next_cursor"]
    rest = client.get(
        url(m.id), params={"limit": 2, "cursor": first["next_cursor"]}, headers=m.admin.headers
    ).json()
    assert [x["id"] for x in rest["items"]] == ids[2:] and rest["next_cursor"] is None
    stores = client.get(url(m.id), params={"kind": "store"}, headers=m.admin.headers).json()
    assert [x["id"] for x in stores["items"]] == ids[1:]
    r = client.get(url(m.id), params={"cursor": "forged"}, headers=m.admin.headers)
    assert r.status_code == 400 and r.json()["type"] == "/problems/invalid-cursor"


@pytest.mark.parametrize(
    "bad",
    [
        {"latitude": 90.5},
        {"longitude": -180.01},
        {"latitude": 10.0, "longitude": None},
        {"address": {"line1": "x", "city": "y", "country": "XX"}},
        {"address": {"line1": "x", "city": "y", "country": "FRA"}},
        {"timezone": "Mars/Olympus"},
        {"timezone": "America"},
        {"kind": "depot"},
        {"code": "has space"},
        {"low_stock_threshold": -1},
        {"name": ""},
        {"surprise": True},
    ],
)
def test_bad_locations_are_refused_and_change_nothing(client, factory, bad):
    m = factory.merchant()
    r = client.post(url(m.id), json=body(**bad), headers=m.admin.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == "/problems/validation-error"
    assert _count(client, m) == 0


def test_patch_validation(client, factory):
    m = factory.merchant()
    loc = client.post(url(m.id), json=body(), headers=m.admin.headers).json()
    for bad in (
        {"latitude": 1.0},
        {"name": None},
        {"timezone": "Nowhere/City"},
        {"address": {"line1": "a", "city": "b", "country": "ZZ"}},
    ):
        r = client.patch(url(m.id, loc["id"]), json=bad, headers=m.admin.headers)
        assert r.status_code == 422, (bad, r.text)
    after = client.get(url(m.id, loc["id"]), headers=m.admin.headers).json()
    assert after == loc


def test_codes_are_unique_per_merchant(client, factory):
    m, other = factory.merchant(), factory.merchant()
    a = client.post(url(m.id), json=body(code="STORE-1"), headers=m.admin.headers)
    assert a.status_code == 201
    dup = client.post(url(m.id), json=body(code="STORE-1"), headers=m.admin.headers)
    assert dup.status_code == 409 and dup.json()["type"] == "/problems/location-code-taken"
    # Another merchant may use the same code.
    assert (
        client.post(
            url(other.id), json=body(code="STORE-1"), headers=other.admin.headers
        ).status_code
        == 201
    )
    b = client.post(url(m.id), json=body(code="STORE-2"), headers=m.admin.headers).json()
    clash = client.patch(url(m.id, b["id"]), json={"code": "STORE-1"}, headers=m.admin.headers)
    assert clash.status_code == 409


def test_create_is_idempotent_with_a_key(client, factory):
    m = factory.merchant()
    headers = {**m.admin.headers, "Idempotency-Key": unique("k")}
    payload = body()
    first = client.post(url(m.id), json=payload, headers=headers)
    again = client.post(url(m.id), json=payload, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _count(client, m) == 1
    other = client.post(url(m.id), json=body(), headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"


def test_tenancy(client, factory):
    a, b = factory.merchant(), factory.merchant()
    loc = client.post(url(a.id), json=body(), headers=a.admin.headers).json()
    # B's admin on A's path: not B's merchant.
    assert client.get(url(a.id), headers=b.admin.headers).status_code == 403
    assert client.get(url(a.id, loc["id"]), headers=b.admin.headers).status_code == 403
    # A's location under B's path: does not exist there.
    assert client.get(url(b.id, loc["id"]), headers=b.admin.headers).status_code == 404
    r = client.patch(url(b.id, loc["id"]), json={"name": "mine now"}, headers=b.admin.headers)
    assert r.status_code == 404
    assert client.get(url(b.id), headers=b.admin.headers).json()["items"] == []
    assert client.get(url(a.id, loc["id"]), headers=a.admin.headers).json()["name"] == loc["name"]


def test_access_rules(client, factory):
    m = factory.merchant()
    assert client.get(url(m.id)).status_code == 401
    reader = factory.api_key(m, ["inventory:read"])
    writer = factory.api_key(m, ["inventory:write"])
    assert client.get(url(m.id), headers={"X-API-Key": reader}).status_code == 200
    r = client.post(url(m.id), json=body(), headers={"X-API-Key": reader})
    assert r.status_code == 403
    r = client.post(url(m.id), json=body(), headers={"X-API-Key": writer})
    assert r.status_code == 201
    outsider = factory.user()
    assert client.get(url(m.id), headers=outsider.headers).status_code == 403
