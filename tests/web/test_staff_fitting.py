"""The staff fitting-room queue: open requests newest first with a button per allowed move,
the htmx-polled region, moves (and a move someone made first), closing a session, access."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plaza.db import Database
from tests.factories import Actor, Factory
from tests.o2o.fitting_helpers import Store, make_room, make_store

from .conftest import csrf_of, sign_in_web


@pytest.fixture
def store(db: Database, factory: Factory) -> Store:
    return make_store(db, factory)


def _session(client: TestClient, store: Store, who: Actor, room: str) -> dict[str, Any]:
    gtin = store.gtins[store.variants[("M", "Blue")]]
    r = client.post(
        "/fitting-sessions", json={"room_id": room, "codes": [gtin]}, headers=who.headers
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _ask(client: TestClient, who: Actor, session_id: str, variant_id: uuid.UUID) -> dict[str, Any]:
    r = client.post(
        f"/fitting-sessions/{session_id}/requests",
        json={"variant_id": str(variant_id)},
        headers=who.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _url(store: Store, rest: str = "") -> str:
    return f"/staff/{store.merchant.id}/fitting{rest}?store={store.location_id}"


def _requests(client: TestClient, store: Store, who: Actor, session_id: str) -> dict[str, str]:
    r = client.get(f"/fitting-sessions/{session_id}", headers=who.headers)
    return {q["id"]: q["status"] for q in r.json()["requests"]}


def test_queue_lists_requests_newest_first_with_actions(
    web_client: TestClient, client: TestClient, factory: Factory, store: Store
) -> None:
    room = make_room(client, store)
    shopper = factory.user()
    fs = _session(client, store, shopper, room)
    first = _ask(client, shopper, fs["id"], store.variants[("L", "Blue")])
    second = _ask(client, shopper, fs["id"], store.variants[("S", "Black")])
    sign_in_web(web_client, factory.staff(store.merchant).email)
    r = web_client.get(_url(store))
    assert r.status_code == 200, r.text
    html = r.text
    assert 'hx-trigger="every 5s"' in html and 'aria-live="polite"' in html
    assert html.index("S / Black") < html.index("L / Blue")  # newest first
    assert "Room F1" in html and "waiting" in html
    assert re.search(
        r">Pick<span class=\"visually-hidden\"> Linen shirt L / Blue for room F1", html
    )
    assert ">Deliver<" not in html  # requested: pick, unavailable or cancel
    assert "Mark unavailable" in html and ">Cancel<" in html
    assert "Rooms in use (1)" in html and "Close session" in html
    assert first["id"] in html and second["id"] in html
    # htmx polling gets only the region.
    part = web_client.get(_url(store), headers={"HX-Request": "true"})
    assert part.status_code == 200
    assert "<html" not in part.text and "Size requests (2)" in part.text


def test_staff_move_requests_through_their_states(
    web_client: TestClient, client: TestClient, factory: Factory, store: Store
) -> None:
    room = make_room(client, store)
    shopper = factory.user()
    fs = _session(client, store, shopper, room)
    req = _ask(client, shopper, fs["id"], store.variants[("L", "Blue")])
    sign_in_web(web_client, factory.staff(store.merchant).email)
    token = csrf_of(web_client.get(_url(store)).text)
    move = _url(store, f"/requests/{req['id']}")
    r = web_client.post(move, data={"status": "picking", "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == _url(store)
    assert _requests(client, store, shopper, fs["id"])[req["id"]] == "picking"
    page = web_client.get(_url(store)).text
    assert "Being picked" in page and ">Deliver<" in page
    # htmx: the region comes back with the message.
    r = web_client.post(
        move,
        data={"status": "delivered", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and "<html" not in r.text and "Delivered" in r.text
    assert _requests(client, store, shopper, fs["id"])[req["id"]] == "delivered"
    # Delivered: it is in the room now (tried), and off the queue.
    detail = client.get(f"/fitting-sessions/{fs['id']}", headers=shopper.headers).json()
    assert len(detail["items"]) == 2
    assert "No open size requests." in web_client.get(_url(store)).text
    # Someone else moved it first (or a stale page): a message, not an error page.
    r = web_client.post(move, data={"status": "unavailable", "csrf_token": token})
    assert r.status_code == 409 and "already moved on" in r.text
    r = web_client.post(move, data={"status": "bogus", "csrf_token": token})
    assert r.status_code == 422 and "Choose an action." in r.text


def test_staff_close_a_forgotten_session(
    web_client: TestClient, client: TestClient, factory: Factory, store: Store
) -> None:
    room = make_room(client, store)
    shopper = factory.user()
    fs = _session(client, store, shopper, room)
    sign_in_web(web_client, factory.staff(store.merchant).email)
    token = csrf_of(web_client.get(_url(store)).text)
    r = web_client.post(_url(store, f"/sessions/{fs['id']}/close"), data={"csrf_token": token})
    assert r.status_code == 303
    detail = client.get(f"/fitting-sessions/{fs['id']}", headers=shopper.headers).json()
    assert detail["status"] == "closed"
    page = web_client.get(_url(store)).text
    assert "No fitting room is in use." in page and "Recent sessions: tried and bought" in page


def test_fitting_queue_access(
    web_client: TestClient, client: TestClient, factory: Factory, store: Store
) -> None:
    room = make_room(client, store)
    shopper = factory.user()
    fs = _session(client, store, shopper, room)
    req = _ask(client, shopper, fs["id"], store.variants[("L", "Blue")])
    r = web_client.get(_url(store))
    assert r.status_code == 303 and r.headers["location"].startswith("/shop/sign-in?next=")
    intruder = factory.merchant()
    sign_in_web(web_client, factory.staff(intruder).email)
    assert web_client.get(_url(store)).status_code == 403
    token = csrf_of(web_client.get(f"/staff/{intruder.id}").text)
    r = web_client.post(
        _url(store, f"/requests/{req['id']}"), data={"status": "picking", "csrf_token": token}
    )
    assert r.status_code == 403
    # Their own merchant path with this store: not theirs, not found.
    r = web_client.post(
        f"/staff/{intruder.id}/fitting/requests/{req['id']}?store={store.location_id}",
        data={"status": "picking", "csrf_token": token},
    )
    assert r.status_code == 404
    assert _requests(client, store, shopper, fs["id"])[req["id"]] == "requested"
