"""The endless-aisle page: search the merchant's products, build the sale in the URL,
place it through the endless-aisle checkout (delivery or collect here), errors next to
the fields, a double submit placing one order, access."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient

from plaza.db import Database
from tests.factories import Factory
from tests.o2o.collect_helpers import CollectWorld, collect_world

from .conftest import csrf_of, sign_in_web


@pytest.fixture
def world(db: Database, factory: Factory) -> CollectWorld:
    return collect_world(db, factory)


def _url(w: CollectWorld, query: str = "") -> str:
    return f"/staff/{w.merchant.id}/aisle?store={w.store}{query}"


def _key(html: str) -> str:
    found = re.search(r'name="key" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_search_add_and_place_a_collect_sale(
    web_client: TestClient, client: TestClient, factory: Factory, world: CollectWorld
) -> None:
    w = world
    sign_in_web(web_client, factory.staff(w.merchant).email)
    r = web_client.get(_url(w))
    assert r.status_code == 200, r.text
    assert "Search the catalogue" in r.text and "No items yet" in r.text
    product = client.get(
        f"/merchants/{w.merchant.id}/products", headers=w.merchant.admin.headers
    ).json()["items"][0]
    found = web_client.get(_url(w, f"&q={product['title'].split()[0]}"))
    assert found.status_code == 200
    assert product["title"] in found.text and "to sale" in found.text
    v0, v1 = w.variants
    sale = web_client.get(_url(w, f"&line={v0}:1&add={v0}"))
    assert sale.status_code == 200
    assert f'name="line" value="{v0}:2"' in sale.text
    sale = web_client.get(_url(w, f"&line={v0}:2&add={v1}"))
    assert f'name="line" value="{v0}:2"' in sale.text
    assert f'name="line" value="{v1}:1"' in sale.text
    removed = web_client.get(_url(w, f"&line={v0}:1&line={v1}:1&remove={v1}"))
    assert f'value="{v1}:1"' not in removed.text
    html = web_client.get(_url(w, f"&line={v1}:2")).text
    assert "Place order" in html and "Customer email" in html
    form = {
        "line": [f"{v1}:2"],
        "email": "walkin@example.com",
        "fulfilment": "collect",
        "payment": "tok_visa",
        "key": _key(html),
        "csrf_token": csrf_of(html),
    }
    r = web_client.post(_url(w).replace("/aisle?", "/aisle/checkout?"), data=form)
    assert r.status_code == 303, r.text
    assert "placed=" in r.headers["location"]
    order_id = r.headers["location"].rsplit("placed=", 1)[-1]
    done = web_client.get(r.headers["location"])
    assert "placed" in done.text and "walkin@example.com" in done.text
    assert "Collect in this store" in done.text
    order = client.get(
        f"/merchants/{w.merchant.id}/orders/{order_id}", headers=w.merchant.admin.headers
    ).json()
    assert order["channel"] == "endless_aisle" and order["placed_in_store"] == str(w.store)
    assert order["fulfilment"] == "collect" and order["status"] == "paid"
    # The same form sent twice (a double tap): the same order, not a second one.
    again = web_client.post(_url(w).replace("/aisle?", "/aisle/checkout?"), data=form)
    assert again.status_code == 303 and again.headers["location"] == r.headers["location"]


def test_sale_errors_are_shown_next_to_fields(
    web_client: TestClient, factory: Factory, world: CollectWorld
) -> None:
    w = world
    sign_in_web(web_client, factory.staff(w.merchant).email)
    html = web_client.get(_url(w, f"&line={w.variants[0]}:1")).text
    checkout = _url(w).replace("/aisle?", "/aisle/checkout?")
    base = {"line": [f"{w.variants[0]}:1"], "csrf_token": csrf_of(html), "key": _key(html)}
    r = web_client.post(
        checkout,
        data={**base, "email": "nope", "fulfilment": "delivery", "payment": "tok_visa"},
    )
    assert r.status_code == 422
    assert 'id="email-error"' in r.text and 'id="line1-error"' in r.text
    r = web_client.post(
        checkout,
        data={
            **base,
            "email": "a@example.com",
            "fulfilment": "delivery",
            "name": "Ada",
            "line1": "1 Main St",
            "city": "Amsterdam",
            "postal_code": "1011",
            "country": "nl",
            "payment": "tok_declined",
            "key": str(uuid.uuid4()),
        },
    )
    assert r.status_code == 402 and "declined" in r.text
    r = web_client.post(checkout, data={"csrf_token": base["csrf_token"], "email": "a@b.co"})
    assert r.status_code == 422 and "Add at least one item" in r.text


def test_aisle_access(web_client: TestClient, factory: Factory, world: CollectWorld) -> None:
    w = world
    r = web_client.get(_url(w))
    assert r.status_code == 303 and r.headers["location"].startswith("/shop/sign-in?next=")
    intruder = factory.merchant()
    sign_in_web(web_client, factory.staff(intruder).email)
    assert web_client.get(_url(w)).status_code == 403
    # Another merchant's variant in one's own sale is not shown.
    html = web_client.get(f"/staff/{intruder.id}/aisle?line={w.variants[0]}:1").text
    assert str(w.variants[0]) not in html
