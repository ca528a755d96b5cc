"""Stock over HTTP: set, adjust, the ledger, reservations listing, public availability and
tenancy (one merchant never sees or changes another's stock)."""

from __future__ import annotations

import uuid
from typing import Any

from plaza.inventory import service

from ..catalog_helpers import create_product
from ..factories import MerchantCtx, unique
from .conftest import level, make_location


def variant(db, m: MerchantCtx) -> uuid.UUID:
    _, (vid,) = create_product(db, m.id)
    return vid


def stock_url(m: MerchantCtx, *rest: object) -> str:
    return "/".join([f"/merchants/{m.id}/stock", *map(str, rest)])


def put(client, m: MerchantCtx, vid, lid, headers=None, **body: Any):
    return client.put(stock_url(m, vid, lid), json=body, headers=headers or m.admin.headers)


def adjust(client, m: MerchantCtx, headers=None, **body: Any):
    return client.post(stock_url(m, "adjustments"), json=body, headers=headers or m.admin.headers)


def movements(client, m: MerchantCtx, **params: Any) -> list[dict]:
    r = client.get(stock_url(m, "movements"), params=params, headers=m.admin.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _reserve(db, m, vid, qty, ref, location_id=None):
    with db.transaction() as s:
        service.reserve(
            s,
            merchant_id=m.id,
            variant_id=vid,
            quantity=qty,
            reference=ref,
            ttl_seconds=600,
            location_id=location_id,
        )


def test_set_stock_counts_and_guards(client, factory, db):
    m = factory.merchant()
    vid, loc = variant(db, m), make_location(db, m.id)
    r = put(client, m, vid, loc.id, on_hand=12)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["on_hand"], got["reserved"], got["available"]) == (12, 0, 12)
    assert client.get(stock_url(m, vid, loc.id), headers=m.admin.headers).json() == got

    stale = put(client, m, vid, loc.id, on_hand=20, expected_on_hand=11)
    assert stale.status_code == 409
    assert stale.json()["type"] == "/problems/stock-version-mismatch"
    assert stale.json()["current_on_hand"] == 12
    ok = put(client, m, vid, loc.id, on_hand=20, expected_on_hand=12)
    assert ok.status_code == 200 and ok.json()["on_hand"] == 20

    _reserve(db, m, vid, 8, "ord-1")
    low = put(client, m, vid, loc.id, on_hand=7)
    assert low.status_code == 409 and low.json()["type"] == "/problems/stock-below-reserved"
    assert low.json()["reserved"] == 8
    assert level(db, m.id, vid, loc.id) == (20, 8)

    moves = movements(client, m, variant_id=str(vid))
    assert [(x["reason"], x["delta_on_hand"], x["delta_reserved"]) for x in moves] == [
        ("reservation", 0, 8),
        ("adjustment", 8, 0),
        ("adjustment", 12, 0),
    ]
    assert moves[-1]["actor"] == f"user:{m.admin.id}"


def test_adjustments_are_relative_idempotent_and_ledgered(client, factory, db):
    m = factory.merchant()
    vid, loc = variant(db, m), make_location(db, m.id)
    headers = {**m.admin.headers, "Idempotency-Key": unique("delivery")}
    body = {
        "variant_id": str(vid),
        "location_id": str(loc.id),
        "delta": 30,
        "reason": "receipt",
        "reference": "DN-4471",
    }
    first = adjust(client, m, headers=headers, **body)
    assert first.status_code == 201, first.text
    again = adjust(client, m, headers=headers, **body)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    out = first.json()
    assert out["stock"]["on_hand"] == 30
    assert (out["movement"]["reason"], out["movement"]["reference"]) == ("receipt", "DN-4471")
    assert level(db, m.id, vid, loc.id) == (30, 0)  # booked once

    r = adjust(client, m, variant_id=str(vid), location_id=str(loc.id), delta=-4)
    assert r.status_code == 201 and r.json()["stock"]["on_hand"] == 26
    _reserve(db, m, vid, 20, "big")
    r = adjust(client, m, variant_id=str(vid), location_id=str(loc.id), delta=-7)
    assert r.status_code == 409 and r.json()["type"] == "/problems/stock-below-reserved"
    assert [x["delta_on_hand"] for x in movements(client, m, reason="adjustment")] == [-4]
    assert len(movements(client, m, reference="DN-4471")) == 1


def test_bad_stock_inputs_are_4xx_and_change_nothing(client, factory, db):
    m = factory.merchant()
    vid, loc = variant(db, m), make_location(db, m.id)
    put(client, m, vid, loc.id, on_hand=5)
    base = {"variant_id": str(vid), "location_id": str(loc.id)}
    bad_adjustments = [
        {**base, "delta": 0},
        {**base, "delta": 1, "reason": "reservation"},
        {**base, "delta": -1, "reason": "receipt"},
        {**base, "delta": 1, "reason": "sale"},
        {**base, "delta": 10**10},
        {**base, "delta": 1, "extra": 1},
        {**base, "delta": "lots"},
        {"variant_id": "not-a-uuid", "location_id": str(loc.id), "delta": 1},
        {**base, "delta": 1, "reference": "r" * 101},
    ]
    for body in bad_adjustments:
        r = adjust(client, m, **body)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    for body in (
        {"on_hand": -1},
        {"on_hand": 10**10},
        {"on_hand": 1, "expected_on_hand": -2},
        {},
        {"on_hand": 3, "why": "x"},
    ):
        r = put(client, m, vid, loc.id, **body)
        assert r.status_code == 422, (body, r.text)
    r = put(client, m, vid, uuid.uuid4(), on_hand=3)  # no such location
    assert r.status_code == 404
    r = client.put(
        stock_url(m, vid, loc.id),
        content=b"{not json",
        headers={**m.admin.headers, "content-type": "application/json"},
    )
    assert r.status_code == 400
    assert level(db, m.id, vid, loc.id) == (5, 0)
    assert len(movements(client, m)) == 1
    r = client.get(stock_url(m), params={"limit": 101}, headers=m.admin.headers)
    assert r.status_code == 422


def test_stock_listing_filters_and_pages(client, factory, db):
    m = factory.merchant()
    a, b = variant(db, m), variant(db, m)
    wh = make_location(db, m.id, low_stock_threshold=3)
    shop = make_location(db, m.id, kind="store", low_stock_threshold=10)
    put(client, m, a, wh.id, on_hand=50)
    put(client, m, a, shop.id, on_hand=8)
    put(client, m, b, wh.id, on_hand=2)

    def ids(**params: Any) -> set[tuple[str, str]]:
        r = client.get(stock_url(m), params=params, headers=m.admin.headers)
        assert r.status_code == 200, r.text
        return {(x["variant_id"], x["location_id"]) for x in r.json()["items"]}

    assert ids(variant_id=str(a)) == {(str(a), str(wh.id)), (str(a), str(shop.id))}
    assert ids(location_id=str(wh.id)) == {(str(a), str(wh.id)), (str(b), str(wh.id))}
    assert ids(low_stock="true") == {(str(a), str(shop.id)), (str(b), str(wh.id))}
    assert ids(threshold=2) == {(str(b), str(wh.id))}
    page = client.get(stock_url(m), params={"limit": 2}, headers=m.admin.headers).json()
    rest = client.get(
        stock_url(m), params={"limit": 2, "cursor": page["next_cursor"]}, headers=m.admin.headers
    ).json()
    assert len(page["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    # A cursor from one merchant's listing is refused in another's.
    other = factory.merchant()
    r = client.get(
        stock_url(other), params={"cursor": page["next_cursor"]}, headers=other.admin.headers
    )
    assert r.status_code == 400


def test_reservations_listing(client, factory, db):
    m = factory.merchant()
    vid, loc = variant(db, m), make_location(db, m.id)
    put(client, m, vid, loc.id, on_hand=10)
    _reserve(db, m, vid, 2, "order-a")
    _reserve(db, m, vid, 3, "order-b")
    with db.transaction() as s:
        service.commit_reservations(s, "order-a")
    url = f"/merchants/{m.id}/reservations"
    r = client.get(url, params={"reference": "order-b"}, headers=m.admin.headers)
    assert [(x["reference"], x["quantity"], x["status"]) for x in r.json()["items"]] == [
        ("order-b", 3, "active")
    ]
    r = client.get(url, params={"status": "committed"}, headers=m.admin.headers)
    assert [x["reference"] for x in r.json()["items"]] == ["order-a"]
    assert client.get(url, params={"status": "lost"}, headers=m.admin.headers).status_code == 422


def test_public_availability_shows_counts_not_internals(client, factory, db):
    m = factory.merchant()
    vid = variant(db, m)
    wh = make_location(db, m.id)
    shop = make_location(
        db, m.id, kind="store", fulfils_online=False, name="Marais", latitude=48.86, longitude=2.36
    )
    closed = make_location(db, m.id, kind="store", is_active=False)
    put(client, m, vid, wh.id, on_hand=6)
    put(client, m, vid, shop.id, on_hand=3)
    put(client, m, vid, closed.id, on_hand=9)
    _reserve(db, m, vid, 2, "someone")

    r = client.get(f"/variants/{vid}/availability")
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["available"], got["online_available"], got["in_stock_online"]) == (7, 4, True)
    assert [(x["location_id"], x["name"], x["available"]) for x in got["stores"]] == [
        (str(shop.id), "Marais", 3)
    ]
    assert "on_hand" not in r.text and "reserved" not in r.text
    assert client.get(f"/variants/{uuid.uuid4()}/availability").status_code == 404

    put(client, m, vid, wh.id, on_hand=2)
    got = client.get(f"/variants/{vid}/availability").json()
    assert (got["online_available"], got["in_stock_online"]) == (0, False)


def test_tenancy(client, factory, db):
    a, b = factory.merchant(), factory.merchant()
    va, vb = variant(db, a), variant(db, b)
    la, lb = make_location(db, a.id), make_location(db, b.id)
    put(client, a, va, la.id, on_hand=5)
    put(client, b, vb, lb.id, on_hand=5)
    _reserve(db, a, va, 1, "a-order")

    # B's variant, or B's location, under A's path: 404, and nothing changes.
    assert put(client, a, vb, la.id, on_hand=99).status_code == 404
    assert put(client, a, va, lb.id, on_hand=99).status_code == 404
    r = adjust(client, a, variant_id=str(vb), location_id=str(la.id), delta=1)
    assert r.status_code == 404
    r = adjust(client, a, variant_id=str(va), location_id=str(lb.id), delta=1)
    assert r.status_code == 404
    assert client.get(stock_url(a, vb, lb.id), headers=a.admin.headers).status_code == 404
    assert level(db, b.id, vb, lb.id) == (5, 0)

    # A's listings under A's path never include B's rows, even when filtered by B's ids.
    assert (
        client.get(stock_url(a), params={"variant_id": str(vb)}, headers=a.admin.headers).json()[
            "items"
        ]
        == []
    )
    assert movements(client, a, variant_id=str(vb)) == []
    r = client.get(f"/merchants/{a.id}/reservations", headers=a.admin.headers)
    assert [x["reference"] for x in r.json()["items"]] == ["a-order"]
    r = client.get(f"/merchants/{b.id}/reservations", headers=b.admin.headers)
    assert r.json()["items"] == []

    # B's staff on A's paths: refused outright.
    for path in (stock_url(a), stock_url(a, "movements"), f"/merchants/{a.id}/reservations"):
        assert client.get(path, headers=b.admin.headers).status_code == 403
    assert put(client, a, va, la.id, headers=b.admin.headers, on_hand=0).status_code == 403
    key_b = factory.api_key(b, ["inventory:read", "inventory:write"])
    r = put(client, a, va, la.id, headers={"X-API-Key": key_b}, on_hand=0)
    assert r.status_code == 403
    assert level(db, a.id, va, la.id) == (5, 1)


def test_api_key_scopes(client, factory, db):
    m = factory.merchant()
    vid, loc = variant(db, m), make_location(db, m.id)
    reader = {"X-API-Key": factory.api_key(m, ["inventory:read"])}
    writer = {"X-API-Key": factory.api_key(m, ["inventory:write"])}
    assert put(client, m, vid, loc.id, headers=reader, on_hand=1).status_code == 403
    assert put(client, m, vid, loc.id, headers=writer, on_hand=1).status_code == 200
    assert client.get(stock_url(m), headers=reader).status_code == 200
    moves = movements(client, m)
    assert moves[0]["actor"].startswith("api_key:")
