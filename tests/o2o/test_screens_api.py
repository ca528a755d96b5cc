"""Digital screens: registration (token once), content, playlists with schedules, `now`
(priority, schedule in the store's timezone, persona preference by counts), the player."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from plaza.db import utcnow
from plaza.o2o.beacons import visits
from plaza.o2o.beacons.schemas import SightingIn
from plaza.o2o.screens import service as screens
from plaza.o2o.screens.models import Playlist
from plaza.o2o.stores.schemas import WEEKDAYS
from tests.catalog_helpers import create_product

from .stores_helpers import consent, persona_with, store_world


def _post(client, merchant, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.post(f"/merchants/{merchant.id}/{path}", json=body, headers=merchant.admin.headers)
    assert r.status_code == status, r.text
    return dict(r.json())


def screen_world(client, db, factory):  # type: ignore[no-untyped-def]
    w = store_world(db, factory)
    screen = _post(
        client, w.merchant, "screens", {"zone_id": str(w.zones["entrance"]), "name": "Door"}
    )
    return w, screen


def now_of(client, screen: dict[str, Any], token: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"X-Screen-Token": token if token is not None else screen["token"]}
    return client.get(f"/screens/{screen['id']}/now", headers=headers)


def image(client, merchant, title: str, personas: list[str] | None = None) -> str:  # type: ignore[no-untyped-def]
    body = {"kind": "image", "title": title, "url": f"https://cdn.example.com/{title}.jpg"}
    if personas:
        body["persona_ids"] = personas
    return str(_post(client, merchant, "screen-content", body)["id"])


def test_screen_token_is_shown_once_and_checked(client, db, factory):
    w, screen = screen_world(client, db, factory)
    assert screen["token"].startswith("scr_")
    assert screen["player_url"] == f"/screens/{screen['id']}/player#token={screen['token']}"
    h = w.merchant.admin.headers
    got = client.get(f"/merchants/{w.merchant.id}/screens/{screen['id']}", headers=h).json()
    assert "token" not in got
    r = now_of(client, screen)
    assert r.status_code == 200 and r.json()["playlist_id"] is None and r.json()["items"] == []
    for bad in ("", "scr_wrong"):
        r = now_of(client, screen, bad)
        assert r.status_code == 403 and r.json()["type"] == "/problems/screen-token-invalid"
    assert client.get(f"/screens/{screen['id']}/now").status_code == 403
    assert (
        client.get(f"/screens/{uuid.uuid4()}/now", headers={"X-Screen-Token": "x"}).status_code
        == 404
    )
    # Rotation: the old token stops working.
    fresh = client.post(
        f"/merchants/{w.merchant.id}/screens/{screen['id']}/token", headers=h
    ).json()
    assert now_of(client, screen).status_code == 403
    assert now_of(client, fresh).status_code == 200
    # Switched off: refused.
    client.patch(
        f"/merchants/{w.merchant.id}/screens/{screen['id']}", json={"is_active": False}, headers=h
    )
    assert now_of(client, fresh).status_code == 403
    # The poll is recorded (throttled).
    got = client.get(f"/merchants/{w.merchant.id}/screens/{screen['id']}", headers=h).json()
    assert got["last_polled_at"] is not None


def test_highest_priority_scheduled_playlist_wins(client, db, factory):
    w, screen = screen_world(client, db, factory)
    a, b, c = (image(client, w.merchant, t) for t in ("a", "b", "c"))
    _post(client, w.merchant, "playlists", {"name": "Base", "items": [a, b]})
    _post(
        client,
        w.merchant,
        "playlists",
        {
            "name": "Other screen",
            "priority": 90,
            "items": [c],
            "screen_ids": [
                str(
                    _post(
                        client,
                        w.merchant,
                        "screens",
                        {"zone_id": str(w.zones["mens"]), "name": "M"},
                    )["id"]
                )
            ],
        },
    )
    _post(
        client,
        w.merchant,
        "playlists",
        {"name": "Past", "priority": 80, "items": [c], "end_date": "2020-01-01"},
    )
    r = now_of(client, screen).json()
    assert r["playlist_name"] == "Base"
    assert [i["title"] for i in r["items"]] == ["a", "b"]
    assert r["items"][0]["url"] == "https://cdn.example.com/a.jpg"
    _post(client, w.merchant, "playlists", {"name": "Sale", "priority": 50, "items": [c]})
    assert now_of(client, screen).json()["playlist_name"] == "Sale"


def test_schedule_is_evaluated_in_the_store_timezone(db, factory, client):
    w, _ = screen_world(client, db, factory)
    p = Playlist(
        merchant_id=w.merchant.id,
        name="Mornings",
        days=["mon"],
        daily_from="09:00",
        daily_to="12:00",
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 1, 31),
    )
    # Monday 2026-01-12: 08:30 UTC is 09:30 in Amsterdam (CET, UTC+1).
    assert screens.scheduled(p, dt.datetime(2026, 1, 12, 9, 30)) is True
    assert screens.scheduled(p, dt.datetime(2026, 1, 12, 12, 0)) is False  # to is exclusive
    assert screens.scheduled(p, dt.datetime(2026, 1, 13, 10, 0)) is False  # Tuesday
    assert screens.scheduled(p, dt.datetime(2026, 2, 2, 10, 0)) is False  # after end_date
    with db.reading() as s:
        from plaza.o2o.stores import service as stores

        store = stores.get_store(s, w.merchant.id, w.stores["ams"])
        local = stores.local_now(store.timezone, dt.datetime(2026, 1, 12, 8, 30, tzinfo=dt.UTC))
    assert (local.hour, local.minute) == (9, 30) and screens.scheduled(p, local)
    assert WEEKDAYS[local.weekday()] == "mon"


def test_content_for_the_personas_present_comes_first(client, db, factory):
    w, screen = screen_world(client, db, factory)
    door = {"kind": "ibeacon", "uuid": str(uuid.uuid4()), "major": 1, "minor": 1}
    _post(client, w.merchant, "beacons", {"beacon": door, "zone_id": str(w.zones["entrance"])})
    runner, hiker, private = factory.user(), factory.user(), factory.user()
    runners = persona_with(db, w.merchant.id, runner.id, private.id)
    hikers = persona_with(db, w.merchant.id, hiker.id)
    consent(db, runner.id, "personalisation")
    consent(db, hiker.id, "personalisation")
    product_id, _ = create_product(db, w.merchant.id, title="Trail shoe")
    generic = image(client, w.merchant, "generic")
    for_hikers = image(client, w.merchant, "hike", [str(hikers)])
    card = _post(
        client,
        w.merchant,
        "screen-content",
        {
            "kind": "product",
            "title": "Shoe",
            "product_id": str(product_id),
            "persona_ids": [str(runners)],
        },
    )["id"]
    _post(client, w.merchant, "playlists", {"name": "All", "items": [generic, for_hikers, card]})
    # Nobody present: the playlist's order.
    r = now_of(client, screen).json()
    assert [i["content_id"] for i in r["items"]] == [generic, for_hikers, card]
    assert r["audience"] == {"present": 0, "matched": 0}
    assert r["items"][2]["product"]["title"] == "Trail shoe"
    # The runner and the private runner (no personalisation consent) walk in.
    now = utcnow()
    with db.transaction() as s:
        for who in (runner, private):
            visits.record_sightings(
                s,
                who.id,
                [SightingIn.model_validate({"beacon": door, "rssi": -50, "seen_at": now})],
                now=now,
            )
    r = now_of(client, screen).json()
    assert [i["content_id"] for i in r["items"]] == [card, generic, for_hikers]
    assert [i["for_audience"] for i in r["items"]] == [True, False, False]
    assert r["audience"] == {"present": 2, "matched": 1}  # counts only
    assert str(runner.id) not in str(r) and str(runners) not in str(r)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("screen-content", {"kind": "image", "title": "x"}),  # no url
        ("screen-content", {"kind": "image", "title": "x", "url": "javascript:alert(1)"}),
        (
            "screen-content",
            {
                "kind": "video",
                "title": "x",
                "url": "https://a.example/v.mp4",
                "product_id": str(uuid.uuid4()),
            },
        ),
        ("screen-content", {"kind": "product", "title": "x", "product_id": str(uuid.uuid4())}),
        ("screen-content", {"kind": "offer", "title": "x", "offer_id": str(uuid.uuid4())}),
        (
            "screen-content",
            {
                "kind": "image",
                "title": "x",
                "url": "https://a.example/i.png",
                "duration_seconds": 0,
            },
        ),
        ("playlists", {"name": "x", "items": []}),
        ("playlists", {"name": "x", "items": [str(uuid.uuid4())]}),  # not the merchant's
        ("playlists", {"name": "x", "items": [str(uuid.uuid4())], "days": ["someday"]}),
        ("playlists", {"name": "x", "items": [str(uuid.uuid4())], "daily_from": "10:00"}),
        (
            "playlists",
            {
                "name": "x",
                "items": [str(uuid.uuid4())],
                "start_date": "2026-02-01",
                "end_date": "2026-01-01",
            },
        ),
        ("playlists", {"name": "x", "items": [str(uuid.uuid4())], "priority": 1001}),
        ("screens", {"zone_id": str(uuid.uuid4()), "name": ""}),
    ],
)
def test_bad_screen_inputs(client, db, factory, path, body):
    w = store_world(db, factory)
    r = client.post(
        f"/merchants/{w.merchant.id}/{path}", json=body, headers=w.merchant.admin.headers
    )
    assert r.status_code == 422, r.text
    assert r.json()["type"] == "/problems/validation-error"


def test_screens_of_another_merchant_are_not_found(client, db, factory):
    w, screen = screen_world(client, db, factory)
    other = store_world(db, factory)
    oh = other.merchant.admin.headers
    assert (
        client.get(f"/merchants/{other.merchant.id}/screens/{screen['id']}", headers=oh).status_code
        == 404
    )
    r = client.post(
        f"/merchants/{other.merchant.id}/screens",
        json={"zone_id": str(w.zones["entrance"]), "name": "Sneaky"},
        headers=oh,
    )
    assert r.status_code == 404
    mine = image(client, w.merchant, "mine")
    r = client.post(
        f"/merchants/{other.merchant.id}/playlists", json={"name": "x", "items": [mine]}, headers=oh
    )
    assert r.status_code == 422


def test_player_page(client, db, factory):
    _, screen = screen_world(client, db, factory)
    r = client.get(f"/screens/{screen['id']}/player")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert f"data-screen='{screen['id']}'" in r.text and screen["token"] not in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'sha256-" in csp and "connect-src 'self'" in csp
    assert client.get(f"/screens/{uuid.uuid4()}/player").status_code == 404
