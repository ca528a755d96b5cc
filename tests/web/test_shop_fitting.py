"""The shopper's fitting-room pages: in through the door's QR link or by choosing the store
and room, scanning garments, other sizes with store stock, "Request size", the polled
requests region, resuming, leaving; only the shopper's own session is shown."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from plaza.db import Database
from tests.factories import Factory
from tests.o2o.collect_helpers import offer
from tests.o2o.fitting_helpers import Store, make_room, make_store

from .conftest import csrf_of, sign_in_web


@pytest.fixture
def store(db: Database, factory: Factory) -> Store:
    return make_store(db, factory)


def _start(web_client: TestClient, room: str, code: str) -> str:
    page = web_client.get(f"/shop/fitting?room={room}")
    assert page.status_code == 200, page.text
    r = web_client.post(
        "/shop/fitting/start",
        data={"room_id": room, "code": code, "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def test_start_from_the_door_link_request_a_size_and_see_it_move(
    web_client: TestClient, client: TestClient, factory: Factory, store: Store
) -> None:
    room = make_room(client, store)
    shopper = factory.user()
    sign_in_web(web_client, shopper.email)
    page = web_client.get(f"/shop/fitting?room={room}")
    assert page.status_code == 200
    assert "Room F1 · Haarlemmerstraat" in page.text
    assert '<label for="code">Item code</label>' in page.text
    blue_m = store.variants[("M", "Blue")]
    location = _start(web_client, room, f"https://id.gs1.org/01/{store.gtins[blue_m]}/21/A17")
    assert location.startswith("/shop/fitting/")
    session_id = location.rsplit("/", 1)[-1]
    html = web_client.get(location).text
    assert "Linen shirt" in html and "Other sizes" in html and "Other colours" in html
    assert "Request size" in html and 'hx-trigger="every 5s"' in html
    assert "not in store" in html  # M / Black is sold out here: no request button for it
    # Coming back through the door's link resumes the session.
    again = web_client.get(f"/shop/fitting?room={room}")
    assert again.status_code == 303 and again.headers["location"] == location
    token = csrf_of(html)
    r = web_client.post(
        f"{location}/requests",
        data={"variant_id": str(store.variants[("L", "Blue")]), "csrf_token": token},
    )
    assert r.status_code == 303
    assert "Size requested" in web_client.get(location).text
    detail = client.get(f"/fitting-sessions/{session_id}", headers=shopper.headers).json()
    (req,) = detail["requests"]
    assert req["status"] == "requested" and req["label"] == "L / Blue"
    # Staff pick it: the polled region shows the new state.
    r = client.patch(
        f"/merchants/{store.merchant.id}/stores/{store.location_id}/fitting-requests/{req['id']}",
        json={"status": "picking"},
        headers=store.merchant.admin.headers,
    )
    assert r.status_code == 200, r.text
    part = web_client.get(f"{location}/requests", headers={"HX-Request": "true"})
    assert part.status_code == 200 and "<html" not in part.text
    assert "On its way" in part.text
    # Without JS the region's URL leads to the page.
    assert web_client.get(f"{location}/requests").status_code == 303
    # Cancel, add an item, leave.
    r = web_client.post(f"{location}/requests/{req['id']}/cancel", data={"csrf_token": token})
    assert r.status_code == 303
    r = web_client.post(
        f"{location}/items",
        data={"code": store.gtins[store.variants[("S", "Black")]], "csrf_token": token},
    )
    assert r.status_code == 303
    detail = client.get(f"/fitting-sessions/{session_id}", headers=shopper.headers).json()
    assert len(detail["items"]) == 2 and detail["requests"][0]["status"] == "cancelled"
    r = web_client.post(f"{location}/close", data={"csrf_token": token})
    assert r.status_code == 303
    closed = web_client.get(location).text
    assert "This fitting session is closed" in closed and "Request size" not in closed


def test_bad_codes_are_shown_next_to_the_field(
    web_client: TestClient, client: TestClient, factory: Factory, store: Store
) -> None:
    room = make_room(client, store)
    sign_in_web(web_client, factory.user().email)
    token = csrf_of(web_client.get(f"/shop/fitting?room={room}").text)
    cases = {
        "hello": "not a product code",
        "3074257BF7194E40000": "could not be read",
        "4006381333931": "does not sell an item with that code",
        "": "Scan or type the code",
    }
    for code, text in cases.items():
        r = web_client.post(
            "/shop/fitting/start", data={"room_id": room, "code": code, "csrf_token": token}
        )
        assert r.status_code == 422, (code, r.text)
        assert text in r.text and 'aria-invalid="true"' in r.text


def test_choose_store_and_room_without_a_link(
    web_client: TestClient, client: TestClient, db: Database, factory: Factory, store: Store
) -> None:
    room = make_room(client, store)
    offer(db, store.merchant.id, store.location_id, "fitting_rooms")
    sign_in_web(web_client, factory.user().email)
    page = web_client.get("/shop/fitting")
    assert page.status_code == 200 and "Haarlemmerstraat" in page.text
    page = web_client.get(f"/shop/fitting?store={store.location_id}")
    assert f'href="/shop/fitting?room={room}"' in page.text


def test_only_the_shoppers_own_session(
    web_client: TestClient, client: TestClient, factory: Factory, store: Store
) -> None:
    room = make_room(client, store)
    owner, other = factory.user(), factory.user()
    assert web_client.get("/shop/fitting").status_code == 303  # anonymous: sign in
    sign_in_web(web_client, owner.email)
    location = _start(web_client, room, store.gtins[store.variants[("M", "Blue")]])
    fresh = TestClient(
        web_client.app,
        headers=dict(web_client.headers),
        follow_redirects=False,
        raise_server_exceptions=False,
    )
    anonymous = fresh.get(location)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/shop/sign-in?next=")
    sign_in_web(fresh, other.email)
    assert fresh.get(location).status_code == 404
    assert fresh.get(f"{location}/requests", headers={"HX-Request": "true"}).status_code == 404
    # The room is taken by the owner's session: the other shopper is told so.
    token = csrf_of(fresh.get(f"/shop/fitting?room={room}").text)
    r = fresh.post(
        "/shop/fitting/start",
        data={
            "room_id": room,
            "code": store.gtins[store.variants[("S", "Blue")]],
            "csrf_token": token,
        },
    )
    assert r.status_code == 409 and "in use or closed" in r.text
