"""Back-office O2O pages: stores (profile, zones, staff), beacons and proximity offers,
fitting-room setup (QR code, recent sessions), screens and playlists (token shown once,
preview of what a screen shows now). Forms validated with the contexts' schemas; other
merchants refused; staff vs admin where the API differs (store staff assignment)."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from plaza.db import Database
from plaza.o2o import codes
from plaza.o2o.beacons import offers as offer_service
from plaza.o2o.beacons import service as beacon_service
from plaza.o2o.screens import service as screen_service
from plaza.o2o.screens.models import Screen
from plaza.o2o.stores import service as store_service
from tests.factories import Actor, Factory, MerchantCtx
from tests.o2o.fitting_helpers import Store, make_room, make_store
from tests.o2o.stores_helpers import AMSTERDAM, add_store, add_zone, persona_with

from .conftest import csrf_of, sign_in_web


@pytest.fixture
def shop(db: Database, factory: Factory) -> Store:
    return make_store(db, factory)


def _in(client: TestClient, who: Actor, merchant: MerchantCtx, path: str = "/stores") -> str:
    sign_in_web(client, who.email)
    r = client.get(f"/back-office/{merchant.id}{path}")
    assert r.status_code == 200, r.text
    return csrf_of(r.text)


# --- stores -----------------------------------------------------------------------------------


def test_stores_list_and_profile_form_round_trip(
    web_client: TestClient, shop: Store, db: Database
) -> None:
    m = shop.merchant
    token = _in(web_client, m.admin, m)
    r = web_client.get(f"/back-office/{m.id}/stores")
    assert "Haarlemmerstraat" in r.text and 'aria-current="page">Stores' in r.text
    url = f"/back-office/{m.id}/stores/{shop.location_id}"
    page = web_client.get(url)
    assert page.status_code == 200
    assert '<label for="hours_mon">Monday' in page.text
    form = {
        "csrf_token": token,
        "timezone": "Europe/Amsterdam",
        "phone": "+31 20 123 4567",
        "services": ["click_collect", "fitting_rooms"],
        "hours_mon": "09:00-12:00, 13:00-18:00",
        "hours_sat": "10:00-17:00",
        "exceptions": "2026-12-25 closed Christmas\n2026-12-24 09:00-14:00 Christmas Eve",
    }
    r = web_client.post(url, data=form)
    assert r.status_code == 303, r.text
    with db.reading() as s:
        prof = store_service.profile_view(store_service.get_store(s, m.id, shop.location_id))
    assert [(i.open, i.close) for i in prof.hours["mon"]] == [
        ("09:00", "12:00"),
        ("13:00", "18:00"),
    ]
    assert set(prof.services) == {"click_collect", "fitting_rooms"}
    assert prof.phone == "+31 20 123 4567"
    assert [(str(e.date), e.closed, e.note) for e in prof.exceptions] == [
        ("2026-12-24", False, "Christmas Eve"),
        ("2026-12-25", True, "Christmas"),
    ]
    again = web_client.get(url)
    assert 'value="09:00-12:00, 13:00-18:00"' in again.text
    assert "2026-12-25 closed Christmas" in again.text


def test_store_profile_errors_sit_next_to_their_fields(web_client: TestClient, shop: Store) -> None:
    m = shop.merchant
    token = _in(web_client, m.admin, m)
    url = f"/back-office/{m.id}/stores/{shop.location_id}"
    r = web_client.post(url, data={"csrf_token": token, "hours_tue": "18:00-09:00"})
    assert r.status_code == 422
    assert 'id="hours_tue-error"' in r.text and "not after open" in r.text
    r = web_client.post(url, data={"csrf_token": token, "hours_wed": "whenever"})
    assert r.status_code == 422 and 'id="hours_wed-error"' in r.text
    r = web_client.post(url, data={"csrf_token": token, "timezone": "Mars/Olympus"})
    assert r.status_code == 422 and 'id="timezone-error"' in r.text
    r = web_client.post(url, data={"csrf_token": token, "exceptions": "2026-01-01 soon"})
    assert r.status_code == 422 and 'id="exceptions-error"' in r.text


def test_zones_add_edit_remove(web_client: TestClient, shop: Store, db: Database) -> None:
    m = shop.merchant
    token = _in(web_client, m.admin, m)
    base = f"/back-office/{m.id}/stores/{shop.location_id}"
    r = web_client.post(
        f"{base}/zones",
        data={"csrf_token": token, "code": "MENS", "name": "Men", "kind": "menswear"},
    )
    assert r.status_code == 303, r.text
    # The same code again, and a bad code: errors next to the field.
    r = web_client.post(
        f"{base}/zones",
        data={"csrf_token": token, "code": "MENS", "name": "Men", "kind": "menswear"},
    )
    assert r.status_code == 422 and 'id="code-error"' in r.text
    r = web_client.post(
        f"{base}/zones", data={"csrf_token": token, "code": "no spaces", "name": "", "kind": "x"}
    )
    assert r.status_code == 422
    assert (
        'id="code-error"' in r.text and 'id="name-error"' in r.text and 'id="kind-error"' in r.text
    )
    with db.reading() as s:
        zone = next(z for z in store_service.list_zones(s, shop.location_id) if z.code == "MENS")
    r = web_client.get(f"{base}/zones/{zone.id}")
    assert r.status_code == 200 and 'value="MENS"' in r.text
    r = web_client.post(
        f"{base}/zones/{zone.id}",
        data={"csrf_token": token, "code": "MENS-1", "name": "Menswear", "kind": "menswear"},
    )
    assert r.status_code == 303
    r = web_client.post(f"{base}/zones/{zone.id}/delete", data={"csrf_token": token})
    assert r.status_code == 303
    with db.reading() as s:
        assert all(z.id != zone.id for z in store_service.list_zones(s, shop.location_id))


def test_staff_assignment_is_for_admins(
    web_client: TestClient, factory: Factory, shop: Store, db: Database
) -> None:
    m = shop.merchant
    clerk = factory.staff(m)
    outsider = factory.user()
    # Staff see the store but not the assign form, and cannot post it.
    token = _in(web_client, clerk, m)
    base = f"/back-office/{m.id}/stores/{shop.location_id}"
    page = web_client.get(base)
    assert page.status_code == 200 and "Assign staff" not in page.text
    r = web_client.post(
        f"{base}/staff", data={"csrf_token": token, "user_id": str(clerk.id), "role": "manager"}
    )
    assert r.status_code == 403
    # Admins assign members, and not outsiders.
    admin_client = TestClient(
        web_client.app, headers=dict(web_client.headers), follow_redirects=False
    )
    token = _in(admin_client, m.admin, m)
    assert "Assign staff" in admin_client.get(base).text
    r = admin_client.post(
        f"{base}/staff",
        data={"csrf_token": token, "user_id": str(outsider.id), "role": "associate"},
    )
    assert r.status_code == 422 and 'id="user_id-error"' in r.text
    r = admin_client.post(
        f"{base}/staff", data={"csrf_token": token, "user_id": str(clerk.id), "role": "manager"}
    )
    assert r.status_code == 303, r.text
    with db.reading() as s:
        (row,) = store_service.list_staff(s, m.id, shop.location_id)
        assert row.user_id == clerk.id and row.role.value == "manager"
    assert clerk.email in admin_client.get(base).text
    r = admin_client.post(f"{base}/staff/{clerk.id}/remove", data={"csrf_token": token})
    assert r.status_code == 303
    with db.reading() as s:
        assert store_service.list_staff(s, m.id, shop.location_id) == []


def test_another_merchants_store_is_out_of_reach(
    web_client: TestClient, factory: Factory, shop: Store
) -> None:
    mine = factory.merchant()
    _in(web_client, mine.admin, mine)
    theirs = shop.merchant
    for path in ("/stores", "/beacons", "/fitting-rooms", "/screens"):
        assert web_client.get(f"/back-office/{theirs.id}{path}").status_code == 403
    # Their store under my back-office: not found.
    assert web_client.get(f"/back-office/{mine.id}/stores/{shop.location_id}").status_code == 404
    assert (
        web_client.get(f"/back-office/{mine.id}/fitting-rooms?store={shop.location_id}").status_code
        == 404
    )


def test_o2o_pages_send_anonymous_to_sign_in(web_client: TestClient, factory: Factory) -> None:
    m = factory.merchant()
    for path in ("/stores", "/beacons", "/fitting-rooms", "/screens", "/beacons/offers/new"):
        r = web_client.get(f"/back-office/{m.id}{path}")
        assert r.status_code == 303 and r.headers["location"].startswith("/shop/sign-in?next=")


# --- beacons and offers ---------------------------------------------------------------------


def test_register_toggle_and_edit_beacons(
    web_client: TestClient, shop: Store, db: Database
) -> None:
    m = shop.merchant
    token = _in(web_client, m.admin, m, "/beacons")
    base = f"/back-office/{m.id}/beacons"
    proximity = str(uuid.uuid4())
    r = web_client.post(
        base,
        data={
            "csrf_token": token,
            "kind": "ibeacon",
            "uuid": proximity,
            "major": "1",
            "minor": "2",
            "zone_id": str(shop.zone_id),
            "label": "Door",
            "is_active": "on",
        },
    )
    assert r.status_code == 303, r.text
    r = web_client.post(
        base,
        data={
            "csrf_token": token,
            "kind": "eddystone_uid",
            "namespace": "00112233445566778899",
            "instance": "nothex",
            "zone_id": str(shop.zone_id),
        },
    )
    assert r.status_code == 422 and 'id="instance-error"' in r.text
    # The same identifier again is refused (as in the API: 409 beacon-identifier-taken).
    r = web_client.post(
        base,
        data={"csrf_token": token, "kind": "ibeacon", "uuid": proximity, "major": "1",
              "minor": "2", "zone_id": str(shop.zone_id)},
    )  # fmt: skip
    assert r.status_code == 422 and "alert-error" in r.text
    with db.reading() as s:
        (b,) = beacon_service.list_beacons(s, m.id, limit=10)
    page = web_client.get(base)
    assert (
        "Door" in page.text and "Fitting rooms (FIT)" in page.text and "Disable Door" in page.text
    )
    assert web_client.post(f"{base}/{b.id}/toggle", data={"csrf_token": token}).status_code == 303
    with db.reading() as s:
        assert beacon_service.get_beacon(s, m.id, b.id).is_active is False
    assert "Enable Door" in web_client.get(base).text
    r = web_client.post(
        f"{base}/{b.id}", data={"csrf_token": token, "zone_id": str(shop.zone_id), "label": "Back"}
    )
    assert r.status_code == 303
    with db.reading() as s:
        assert beacon_service.get_beacon(s, m.id, b.id).label == "Back"


def test_proximity_offer_form(web_client: TestClient, shop: Store, db: Database) -> None:
    m = shop.merchant
    persona = persona_with(db, m.id)
    token = _in(web_client, m.admin, m, "/beacons")
    base = f"/back-office/{m.id}/beacons/offers"
    page = web_client.get(f"{base}/new")
    assert page.status_code == 200 and '<label for="cap_per_customer">Cap per customer' in page.text
    good = {
        "csrf_token": token,
        "zone_id": str(shop.zone_id),
        "title": "Coffee on us",
        "message": "Show this at the counter",
        "audience": "personas",
        "persona_ids": str(persona),
        "starts_at": "2026-01-01T09:00",
        "ends_at": "2026-12-31T18:00",
        "daily_from": "10:00",
        "daily_to": "12:00",
        "cap_per_customer": "2",
        "is_active": "on",
    }
    # Window the wrong way round: the schema's message, the form again.
    r = web_client.post(base, data={**good, "ends_at": "2025-01-01T00:00"})
    assert r.status_code == 422 and "ends_at must be after starts_at" in r.text
    r = web_client.post(base, data={**good, "audience": "personas", "persona_ids": ""})
    assert r.status_code == 422 and "needs persona_ids" in r.text
    r = web_client.post(base, data=good)
    assert r.status_code == 303, r.text
    with db.reading() as s:
        (o,) = offer_service.list_offers(s, m.id, limit=10)
        view = offer_service.offer_view(s, o)
    assert view.persona_ids == [persona] and view.cap_per_customer == 2
    assert view.daily_from == "10:00" and view.starts_at.hour == 9
    edit = web_client.get(f"{base}/{o.id}")
    assert 'value="2026-01-01T09:00"' in edit.text and "checked" in edit.text
    r = web_client.post(f"{base}/{o.id}", data={**good, "audience": "any", "cap_per_customer": "5"})
    assert r.status_code == 303
    with db.reading() as s:
        view = offer_service.offer_view(s, offer_service.get_offer(s, m.id, o.id))
    assert view.audience.value == "any" and view.persona_ids == [] and view.cap_per_customer == 5
    assert web_client.post(f"{base}/{o.id}/delete", data={"csrf_token": token}).status_code == 303


def test_other_merchants_zone_is_refused_in_forms(
    web_client: TestClient, factory: Factory, shop: Store, db: Database
) -> None:
    other = factory.merchant()
    their_zone = add_zone(db, other.id, add_store(db, other.id, AMSTERDAM))
    m = shop.merchant
    token = _in(web_client, m.admin, m, "/beacons")
    r = web_client.post(
        f"/back-office/{m.id}/beacons",
        data={"csrf_token": token, "kind": "ibeacon", "uuid": str(uuid.uuid4()), "major": "1",
              "minor": "1", "zone_id": str(their_zone)},
    )  # fmt: skip
    assert r.status_code == 422 and 'id="zone_id-error"' in r.text
    r = web_client.post(
        f"/back-office/{m.id}/screens",
        data={"csrf_token": token, "zone_id": str(their_zone), "name": "Window"},
    )
    assert r.status_code == 422 and 'id="zone_id-error"' in r.text


# --- fitting rooms ---------------------------------------------------------------------------


def test_fitting_rooms_with_qr_and_recent_sessions(
    web_client: TestClient, client: TestClient, factory: Factory, shop: Store, db: Database
) -> None:
    m = shop.merchant
    room_id = make_room(client, shop, "F1")
    shopper = factory.user()
    tag = codes.sgtin96_hex(shop.gtins[shop.variants[("M", "Blue")]], 7)
    tag2 = codes.sgtin96_hex(shop.gtins[shop.variants[("L", "Blue")]], 8)
    r = client.post(
        "/fitting-sessions",
        json={"room_id": room_id, "codes": [tag, tag2]},
        headers=shopper.headers,
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = client.post(
        f"/fitting-sessions/{sid}/close",
        json={"bought_variant_ids": [str(shop.variants[("M", "Blue")])]},
        headers=m.admin.headers,
    )
    assert r.status_code == 200, r.text
    token = _in(web_client, m.admin, m, "/fitting-rooms")
    page = web_client.get(f"/back-office/{m.id}/fitting-rooms")
    assert page.status_code == 200
    assert f"/shop/fitting?room={room_id}" in page.text
    assert '<svg role="img" aria-label="QR code for fitting room F1"' in page.text
    assert "<script" not in page.text.split("<main", 1)[1]
    # Recent sessions: tried 2, bought 1.
    assert '<td class="num">2</td>' in page.text and '<td class="num">1</td>' in page.text
    base = f"/back-office/{m.id}/fitting-rooms/{shop.location_id}"
    r = web_client.post(
        base, data={"csrf_token": token, "zone_id": str(shop.zone_id), "code": "F1", "name": "Dup"}
    )
    assert r.status_code == 422 and 'id="code-error"' in r.text
    r = web_client.post(
        base,
        data={"csrf_token": token, "zone_id": str(shop.zone_id), "code": "F2", "name": "Two",
              "is_active": "on"},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    detail = web_client.get(f"{base}/{room_id}")
    assert detail.status_code == 200 and "QR code for the door" in detail.text
    r = web_client.post(
        f"{base}/{room_id}",
        data={"csrf_token": token, "zone_id": str(shop.zone_id), "code": "F1", "name": "Corner"},
    )
    assert r.status_code == 303
    page = web_client.get(f"/back-office/{m.id}/fitting-rooms?store={shop.location_id}")
    assert "Corner (F1)" in page.text and "Out of use" in page.text and "Two (F2)" in page.text


# --- screens ------------------------------------------------------------------------------------


def test_screen_token_shown_once_and_preview_now(
    web_client: TestClient, shop: Store, db: Database
) -> None:
    m = shop.merchant
    persona = persona_with(db, m.id)
    token = _in(web_client, m.admin, m, "/screens")
    base = f"/back-office/{m.id}/screens"
    r = web_client.post(base, data={"csrf_token": token, "zone_id": "", "name": ""})
    assert r.status_code == 422 and 'id="zone_id-error"' in r.text
    r = web_client.post(
        base,
        data={
            "csrf_token": token,
            "zone_id": str(shop.zone_id),
            "name": "Window",
            "is_active": "on",
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    secret = r.text.split('id="screen-token">', 1)[1].split("<", 1)[0]
    with db.reading() as s:
        (screen,) = s.scalars(select(Screen).where(Screen.merchant_id == m.id)).all()
        assert screen_service.authenticate(s, screen.id, secret).id == screen.id
    assert f"/screens/{screen.id}/player#token={secret}" in r.text
    assert secret not in web_client.get(f"{base}/{screen.id}").text  # never shown again
    # Content (tagged for a persona) and a playlist for the screen.
    r = web_client.post(
        f"{base}/content",
        data={"csrf_token": token, "kind": "image", "title": "Spring", "duration_seconds": "8",
              "url": "https://cdn.example/spring.jpg", "persona_ids": str(persona)},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    r = web_client.post(
        f"{base}/content", data={"csrf_token": token, "kind": "video", "title": "No url"}
    )
    assert r.status_code == 422 and "needs url" in r.text
    with db.reading() as s:
        (content,) = screen_service.list_content(s, m.id, limit=10)
    bad = {"csrf_token": token, "name": "", "items": ""}
    r = web_client.post(f"{base}/playlists", data=bad)
    assert r.status_code == 422 and 'id="name-error"' in r.text and 'id="items-error"' in r.text
    r = web_client.post(
        f"{base}/playlists",
        data={"csrf_token": token, "name": "Always", "priority": "5",
              "items": ["", str(content.id), ""], "screen_ids": str(screen.id), "is_active": "on"},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    overview = web_client.get(base)
    assert "Always" in overview.text and "Window" in overview.text and "Spring" in overview.text
    detail = web_client.get(f"{base}/{screen.id}")
    assert "Playlist <strong>Always</strong>" in detail.text and "Spring" in detail.text
    # A new token replaces the old one.
    r = web_client.post(f"{base}/{screen.id}/token", data={"csrf_token": token})
    assert r.status_code == 200
    fresh = r.text.split('id="screen-token">', 1)[1].split("<", 1)[0]
    assert fresh != secret
    with db.reading() as s:
        assert screen_service.authenticate(s, screen.id, fresh).id == screen.id
    with db.reading() as s:
        (playlist,) = screen_service.list_playlists(s, m.id, limit=10)
    edit = web_client.get(f"{base}/playlists/{playlist.id}")
    assert edit.status_code == 200 and 'value="Always"' in edit.text


def test_staff_run_screens_and_beacons_too(
    web_client: TestClient, factory: Factory, shop: Store
) -> None:
    m = shop.merchant
    clerk = factory.staff(m)
    token = _in(web_client, clerk, m, "/screens")
    r = web_client.post(
        f"/back-office/{m.id}/screens",
        data={"csrf_token": token, "zone_id": str(shop.zone_id), "name": "Till"},
    )
    assert r.status_code == 200 and 'id="screen-token"' in r.text
    assert web_client.get(f"/back-office/{m.id}/beacons").status_code == 200
    assert web_client.get(f"/back-office/{m.id}/fitting-rooms").status_code == 200


# --- accessibility of the pages with data -------------------------------------------------------


def test_o2o_and_persona_pages_pass_the_accessibility_audit(
    web_client: TestClient, client: TestClient, shop: Store, db: Database
) -> None:
    from .test_accessibility import audit

    m = shop.merchant
    persona = persona_with(db, m.id)
    room_id = make_room(client, shop, "F9")
    token = _in(web_client, m.admin, m, "/screens")
    base = f"/back-office/{m.id}"
    web_client.post(
        f"{base}/beacons",
        data={"csrf_token": token, "kind": "ibeacon", "uuid": str(uuid.uuid4()), "major": "3",
              "minor": "4", "zone_id": str(shop.zone_id), "label": "Door", "is_active": "on"},
    )  # fmt: skip
    shown = web_client.post(
        f"{base}/screens", data={"csrf_token": token, "zone_id": str(shop.zone_id), "name": "W"}
    )
    with db.reading() as s:
        (b,) = beacon_service.list_beacons(s, m.id, limit=10)
        (screen,) = s.scalars(select(Screen).where(Screen.merchant_id == m.id)).all()
        zone = store_service.list_zones(s, shop.location_id)[0]
    pages = {
        "token": shown,
        "invalid persona": web_client.post(
            f"{base}/personas", data={"csrf_token": token, "name": "", "rule": "[]"}
        ),
        "invalid store": web_client.post(
            f"{base}/stores/{shop.location_id}", data={"csrf_token": token, "hours_mon": "x"}
        ),
    }
    for path in (
        "/personas",
        "/personas/new",
        f"/personas/{persona}",
        "/stores",
        f"/stores/{shop.location_id}",
        f"/stores/{shop.location_id}/zones/{zone.id}",
        "/beacons",
        f"/beacons/{b.id}",
        "/beacons/offers/new",
        "/fitting-rooms",
        f"/fitting-rooms/{shop.location_id}/{room_id}",
        "/screens",
        f"/screens/{screen.id}",
        "/screens/content/new",
        "/screens/playlists/new",
    ):
        pages[path] = web_client.get(base + path)
    failures = {}
    for name, r in pages.items():
        assert r.status_code in (200, 422), (name, r.status_code)
        if problems := audit(r.text):
            failures[name] = problems
    assert not failures, failures
