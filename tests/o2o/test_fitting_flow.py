"""Smart fitting rooms end to end: rooms, sessions opened by scanning, alternatives with
in-store stock, the staff size-request queue, tried vs bought, events, access."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from plaza.events import OutboxEvent, dispatch_pending
from plaza.o2o import codes
from plaza.o2o.fitting import service
from plaza.o2o.fitting.models import FittingSession
from tests.o2o.fitting_helpers import Store, make_room, make_store
from tests.ordering.conftest import cart_with, checkout_body


@pytest.fixture
def store(db, factory) -> Store:
    return make_store(db, factory)


def _events(db, type_: str, session_id: str) -> list[dict]:
    with db.reading() as s:
        rows = s.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.type == type_, OutboxEvent.aggregate_id == session_id)
            .order_by(OutboxEvent.id)
        )
        return [r.payload for r in rows]


def _tag(store: Store, size: str, colour: str, serial: int) -> str:
    return codes.sgtin96_hex(store.gtins[store.variants[(size, colour)]], serial)


def _open(client, store, who, codes_: list[str], room: str | None = None):
    room = room or make_room(client, store)
    return client.post(
        "/fitting-sessions", json={"room_id": room, "codes": codes_}, headers=who.headers
    )


def test_shopper_opens_a_session_by_scanning_tags_and_sees_alternatives(client, db, factory, store):
    shopper = factory.user()
    dl = codes.digital_link("https://x.test", store.gtins[store.variants[("L", "Black")]], "9")
    r = _open(client, store, shopper, [_tag(store, "M", "Blue", 1001), dl])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "open" and body["customer_id"] == str(shopper.id)
    assert body["room_code"] == "F1" and body["zone_id"] == str(store.zone_id)
    first, second = body["items"]
    assert first["variant_id"] == str(store.variants[("M", "Blue")])
    assert (first["serial"], first["code_kind"], first["in_store"]) == ("1001", "epc", 3)
    assert first["label"] == "M / Blue" and first["title"] == "Linen shirt"
    assert second["code_kind"] == "digital_link" and second["serial"] == "9"
    alts = {a["label"]: a for a in first["alternatives"]}
    assert set(alts) == {"S / Blue", "L / Blue", "S / Black", "M / Black", "L / Black"}
    assert alts["L / Blue"]["differs_in"] == ["size"]
    assert alts["M / Black"]["differs_in"] == ["colour"] and alts["M / Black"]["in_store"] == 0
    assert alts["L / Black"]["differs_in"] == ["colour", "size"]
    # the same tag read again is the same item; GET shows the same session
    r = client.post(
        f"/fitting-sessions/{body['id']}/items",
        json={"codes": [_tag(store, "M", "Blue", 1001)]},
        headers=shopper.headers,
    )
    assert r.status_code == 200 and len(r.json()["items"]) == 2
    got = client.get(f"/fitting-sessions/{body['id']}", headers=shopper.headers).json()
    assert got["tried_count"] == 2
    opened = _events(db, "o2o.fitting_session_opened", body["id"])
    assert opened[0]["user_id"] == str(shopper.id) and opened[0]["opened_by_staff"] is False
    assert len(_events(db, "o2o.fitting_item_added", body["id"])) == 2


def test_malformed_and_unknown_codes_are_rejected_and_nothing_opens(client, db, factory, store):
    shopper = factory.user()
    room = make_room(client, store)
    cases = [
        ("3074257BF7194E4000001A8", "/problems/epc-invalid"),
        ("3574257BF7194E4000001A85", "/problems/epc-invalid"),
        ("https://x.test/01/09506000134353", "/problems/digital-link-invalid"),
        ("not a code", "/problems/code-invalid"),
        ("09506000134352", "/problems/code-unknown"),  # valid GTIN, not this shop's
    ]
    for code, problem in cases:
        r = _open(client, store, shopper, [_tag(store, "S", "Blue", 1), code], room)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"] == problem
    r = client.post(
        "/fitting-sessions", json={"room_id": room, "codes": []}, headers=shopper.headers
    )
    assert r.status_code == 422
    with db.reading() as s:
        assert (
            s.scalar(select(FittingSession.id).where(FittingSession.customer_id == shopper.id))
            is None
        )


def test_size_request_queue_moves_through_its_states(client, db, factory, store):
    shopper = factory.user()
    staff = factory.staff(store.merchant)
    session = _open(client, store, shopper, [_tag(store, "M", "Blue", 7)]).json()
    item = session["items"][0]
    want = str(store.variants[("L", "Blue")])
    r = client.post(
        f"/fitting-sessions/{session['id']}/requests",
        json={"variant_id": want, "item_id": item["id"], "note": "one size up"},
        headers=shopper.headers,
    )
    assert r.status_code == 201, r.text
    req = r.json()
    assert (req["status"], req["room_code"], req["in_store"], req["label"]) == (
        "requested",
        "F1",
        3,
        "L / Blue",
    )
    again = client.post(
        f"/fitting-sessions/{session['id']}/requests",
        json={"variant_id": want},
        headers=shopper.headers,
    )
    assert again.json()["id"] == req["id"]  # asked twice: one request

    queue_url = f"/merchants/{store.merchant.id}/stores/{store.location_id}/fitting-requests"
    queue = client.get(queue_url, headers=staff.headers).json()["items"]
    assert [q["id"] for q in queue] == [req["id"]]
    move = f"{queue_url}/{req['id']}"
    bad = client.patch(move, json={"status": "delivered"}, headers=staff.headers)
    assert bad.status_code == 409 and bad.json()["type"] == "/problems/size-request-transition"
    assert (
        client.patch(move, json={"status": "picking"}, headers=staff.headers).json()["status"]
        == "picking"
    )
    assert client.patch(move, json={"status": "picking"}, headers=staff.headers).status_code == 200
    r = client.patch(move, json={"status": "delivered"}, headers=staff.headers)
    assert r.json()["status"] == "delivered"
    # the delivered garment is in the room now
    items = client.get(f"/fitting-sessions/{session['id']}", headers=shopper.headers).json()[
        "items"
    ]
    assert [i["source"] for i in items] == ["scan", "request"]
    assert client.get(queue_url, headers=staff.headers).json()["items"] == []
    done = client.get(queue_url, params={"status": "delivered"}, headers=staff.headers).json()
    assert [q["id"] for q in done["items"]] == [req["id"]]
    late = client.patch(move, json={"status": "cancelled"}, headers=staff.headers)
    assert late.status_code == 409
    changes = _events(db, "o2o.size_request_changed", session["id"])
    assert [(c["from"], c["to"]) for c in changes] == [
        ("requested", "picking"),
        ("picking", "delivered"),
    ]
    assert len(_events(db, "o2o.size_requested", session["id"])) == 1


def test_shopper_cancels_a_request_and_closing_cancels_the_rest(client, db, factory, store):
    shopper = factory.user()
    session = _open(client, store, shopper, [_tag(store, "S", "Blue", 1)]).json()
    sid = session["id"]
    a = client.post(
        f"/fitting-sessions/{sid}/requests",
        json={"variant_id": str(store.variants[("M", "Blue")])},
        headers=shopper.headers,
    ).json()
    b = client.post(
        f"/fitting-sessions/{sid}/requests",
        json={"variant_id": str(store.variants[("S", "Black")])},
        headers=shopper.headers,
    ).json()
    r = client.post(f"/fitting-sessions/{sid}/requests/{a['id']}/cancel", headers=shopper.headers)
    assert r.json()["status"] == "cancelled"
    r = client.post(f"/fitting-sessions/{sid}/close", json={}, headers=shopper.headers)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    statuses = {q["id"]: q["status"] for q in r.json()["requests"]}
    assert statuses == {a["id"]: "cancelled", b["id"]: "cancelled"}
    # a closed session takes no more scans or requests; closing again is harmless
    more = client.post(
        f"/fitting-sessions/{sid}/items",
        json={"codes": [_tag(store, "L", "Blue", 2)]},
        headers=shopper.headers,
    )
    assert more.status_code == 409 and more.json()["type"] == "/problems/fitting-session-closed"
    assert (
        client.post(f"/fitting-sessions/{sid}/close", json={}, headers=shopper.headers).status_code
        == 200
    )
    assert len(_events(db, "o2o.fitting_session_closed", sid)) == 1


def test_bought_comes_from_paid_orders_and_staff_at_close(client, db, factory, store):
    shopper = factory.user()
    staff = factory.staff(store.merchant)
    tried = [("M", "Blue"), ("L", "Blue"), ("S", "Black")]
    session = _open(
        client, store, shopper, [_tag(store, sz, c, 10 + i) for i, (sz, c) in enumerate(tried)]
    ).json()
    sid = session["id"]
    # bought M/Blue on the phone while in the room
    cart = cart_with(client, shopper.headers, [(store.variants[("M", "Blue")], 1)])
    r = client.post(f"/carts/{cart['id']}/checkout", json=checkout_body(), headers=cart["headers"])
    assert r.status_code == 201, r.text
    # the shopper may not claim till sales; staff may, for tried variants only
    r = client.post(
        f"/fitting-sessions/{sid}/close",
        json={"bought_variant_ids": [str(store.variants[("L", "Blue")])]},
        headers=shopper.headers,
    )
    assert r.status_code == 403
    r = client.post(
        f"/fitting-sessions/{sid}/close",
        json={"bought_variant_ids": [str(store.variants[("M", "Black")])]},
        headers=staff.headers,
    )
    assert r.status_code == 422 and r.json()["type"] == "/problems/bought-not-tried"
    r = client.post(
        f"/fitting-sessions/{sid}/close",
        json={"bought_variant_ids": [str(store.variants[("L", "Blue")])]},
        headers=staff.headers,
    )
    assert r.status_code == 200, r.text
    bought = {i["label"]: i["bought_via"] for i in r.json()["items"] if i["bought"]}
    assert bought == {"M / Blue": "order", "L / Blue": "staff"}
    closed = _events(db, "o2o.fitting_session_closed", sid)[0]
    assert closed["tried_count"] == 3 and closed["bought_count"] == 2
    assert {b["variant_id"] for b in closed["bought"]} == {
        str(store.variants[("M", "Blue")]),
        str(store.variants[("L", "Blue")]),
    }
    assert closed["closed_by"] == "staff" and closed["user_id"] == str(shopper.id)

    # bought after leaving, within the window: the order.paid subscriber records it
    cart = cart_with(client, shopper.headers, [(store.variants[("S", "Black")], 1)])
    r = client.post(f"/carts/{cart['id']}/checkout", json=checkout_body(), headers=cart["headers"])
    assert r.status_code == 201, r.text
    while dispatch_pending(db):
        pass
    got = client.get(f"/fitting-sessions/{sid}", headers=shopper.headers).json()
    assert got["bought_count"] == 3
    late = _events(db, "o2o.fitting_item_bought", sid)
    assert [e["variant_id"] for e in late] == [str(store.variants[("S", "Black")])]


def test_staff_open_sessions_for_walk_ins_and_rooms_hold_one_shopper(client, db, factory, store):
    staff = factory.staff(store.merchant)
    shopper, other = factory.user(), factory.user()
    room = make_room(client, store)
    r = _open(client, store, staff, [_tag(store, "S", "Blue", 1)], room)
    assert r.status_code == 201 and r.json()["customer_id"] is None
    walk_in = r.json()["id"]
    busy = _open(client, store, shopper, [_tag(store, "S", "Blue", 2)], room)
    assert busy.status_code == 409 and busy.json()["type"] == "/problems/fitting-room-unavailable"
    client.post(f"/fitting-sessions/{walk_in}/close", json={}, headers=staff.headers)
    mine = _open(client, store, shopper, [_tag(store, "S", "Blue", 2)], room).json()
    # scanning the door again continues the shopper's own session
    again = _open(client, store, shopper, [_tag(store, "L", "Blue", 3)], room).json()
    assert again["id"] == mine["id"] and len(again["items"]) == 2
    assert _open(client, store, other, [_tag(store, "S", "Blue", 4)], room).status_code == 409
    # someone else's session is not found; store staff see it
    assert client.get(f"/fitting-sessions/{mine['id']}", headers=other.headers).status_code == 404
    assert client.get(f"/fitting-sessions/{mine['id']}", headers=staff.headers).status_code == 200
    listed = client.get(
        f"/merchants/{store.merchant.id}/stores/{store.location_id}/fitting-sessions",
        params={"status": "open"},
        headers=staff.headers,
    ).json()["items"]
    assert [x["id"] for x in listed] == [mine["id"]]


def test_rooms_and_tenancy(client, db, factory, store):
    other = make_store(db, factory)
    base = f"/merchants/{store.merchant.id}/stores/{store.location_id}/fitting-rooms"
    admin = store.merchant.admin.headers
    room = make_room(client, store)
    dup = client.post(
        base, json={"zone_id": str(store.zone_id), "code": "F1", "name": "x"}, headers=admin
    )
    assert dup.status_code == 409 and dup.json()["type"] == "/problems/fitting-room-code-taken"
    foreign_zone = client.post(
        base, json={"zone_id": str(other.zone_id), "code": "F2", "name": "x"}, headers=admin
    )
    assert foreign_zone.status_code == 404
    bad = client.post(
        base, json={"zone_id": str(store.zone_id), "code": "F 2", "name": "x"}, headers=admin
    )
    assert bad.status_code == 422
    listed = client.get(base, headers=admin).json()["items"]
    assert [r["id"] for r in listed] == [room]
    # another merchant's admin cannot reach this store's rooms or queue
    assert client.get(base, headers=other.merchant.admin.headers).status_code == 403
    # a room taken out of use opens no sessions
    r = client.patch(f"{base}/{room}", json={"is_active": False}, headers=admin)
    assert r.status_code == 200 and r.json()["is_active"] is False
    shopper = factory.user()
    r = _open(client, store, shopper, [_tag(store, "S", "Blue", 1)], room)
    assert r.status_code == 409
    # another store's variant cannot be requested in this store's session
    r = client.patch(f"{base}/{room}", json={"is_active": True}, headers=admin)
    sid = _open(client, store, shopper, [_tag(store, "S", "Blue", 1)], room).json()["id"]
    r = client.post(
        f"/fitting-sessions/{sid}/requests",
        json={"variant_id": str(other.variants[("S", "Blue")])},
        headers=shopper.headers,
    )
    assert r.status_code == 404
    # and the other merchant's tags are unknown here
    foreign = codes.sgtin96_hex(other.gtins[other.variants[("S", "Blue")]], 5)
    r = client.post(
        f"/fitting-sessions/{sid}/items", json={"codes": [foreign]}, headers=shopper.headers
    )
    assert r.status_code == 422 and r.json()["type"] == "/problems/code-unknown"


def test_idempotent_open_and_stale_sessions_close(client, db, factory, store):
    shopper = factory.user()
    room = make_room(client, store)
    key = {"Idempotency-Key": uuid.uuid4().hex, **shopper.headers}
    body = {"room_id": room, "codes": [_tag(store, "S", "Blue", 1)]}
    first = client.post("/fitting-sessions", json=body, headers=key)
    second = client.post("/fitting-sessions", json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["id"] == second.json()["id"]
    import datetime as dt

    with db.transaction() as s:
        assert service.close_stale(s, dt.datetime.now(dt.UTC) + service.STALE_AFTER * 2) >= 1
    got = client.get(f"/fitting-sessions/{first.json()['id']}", headers=shopper.headers).json()
    assert got["status"] == "closed"
    assert _events(db, "o2o.fitting_session_closed", got["id"])[0]["closed_by"] == "system"
