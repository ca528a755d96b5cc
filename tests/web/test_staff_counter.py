"""The pickup counter page: store choice, finding an order by code or QR content, handing
it over, every collect problem as a message on the page, the preparation queue, access."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plaza.db import Database, utcnow
from plaza.o2o.collect.models import Pickup
from tests.factories import Actor, Factory
from tests.o2o.collect_helpers import CollectWorld, cart, collect_body, collect_world

from .conftest import csrf_of, sign_in_web


@pytest.fixture
def world(db: Database, factory: Factory) -> CollectWorld:
    return collect_world(db, factory)


def _order(client: TestClient, w: CollectWorld, who: Actor) -> dict[str, Any]:
    c = cart(client, who.headers, [(w.variants[0], 1)])
    r = client.post(f"/carts/{c['id']}/checkout", json=collect_body(w.store), headers=who.headers)
    assert r.status_code == 201, r.text
    return dict(r.json()["orders"][0])


def _ready(client: TestClient, w: CollectWorld, order_id: str) -> None:
    r = client.post(
        f"/merchants/{w.merchant.id}/orders/{order_id}/ready", headers=w.merchant.admin.headers
    )
    assert r.status_code == 200, r.text


def _pickup(client: TestClient, who: Actor, order_id: str) -> dict[str, Any]:
    r = client.get(f"/me/orders/{order_id}/pickup", headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _url(w: CollectWorld, action: str = "") -> str:
    return f"/staff/{w.merchant.id}/counter{'/' + action if action else ''}?store={w.store}"


def _staff_browser(web_client: TestClient, factory: Factory, w: CollectWorld) -> str:
    sign_in_web(web_client, factory.staff(w.merchant).email)
    r = web_client.get(_url(w))
    assert r.status_code == 200, r.text
    return csrf_of(r.text)


def test_counter_renders_with_store_choice_and_queues(
    web_client: TestClient, client: TestClient, factory: Factory, world: CollectWorld
) -> None:
    w = world
    shopper = factory.user()
    waiting, ready = _order(client, w, shopper), _order(client, w, shopper)
    _ready(client, w, ready["id"])
    sign_in_web(web_client, factory.staff(w.merchant).email)
    r = web_client.get(f"/staff/{w.merchant.id}/counter")
    assert r.status_code == 200
    assert '<label for="store">Store' in r.text and "Amsterdam" in r.text and "Haarlem" in r.text
    assert "Pickup code" not in r.text  # two stores: choose one first
    r = web_client.get(_url(w))
    assert r.status_code == 200
    assert '<label for="code">Pickup code</label>' in r.text
    assert "autofocus" in r.text and 'autocomplete="off"' in r.text
    assert ">Find order<" in r.text
    assert waiting["number"] in r.text and ready["number"] in r.text
    assert "Mark ready" in r.text


def test_find_then_hand_over_marks_collected(
    web_client: TestClient, client: TestClient, factory: Factory, world: CollectWorld
) -> None:
    w = world
    shopper = factory.user()
    order = _order(client, w, shopper)
    _ready(client, w, order["id"])
    mine = _pickup(client, shopper, order["id"])
    token = _staff_browser(web_client, factory, w)
    # The QR content (what a hardware scanner types) finds the order too.
    for code in (mine["code"].lower(), mine["qr_payload"]):
        r = web_client.post(_url(w, "find"), data={"code": code, "csrf_token": token})
        assert r.status_code == 200, r.text
        assert order["number"] in r.text and shopper.email in r.text  # customer (no address)
        assert ">Hand over<" in r.text
    assert _pickup(client, shopper, order["id"])["state"] == "ready"  # verify changes nothing
    r = web_client.post(
        _url(w, "collect"),
        data={"order_id": order["id"], "code": mine["code"], "csrf_token": token},
    )
    assert r.status_code == 303
    assert r.headers["location"] == _url(w)
    assert _pickup(client, shopper, order["id"])["state"] == "collected"
    page = web_client.get(r.headers["location"])
    assert f"Order {order['number']} handed over" in page.text
    # A second look: a clear message, not an error page.
    r = web_client.post(_url(w, "find"), data={"code": mine["code"], "csrf_token": token})
    assert r.status_code == 409
    assert "already been handed over" in r.text and "Pickup code" in r.text
    r = web_client.post(
        _url(w, "collect"),
        data={"order_id": order["id"], "code": mine["code"], "csrf_token": token},
    )
    assert r.status_code == 409 and "already been handed over" in r.text


def test_wrong_and_empty_codes_say_so(
    web_client: TestClient, client: TestClient, factory: Factory, world: CollectWorld
) -> None:
    w = world
    shopper = factory.user()
    order = _order(client, w, shopper)
    _ready(client, w, order["id"])
    code = _pickup(client, shopper, order["id"])["code"]
    token = _staff_browser(web_client, factory, w)
    wrong = "777777" if code != "777777" else "999999"
    for bad in (wrong, "not a code", f"PLAZA-PICKUP:{uuid.uuid4()}:{code}"):
        r = web_client.post(_url(w, "find"), data={"code": bad, "csrf_token": token})
        assert r.status_code == 422
        assert "No order ready for pickup at this store has this code" in r.text
        assert 'aria-invalid="true"' in r.text
    r = web_client.post(_url(w, "find"), data={"code": "  ", "csrf_token": token})
    assert r.status_code == 422 and "Enter the pickup code." in r.text
    # The right code at the other store of the merchant is just as wrong.
    r = web_client.post(
        f"/staff/{w.merchant.id}/counter/find?store={w.other_store}",
        data={"code": code, "csrf_token": token},
    )
    assert r.status_code == 422 and "No order ready" in r.text


def test_cancelled_and_expired_pickups_are_refused_with_a_message(
    web_client: TestClient,
    client: TestClient,
    db: Database,
    factory: Factory,
    world: CollectWorld,
) -> None:
    w = world
    shopper = factory.user()
    cancelled, expired = _order(client, w, shopper), _order(client, w, shopper)
    for o in (cancelled, expired):
        _ready(client, w, o["id"])
    c_code = _pickup(client, shopper, cancelled["id"])["code"]
    e_code = _pickup(client, shopper, expired["id"])["code"]
    r = client.post(f"/me/orders/{cancelled['id']}/cancel", json={}, headers=shopper.headers)
    assert r.status_code == 200
    with db.transaction() as s:
        row = s.get(Pickup, uuid.UUID(expired["id"]))
        assert row is not None
        row.expires_at = utcnow() - dt.timedelta(minutes=1)
    token = _staff_browser(web_client, factory, w)
    r = web_client.post(_url(w, "find"), data={"code": c_code, "csrf_token": token})
    assert r.status_code == 409 and "was cancelled. Do not hand it over." in r.text
    r = web_client.post(
        _url(w, "collect"), data={"order_id": expired["id"], "code": e_code, "csrf_token": token}
    )
    assert r.status_code == 409 and "has expired" in r.text
    assert _pickup(client, shopper, expired["id"])["state"] == "expired"
    r = web_client.post(_url(w, "find"), data={"code": e_code, "csrf_token": token})
    assert r.status_code == 409 and "has expired" in r.text


def test_mark_ready_from_the_preparation_queue(
    web_client: TestClient, client: TestClient, factory: Factory, world: CollectWorld
) -> None:
    w = world
    shopper = factory.user()
    order = _order(client, w, shopper)
    token = _staff_browser(web_client, factory, w)
    r = web_client.post(_url(w, "ready"), data={"order_id": order["id"], "csrf_token": token})
    assert r.status_code == 303
    assert _pickup(client, shopper, order["id"])["state"] == "ready"
    page = web_client.get(_url(w))
    assert "is ready for pickup" in page.text


def test_counter_access(
    web_client: TestClient, client: TestClient, db: Database, factory: Factory, world: CollectWorld
) -> None:
    w = world
    r = web_client.get(_url(w))
    assert r.status_code == 303 and r.headers["location"].startswith("/shop/sign-in?next=")
    intruder = factory.merchant()
    sign_in_web(web_client, factory.staff(intruder).email)
    assert web_client.get(_url(w)).status_code == 403
    # A store of another merchant under one's own merchant: not found.
    own = web_client.get(f"/staff/{intruder.id}/counter?store={w.store}")
    assert own.status_code == 404


def test_staffed_store_counter_is_for_its_own_staff(
    web_client: TestClient, client: TestClient, db: Database, factory: Factory, world: CollectWorld
) -> None:
    w = world
    shopper = factory.user()
    order = _order(client, w, shopper)
    _ready(client, w, order["id"])
    code = _pickup(client, shopper, order["id"])["code"]
    assigned, other = factory.staff(w.merchant), factory.staff(w.merchant)
    r = client.put(
        f"/merchants/{w.merchant.id}/stores/{w.store}/staff/{assigned.id}",
        json={},
        headers=w.merchant.admin.headers,
    )
    assert r.status_code in (200, 201), r.text
    sign_in_web(web_client, other.email)
    token = csrf_of(web_client.get(_url(w)).text)
    r = web_client.post(_url(w, "find"), data={"code": code, "csrf_token": token})
    assert r.status_code == 403
    mine = TestClient(
        web_client.app,
        headers=dict(web_client.headers),
        follow_redirects=False,
        raise_server_exceptions=False,
    )
    sign_in_web(mine, assigned.email)
    token = csrf_of(mine.get(_url(w)).text)
    r = mine.post(_url(w, "find"), data={"code": code, "csrf_token": token})
    assert r.status_code == 200 and order["number"] in r.text
