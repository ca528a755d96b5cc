"""Beacons, sightings, visits (enter / dwell / exit with debounce) and proximity offers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from plaza.db import utcnow
from plaza.events import OutboxEvent
from plaza.o2o.beacons import visits
from plaza.o2o.beacons.models import Visit
from plaza.o2o.beacons.schemas import SightingIn
from tests.catalog_helpers import create_product

from .stores_helpers import consent, persona_with, store_world

IB_UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"


def ibeacon(major: int, minor: int = 1) -> dict[str, Any]:
    return {"kind": "ibeacon", "uuid": IB_UUID, "major": major, "minor": minor}


def unique_major() -> int:
    return uuid.uuid4().int % 65000


def register(client, merchant, zone_id, beacon) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post(
        f"/merchants/{merchant.id}/beacons",
        json={"beacon": beacon, "zone_id": str(zone_id)},
        headers=merchant.admin.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def at(seconds_ago: float) -> str:
    return (utcnow() - dt.timedelta(seconds=seconds_ago)).isoformat()


def sight(beacon: dict[str, Any], seen_at: str, rssi: int = -60) -> dict[str, Any]:
    return {"beacon": beacon, "rssi": rssi, "seen_at": seen_at}


def events(db, kind: str, **payload: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    with db.reading() as s:
        rows = s.scalars(select(OutboxEvent).where(OutboxEvent.type == kind))
        return [e.payload for e in rows if all(e.payload.get(k) == v for k, v in payload.items())]


# --- registration ---------------------------------------------------------------------------


def test_register_beacons_and_identifiers_are_unique_platform_wide(client, db, factory):
    w = store_world(db, factory)
    other = store_world(db, factory)
    major = unique_major()
    b = register(client, w.merchant, w.zones["entrance"], ibeacon(major))
    assert b["identifier"] == f"ibeacon:{IB_UUID}:{major}:1"
    assert b["store_id"] == str(w.stores["ams"])
    # Same iBeacon under another merchant: 409.
    r = client.post(
        f"/merchants/{other.merchant.id}/beacons",
        json={"beacon": ibeacon(major), "zone_id": str(other.zones["entrance"])},
        headers=other.merchant.admin.headers,
    )
    assert r.status_code == 409 and r.json()["type"] == "/problems/beacon-identifier-taken"
    ns = uuid.uuid4().hex[:20]
    e = register(
        client,
        w.merchant,
        w.zones["mens"],
        {"kind": "eddystone_uid", "namespace": ns.upper(), "instance": "0A0B0C0D0E0F"},
    )
    assert e["identifier"] == f"eddystone_uid:{ns}:0a0b0c0d0e0f"  # canonical lower case
    r = client.post(
        f"/merchants/{w.merchant.id}/beacons",
        json={
            "beacon": {"kind": "eddystone_uid", "namespace": ns, "instance": "0a0b0c0d0e0f"},
            "zone_id": str(w.zones["entrance"]),
        },
        headers=w.merchant.admin.headers,
    )
    assert r.status_code == 409
    # Move, switch off, delete (the identifier becomes free).
    base = f"/merchants/{w.merchant.id}/beacons/{b['id']}"
    h = w.merchant.admin.headers
    r = client.patch(base, json={"zone_id": str(w.zones["mens"]), "label": "door"}, headers=h)
    assert r.status_code == 200 and r.json()["zone_id"] == str(w.zones["mens"])
    listed = client.get(f"/merchants/{w.merchant.id}/beacons", headers=h).json()["items"]
    assert {x["id"] for x in listed} == {b["id"], e["id"]}
    assert client.delete(base, headers=h).status_code == 204
    register(client, other.merchant, other.zones["entrance"], ibeacon(major))


@pytest.mark.parametrize(
    "beacon",
    [
        {"kind": "ibeacon", "uuid": "not-a-uuid", "major": 1, "minor": 1},
        {"kind": "ibeacon", "uuid": IB_UUID, "major": 65536, "minor": 1},
        {"kind": "ibeacon", "uuid": IB_UUID, "major": -1, "minor": 1},
        {"kind": "eddystone_uid", "namespace": "00" * 9, "instance": "00" * 6},
        {"kind": "eddystone_uid", "namespace": "zz" * 10, "instance": "00" * 6},
        {"kind": "eddystone_uid", "namespace": "00" * 10, "instance": "00" * 7},
        {"kind": "altbeacon", "id": "x"},
    ],
)
def test_malformed_beacon_identifiers(client, db, factory, beacon):
    w = store_world(db, factory)
    r = client.post(
        f"/merchants/{w.merchant.id}/beacons",
        json={"beacon": beacon, "zone_id": str(w.zones["entrance"])},
        headers=w.merchant.admin.headers,
    )
    assert r.status_code == 422 and r.json()["type"] == "/problems/validation-error"


def test_a_zone_of_another_merchant_is_not_found(client, db, factory):
    w = store_world(db, factory)
    other = store_world(db, factory)
    r = client.post(
        f"/merchants/{w.merchant.id}/beacons",
        json={"beacon": ibeacon(unique_major()), "zone_id": str(other.zones["entrance"])},
        headers=w.merchant.admin.headers,
    )
    assert r.status_code == 404


# --- sightings: per-item rejection -------------------------------------------------------------


def test_each_bad_sighting_is_rejected_with_its_own_problem(client, db, factory):
    w = store_world(db, factory)
    known = ibeacon(unique_major())
    register(client, w.merchant, w.zones["entrance"], known)
    shopper = factory.user()
    body = {
        "sightings": [
            sight(known, at(1)),
            sight(ibeacon(unique_major(), 9), at(1)),  # unknown
            sight(known, at(10 * 60)),  # stale
            sight(known, (utcnow() + dt.timedelta(minutes=2)).isoformat()),  # future
            sight(known, at(1), rssi=-130),  # impossible
            sight(known, at(1), rssi=5),
        ]
    }
    r = client.post("/o2o/sightings", json=body, headers=shopper.headers)
    assert r.status_code == 200, r.text
    out = r.json()
    got = [(x["status"], (x["error"] or {}).get("type")) for x in out["results"]]
    assert got == [
        ("accepted", None),
        ("rejected", "/problems/sighting-unknown-beacon"),
        ("rejected", "/problems/sighting-stale"),
        ("rejected", "/problems/sighting-from-future"),
        ("rejected", "/problems/sighting-rssi-impossible"),
        ("rejected", "/problems/sighting-rssi-impossible"),
    ]
    assert (out["accepted"], out["rejected"]) == (1, 5)
    assert len(out["visits"]) == 1 and out["visits"][0]["zone_id"] == str(w.zones["entrance"])
    # Problem types are served at their URIs.
    assert client.get("/problems/sighting-unknown-beacon").status_code == 200


def test_switched_off_beacon_is_unknown(client, db, factory):
    w = store_world(db, factory)
    beacon = ibeacon(unique_major())
    b = register(client, w.merchant, w.zones["entrance"], beacon)
    h = w.merchant.admin.headers
    client.patch(
        f"/merchants/{w.merchant.id}/beacons/{b['id']}", json={"is_active": False}, headers=h
    )
    r = client.post(
        "/o2o/sightings", json={"sightings": [sight(beacon, at(1))]}, headers=factory.user().headers
    )
    assert r.json()["results"][0]["error"]["type"] == "/problems/sighting-unknown-beacon"


@pytest.mark.parametrize(
    "body",
    [
        {"sightings": []},
        {"sightings": [sight(ibeacon(1), at(1))] * 51},
        {"sightings": [{"beacon": ibeacon(1), "rssi": -60, "seen_at": "2026-01-01T10:00:00"}]},
        {"sightings": [{"beacon": ibeacon(1), "rssi": -60}]},
        {"sightings": [{"beacon": ibeacon(1), "rssi": -5000, "seen_at": at(1)}]},
        {"sightings": [sight(ibeacon(1), at(1))], "extra": True},
    ],
)
def test_malformed_batches_are_rejected_whole(client, factory, body):
    r = client.post("/o2o/sightings", json=body, headers=factory.user().headers)
    assert r.status_code == 422 and r.json()["type"] == "/problems/validation-error"


def test_sightings_need_a_signed_in_customer(client):
    r = client.post("/o2o/sightings", json={"sightings": [sight(ibeacon(1), at(1))]})
    assert r.status_code == 401


# --- visits: enter, dwell, de-duplicate, debounce, exit ----------------------------------------


def test_enter_dwell_duplicate_and_exit_by_silence(client, db, factory):
    w = store_world(db, factory)
    door, mens = ibeacon(unique_major()), ibeacon(unique_major())
    register(client, w.merchant, w.zones["entrance"], door)
    register(client, w.merchant, w.zones["mens"], mens)
    shopper = factory.user()
    h = shopper.headers
    t0 = utcnow() - dt.timedelta(seconds=240)

    def iso(seconds: float) -> str:
        return (t0 + dt.timedelta(seconds=seconds)).isoformat()

    # Enter the entrance zone; the same scan twice in one batch is one sighting.
    r = client.post(
        "/o2o/sightings", json={"sightings": [sight(door, iso(0)), sight(door, iso(0))]}, headers=h
    ).json()
    assert [x["status"] for x in r["results"]] == ["accepted", "duplicate"]
    visit_id = r["visits"][0]["id"]
    assert len(events(db, "o2o.visit_started", visit_id=visit_id)) == 1
    payload = events(db, "o2o.visit_started", visit_id=visit_id)[0]
    assert payload == {
        "visit_id": visit_id,
        "user_id": str(shopper.id),
        "store_id": str(w.stores["ams"]),
        "zone_id": str(w.zones["entrance"]),
    }
    # Still there at +20 s; at +25 s the phone also hears the menswear beacon (an edge):
    # within the 30 s debounce, the entrance visit stays open.
    r = client.post(
        "/o2o/sightings",
        json={"sightings": [sight(door, iso(20)), sight(mens, iso(25))]},
        headers=h,
    ).json()
    assert {v["zone_id"]: v["ended_at"] for v in r["visits"]} == {
        str(w.zones["entrance"]): None,
        str(w.zones["mens"]): None,
    }
    # A replay of an old sighting adds nothing.
    r = client.post("/o2o/sightings", json={"sightings": [sight(door, iso(10))]}, headers=h).json()
    assert r["results"][0]["status"] == "duplicate" and r["visits"] == []
    # Dwell: 60 s after entering, once.
    client.post("/o2o/sightings", json={"sightings": [sight(door, iso(45))]}, headers=h)
    r = client.post("/o2o/sightings", json={"sightings": [sight(door, iso(61))]}, headers=h).json()
    assert r["visits"][0]["dwelled_at"] is not None
    client.post("/o2o/sightings", json={"sightings": [sight(door, iso(75))]}, headers=h)
    assert len(events(db, "o2o.visit_dwelled", visit_id=visit_id)) == 1
    # Menswear heard again at +110 s: the entrance has been silent 35 s (> 30 s) and ends at
    # its last sighting; the menswear visit had been silent 85 s, so it ended too and a
    # new one starts.
    r = client.post("/o2o/sightings", json={"sightings": [sight(mens, iso(110))]}, headers=h).json()
    by_zone = {(v["zone_id"], v["ended_at"] is None) for v in r["visits"]}
    assert (str(w.zones["entrance"]), False) in by_zone
    assert (str(w.zones["mens"]), True) in by_zone
    ended = events(db, "o2o.visit_ended", visit_id=visit_id)
    assert len(ended) == 1
    with db.reading() as s:
        v = s.get(Visit, uuid.UUID(visit_id))
        assert v is not None and v.ended_at == t0 + dt.timedelta(seconds=75)
    # Re-entering the entrance opens a new visit.
    r = client.post("/o2o/sightings", json={"sightings": [sight(door, iso(120))]}, headers=h).json()
    assert [v["id"] for v in r["visits"] if v["ended_at"] is None] != [visit_id]


def test_housekeeping_ends_silent_visits(db, factory, client):
    w = store_world(db, factory)
    door = ibeacon(unique_major())
    register(client, w.merchant, w.zones["entrance"], door)
    shopper = factory.user()
    rules = visits.VisitRules(dwell_seconds=60, exit_seconds=30)
    now = utcnow()
    with db.transaction() as s:
        out = visits.record_sightings(
            s,
            shopper.id,
            [SightingIn.model_validate({"beacon": door, "rssi": -70, "seen_at": now})],
            now=now,
            rules=rules,
        )
    visit_id = out.visits[0].id
    with db.transaction() as s:  # 20 s later: still present
        visits.end_silent_visits(s, now=now + dt.timedelta(seconds=20), rules=rules)
        assert s.get(Visit, visit_id).ended_at is None  # type: ignore[union-attr]
    with db.transaction() as s:
        visits.end_silent_visits(s, now=now + dt.timedelta(seconds=31), rules=rules)
        assert s.get(Visit, visit_id).ended_at == now  # type: ignore[union-attr]
    assert len(events(db, "o2o.visit_ended", visit_id=str(visit_id))) == 1
    # The job itself is cheap when nothing is due and safe to run.
    visits._last_sweep = None
    visits.sweep_job(db)


def test_retry_with_idempotency_key_replays(client, db, factory):
    w = store_world(db, factory)
    door = ibeacon(unique_major())
    register(client, w.merchant, w.zones["entrance"], door)
    h = {**factory.user().headers, "Idempotency-Key": uuid.uuid4().hex}
    body = {"sightings": [sight(door, at(2))]}
    first = client.post("/o2o/sightings", json=body, headers=h)
    again = client.post("/o2o/sightings", json=body, headers=h)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()


# --- proximity offers ----------------------------------------------------------------------------


def offer_body(zone_id: uuid.UUID, **over: Any) -> dict[str, Any]:
    now = utcnow()
    body: dict[str, Any] = {
        "zone_id": str(zone_id),
        "title": "Coffee on us",
        "message": "Show this at the counter",
        "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
        "ends_at": (now + dt.timedelta(hours=1)).isoformat(),
    }
    body.update(over)
    return body


def make_offer(client, merchant, body) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post(f"/merchants/{merchant.id}/offers", json=body, headers=merchant.admin.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def enter(client, headers, beacon, seconds_ago: float = 1) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post(
        "/o2o/sightings", json={"sightings": [sight(beacon, at(seconds_ago))]}, headers=headers
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_offers_on_entry_respect_consent_cap_and_persona(client, db, factory):
    w = store_world(db, factory)
    door = ibeacon(unique_major())
    register(client, w.merchant, w.zones["entrance"], door)
    fan, stranger, quiet = factory.user(), factory.user(), factory.user()
    consent(db, fan.id, "marketing")
    consent(db, stranger.id, "marketing")
    persona = persona_with(db, w.merchant.id, fan.id, quiet.id)
    everyone = make_offer(client, w.merchant, offer_body(w.zones["entrance"], cap_per_customer=1))
    targeted = make_offer(
        client,
        w.merchant,
        offer_body(
            w.zones["entrance"],
            title="For regulars",
            audience="personas",
            persona_ids=[str(persona)],
            cap_per_customer=2,
        ),
    )
    make_offer(client, w.merchant, offer_body(w.zones["mens"], title="Elsewhere"))

    got = enter(client, fan.headers, door, 200)
    assert {o["offer_id"] for o in got["offers"]} == {everyone["id"], targeted["id"]}
    assert events(db, "o2o.offer_delivered", offer_id=everyone["id"], user_id=str(fan.id))
    # Not a persona member: only the offer for everyone.
    assert [o["offer_id"] for o in enter(client, stranger.headers, door)["offers"]] == [
        everyone["id"]
    ]
    # No marketing consent: no offers, though the visit counts.
    out = enter(client, quiet.headers, door)
    assert out["offers"] == [] and len(out["visits"]) == 1
    # The fan leaves (silence) and comes back: the capped-at-1 offer is not repeated.
    again = enter(client, fan.headers, door, 1)
    assert [o["offer_id"] for o in again["offers"]] == [targeted["id"]]
    # Third entry: the persona offer's cap of 2 is reached too.
    with db.transaction() as s:
        visits.end_silent_visits(s, now=utcnow() + dt.timedelta(minutes=5))
    assert enter(client, fan.headers, door, 0)["offers"] == []
    listed = client.get(
        f"/merchants/{w.merchant.id}/offers/{everyone['id']}", headers=w.merchant.admin.headers
    )
    assert listed.json()["deliveries"] == 2


def test_offer_time_windows(client, db, factory):
    w = store_world(db, factory)
    door = ibeacon(unique_major())
    register(client, w.merchant, w.zones["entrance"], door)
    now = utcnow()
    make_offer(
        client,
        w.merchant,
        offer_body(
            w.zones["entrance"],
            title="Tomorrow",
            starts_at=(now + dt.timedelta(days=1)).isoformat(),
            ends_at=(now + dt.timedelta(days=2)).isoformat(),
        ),
    )
    # Daily hours that exclude the current local hour in the store (Europe/Amsterdam).
    import zoneinfo

    local = now.astimezone(zoneinfo.ZoneInfo("Europe/Amsterdam"))
    start = (local.hour + 2) % 22
    make_offer(
        client,
        w.merchant,
        offer_body(
            w.zones["entrance"],
            title="Later today",
            daily_from=f"{start:02d}:00",
            daily_to=f"{start + 1:02d}:00",
        ),
    )
    shopper = factory.user()
    consent(db, shopper.id, "marketing")
    assert enter(client, shopper.headers, door)["offers"] == []


@pytest.mark.parametrize(
    "over",
    [
        {"ends_at": "2020-01-01T00:00:00Z"},
        {"daily_from": "10:00"},
        {"daily_from": "18:00", "daily_to": "10:00"},
        {"audience": "personas"},
        {"persona_ids": [str(uuid.uuid4())]},
        {"audience": "personas", "persona_ids": [str(uuid.uuid4())]},  # not the merchant's
        {"product_ids": [str(uuid.uuid4())]},
        {"cap_per_customer": 0},
        {"title": ""},
        {"starts_at": "2026-01-01T10:00:00"},  # naive
    ],
)
def test_bad_offers(client, db, factory, over):
    w = store_world(db, factory)
    r = client.post(
        f"/merchants/{w.merchant.id}/offers",
        json=offer_body(w.zones["entrance"], **over),
        headers=w.merchant.admin.headers,
    )
    assert r.status_code == 422, r.text
    assert r.json()["type"] == "/problems/validation-error"


def test_offer_crud_and_tenancy(client, db, factory):
    w = store_world(db, factory)
    other = store_world(db, factory)
    h = w.merchant.admin.headers
    product_id, _ = create_product(db, w.merchant.id)
    offer = make_offer(
        client, w.merchant, offer_body(w.zones["entrance"], product_ids=[str(product_id)])
    )
    base = f"/merchants/{w.merchant.id}/offers/{offer['id']}"
    r = client.put(base, json=offer_body(w.zones["mens"], title="Moved"), headers=h)
    assert r.status_code == 200 and r.json()["zone_id"] == str(w.zones["mens"])
    # Another merchant's zone, or reading it from another merchant's path: 404 / 403.
    r = client.put(base, json=offer_body(other.zones["mens"]), headers=h)
    assert r.status_code == 404
    r = client.get(
        f"/merchants/{other.merchant.id}/offers/{offer['id']}", headers=other.merchant.admin.headers
    )
    assert r.status_code == 404
    assert client.get(base, headers=other.merchant.admin.headers).status_code == 403
    assert client.delete(base, headers=h).status_code == 204
    assert client.get(base, headers=h).status_code == 404
