"""Back-office orders and returns pages: list with filters and pages, the order page, the
merchant's actions (ship, ready for pickup, cancel, refund; approve/reject/receive a
return) through the same services as the API, their errors, and access."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from plaza.db import Database
from plaza.ordering.models import Order
from tests.o2o.collect_helpers import (
    ADDRESS,
    CollectWorld,
    cart,
    collect_body,
    collect_world,
    level,
)

from ..factories import Actor, Factory
from .conftest import csrf_of, sign_in_web


def checkout(
    client: TestClient, who: Actor, body: dict[str, Any], variant: uuid.UUID, qty: int = 1
) -> dict[str, Any]:
    c = cart(client, who.headers, [(variant, qty)])
    r = client.post(
        f"/carts/{c['id']}/checkout",
        json=body,
        headers={**who.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    return r.json()["orders"][0]


@pytest.fixture
def world(db: Database, factory: Factory) -> CollectWorld:
    return collect_world(db, factory)


@pytest.fixture
def shopper(factory: Factory) -> Actor:
    return factory.user()


def delivered(client: TestClient, w: CollectWorld, who: Actor, qty: int = 1) -> dict[str, Any]:
    body = {"shipping_address": ADDRESS, "payment": {"token": "tok_visa"}}
    return checkout(client, who, body, w.variants[1], qty)


def collected(client: TestClient, w: CollectWorld, who: Actor) -> dict[str, Any]:
    return checkout(client, who, collect_body(w.store), w.variants[0])


def office(web_client: TestClient, factory: Factory, w: CollectWorld) -> str:
    """Sign store staff in; the base URL of the merchant's back-office."""
    sign_in_web(web_client, factory.staff(w.merchant).email)
    return f"/back-office/{w.merchant.id}"


def post(web: TestClient, page_url: str, action: str, data: dict[str, str] | None = None) -> Any:
    token = csrf_of(web.get(page_url).text)
    return web.post(f"{page_url}/{action}", data={"csrf_token": token, **(data or {})})


def unique_ids(html: str) -> bool:
    """Every id on the page once (labels and error messages point at them)."""
    ids = re.findall(r'\sid="([^"]+)"', html)
    return len(ids) == len(set(ids))


def status_of(db: Database, order_id: str) -> str:
    with db.reading() as s:
        order = s.get(Order, uuid.UUID(order_id))
        assert order is not None
        return order.status.value


# --- list -----------------------------------------------------------------------------------


def test_list_filters_and_pages(
    web_client: TestClient,
    client: TestClient,
    factory: Factory,
    world: CollectWorld,
    shopper: Actor,
) -> None:
    d1, d2 = delivered(client, world, shopper), delivered(client, world, shopper)
    c1 = collected(client, world, shopper)
    base = office(web_client, factory, world)
    html = web_client.get(f"{base}/orders").text
    assert all(o["number"] in html for o in (d1, d2, c1))
    assert '<label for="status">Status' in html and '<label for="fulfilment">Fulfilment' in html
    only = web_client.get(f"{base}/orders", params={"fulfilment": "collect"}).text
    assert c1["number"] in only and d1["number"] not in only
    none = web_client.get(f"{base}/orders", params={"status": "fulfilled"}).text
    assert "No orders match these filters." in none
    # Unknown filter values are ignored rather than refused.
    assert web_client.get(f"{base}/orders", params={"channel": "fax"}).status_code == 200
    # Cursor pages: newest first, each order once.
    first = web_client.get(f"{base}/orders", params={"limit": 2}).text
    assert c1["number"] in first and d2["number"] in first and d1["number"] not in first
    nxt = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = web_client.get(nxt).text
    assert d1["number"] in second and c1["number"] not in second


# --- one order and its actions --------------------------------------------------------------


def test_order_page_and_shipping(
    web_client: TestClient,
    client: TestClient,
    db: Database,
    factory: Factory,
    world: CollectWorld,
    shopper: Actor,
) -> None:
    order = delivered(client, world, shopper, qty=2)
    base = office(web_client, factory, world)
    url = f"{base}/orders/{order['id']}"
    html = web_client.get(url).text
    assert f"Order {order['number']}" in html and shopper.email in html
    assert "Ada Lovelace" in html and "Payments" in html and "Mark as shipped" in html
    assert unique_ids(html) and html.count("<h1") == 1
    bad = post(web_client, url, "fulfil", {"tracking_url": "not a url"})
    assert bad.status_code == 422
    assert 'id="tracking_url-error"' in bad.text and 'aria-invalid="true"' in bad.text
    r = post(web_client, url, "fulfil", {"carrier": "PostNL", "tracking_number": "3S123"})
    assert r.status_code == 303 and r.headers["location"] == url
    assert status_of(db, order["id"]) == "fulfilled"
    shipped = web_client.get(url).text
    assert "PostNL" in shipped and "The order is marked as shipped." in shipped
    # A fulfilled order cannot be cancelled: the page says why.
    r = post(web_client, url, "cancel", {"cancel_confirm": "yes"})
    assert r.status_code == 409
    assert "Order cannot move to that status" in r.text and 'role="alert"' in r.text


def test_cancel_needs_confirmation_and_refunds(
    web_client: TestClient,
    client: TestClient,
    db: Database,
    factory: Factory,
    world: CollectWorld,
    shopper: Actor,
) -> None:
    order = delivered(client, world, shopper)
    url = f"{office(web_client, factory, world)}/orders/{order['id']}"
    r = post(web_client, url, "cancel", {"cancel_reason": "Out of stock"})
    assert r.status_code == 422 and "Tick the box to confirm the cancellation." in r.text
    assert status_of(db, order["id"]) == "paid"
    r = post(web_client, url, "cancel", {"cancel_reason": "Damaged", "cancel_confirm": "yes"})
    assert r.status_code == 303
    assert status_of(db, order["id"]) == "cancelled"
    page = web_client.get(url).text
    assert "refunded" in page and "Nothing to do on a cancelled order." in page


def test_refund_validates_and_refunds_once(
    web_client: TestClient,
    client: TestClient,
    db: Database,
    factory: Factory,
    world: CollectWorld,
    shopper: Actor,
) -> None:
    order = delivered(client, world, shopper)  # 25.00 EUR
    url = f"{office(web_client, factory, world)}/orders/{order['id']}"
    r = post(web_client, url, "refund", {"amount": "abc", "refund_reason": ""})
    assert r.status_code == 422
    assert 'id="amount-error"' in r.text and 'id="refund_reason-error"' in r.text
    assert 'id="refund_confirm-error"' in r.text
    r = post(
        web_client,
        url,
        "refund",
        {"amount": "99.00", "refund_reason": "x", "refund_confirm": "yes"},
    )
    assert r.status_code == 422 and "Refund exceeds what was paid" in r.text
    token = csrf_of(web_client.get(url).text)
    form = {
        "csrf_token": token,
        "amount": "5.00",
        "refund_reason": "Goodwill",
        "refund_confirm": "yes",
        "idempotency_key": uuid.uuid4().hex,
    }
    assert web_client.post(f"{url}/refund", data=form).status_code == 303
    assert web_client.post(f"{url}/refund", data=form).status_code == 303  # double submit
    with db.reading() as s:
        stored = s.get(Order, uuid.UUID(order["id"]))
        assert stored is not None and stored.refunded_amount == 500


def test_collect_order_is_made_ready_not_shipped(
    web_client: TestClient,
    client: TestClient,
    factory: Factory,
    world: CollectWorld,
    shopper: Actor,
) -> None:
    order = collected(client, world, shopper)
    url = f"{office(web_client, factory, world)}/orders/{order['id']}"
    html = web_client.get(url).text
    assert "Awaiting preparation" in html and "Amsterdam" in html
    assert unique_ids(html)
    assert "Mark ready for pickup" in html and "Mark as shipped" not in html
    r = post(web_client, url, "fulfil", {})
    assert r.status_code == 409 and "handed over at the counter" in r.text
    r = post(web_client, url, "ready")
    assert r.status_code == 303
    assert "Ready for pickup" in web_client.get(url).text
    mine = client.get(f"/me/orders/{order['id']}/pickup", headers=shopper.headers).json()
    assert mine["state"] == "ready" and mine["code"]


def test_a_delivered_order_cannot_be_made_ready(
    web_client: TestClient,
    client: TestClient,
    factory: Factory,
    world: CollectWorld,
    shopper: Actor,
) -> None:
    order = delivered(client, world, shopper)
    url = f"{office(web_client, factory, world)}/orders/{order['id']}"
    r = post(web_client, url, "ready")
    assert r.status_code == 409 and "Not a click &amp; collect order" in r.text


def test_order_access(
    web_client: TestClient,
    client: TestClient,
    db: Database,
    factory: Factory,
    world: CollectWorld,
    shopper: Actor,
) -> None:
    order = delivered(client, world, shopper)
    url = f"/back-office/{world.merchant.id}/orders/{order['id']}"
    r = web_client.get(url)
    assert r.status_code == 303 and r.headers["location"].startswith("/shop/sign-in?next=")
    other = factory.merchant()
    sign_in_web(web_client, other.admin.email)
    assert web_client.get(url).status_code == 403
    assert web_client.get(f"/back-office/{world.merchant.id}/orders").status_code == 403
    # Their order under my own back-office: not found, and nothing changes.
    mine = f"/back-office/{other.id}/orders/{order['id']}"
    assert web_client.get(mine).status_code == 404
    r = post(
        web_client,
        f"/back-office/{other.id}/orders",
        f"{order['id']}/cancel",
        {"cancel_confirm": "yes"},
    )
    assert r.status_code == 404
    assert status_of(db, order["id"]) == "paid"
    # Any member of the merchant reaches the pages, staff like admins (as in the API).
    fresh = TestClient(web_client.app, headers=dict(web_client.headers), follow_redirects=False)
    sign_in_web(fresh, world.merchant.admin.email)
    assert fresh.get(url).status_code == 200


# --- returns -----------------------------------------------------------------------------------


def returned(
    client: TestClient, web: TestClient, base: str, w: CollectWorld, who: Actor
) -> tuple[dict[str, Any], str]:
    order = delivered(client, w, who, qty=2)
    assert post(web, f"{base}/orders/{order['id']}", "fulfil").status_code == 303
    line = order["lines"][0]["id"]
    r = client.post(
        f"/me/orders/{order['id']}/returns",
        json={"lines": [{"order_line_id": line, "quantity": 1}], "reason": "Too small"},
        headers=who.headers,
    )
    assert r.status_code == 201, r.text
    return order, r.json()["id"]


def test_returns_list_detail_and_receive(
    web_client: TestClient,
    client: TestClient,
    db: Database,
    factory: Factory,
    world: CollectWorld,
    shopper: Actor,
) -> None:
    base = office(web_client, factory, world)
    order, return_id = returned(client, web_client, base, world, shopper)
    listing = web_client.get(f"{base}/returns").text
    assert f"Return of {order['number']}" in listing and "requested" in listing
    assert "No returns match" in web_client.get(f"{base}/returns?status=refunded").text
    url = f"{base}/returns/{return_id}"
    html = web_client.get(url).text
    assert "Too small" in html and "Receive and refund" in html and "Warehouse" in html
    assert unique_ids(html) and html.count("<h1") == 1
    r = post(web_client, url, "approve", {"approve_note": "Send it back"})
    assert r.status_code == 303
    assert "The return is approved." in web_client.get(url).text
    r = post(web_client, url, "receive", {"location_id": ""})
    assert r.status_code == 422 and 'id="location_id-error"' in r.text
    before = level(db, world, world.variants[1], world.warehouse)[0]
    r = post(web_client, url, "receive", {"location_id": str(world.warehouse)})
    assert r.status_code == 303
    assert level(db, world, world.variants[1], world.warehouse)[0] == before + 1
    done = web_client.get(url).text
    assert "refunded" in done and "nothing left to do" in done
    with db.reading() as s:
        stored = s.get(Order, uuid.UUID(order["id"]))
        assert stored is not None and stored.refunded_amount == 2500


def test_reject_needs_confirmation_and_bad_moves_say_why(
    web_client: TestClient,
    client: TestClient,
    factory: Factory,
    world: CollectWorld,
    shopper: Actor,
) -> None:
    base = office(web_client, factory, world)
    _, return_id = returned(client, web_client, base, world, shopper)
    url = f"{base}/returns/{return_id}"
    r = post(web_client, url, "reject", {"reject_note": "Worn"})
    assert r.status_code == 422 and "Tick the box to confirm the rejection." in r.text
    assert post(web_client, url, "approve").status_code == 303
    r = post(web_client, url, "reject", {"reject_note": "Worn", "reject_confirm": "yes"})
    assert r.status_code == 409 and "Return cannot move to that status" in r.text


def test_return_access(
    web_client: TestClient,
    client: TestClient,
    factory: Factory,
    world: CollectWorld,
    shopper: Actor,
) -> None:
    base = office(web_client, factory, world)
    _, return_id = returned(client, web_client, base, world, shopper)
    other = factory.merchant()
    fresh = TestClient(web_client.app, headers=dict(web_client.headers), follow_redirects=False)
    assert fresh.get(f"{base}/returns/{return_id}").status_code == 303
    sign_in_web(fresh, other.admin.email)
    assert fresh.get(f"{base}/returns/{return_id}").status_code == 403
    assert fresh.get(f"/back-office/{other.id}/returns/{return_id}").status_code == 404
