"""Customised items through cart, checkout and order: one line per configuration,
server-side pricing, re-validation at checkout, made-to-order stock rules, returns,
sign-in merge and privacy erasure."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from plaza.catalog.customisation import erase_text
from plaza.catalog.models import Variant
from plaza.inventory.models import Reservation
from plaza.ordering.models import Checkout, Order, OrderLine
from tests.catalog.test_customisation_spec import SNEAKER
from tests.factories import PASSWORD

from .conftest import Shop, cart_with, checkout_body, make_shop, stock_of

BLACK_RED_ANNA = {"sole": "black", "laces": ["red"], "engraving": "anna"}
BLACK_RED_BEN = {"sole": "black", "laces": ["red"], "engraving": "Ben"}
PRICE = 9900
BLACK_RED_ANNA_PRICE = PRICE + 500 + 200 + 900


@dataclass
class Custom:
    shop: Shop
    product_id: uuid.UUID
    variant_id: uuid.UUID

    def put_spec(self, client, raw: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
        r = client.put(
            f"/merchants/{self.shop.merchant.id}/products/{self.product_id}/customisation",
            json=raw,
            headers=self.shop.merchant.admin.headers,
        )
        assert r.status_code == 200, r.text


def _custom(db, factory, client, *, made_to_order: bool, stock: int) -> Custom:  # type: ignore[no-untyped-def]
    shop = make_shop(db, factory, stock=stock, prices=(PRICE,))
    with db.reading() as s:
        product_id = s.scalar(select(Variant.product_id).where(Variant.id == shop.variants[0]))
    assert product_id is not None
    custom = Custom(shop, product_id, shop.variants[0])
    custom.put_spec(client, {**SNEAKER, "made_to_order": made_to_order})
    return custom


@pytest.fixture
def mto(db, factory, client) -> Custom:  # type: ignore[no-untyped-def]
    """Made to order, nothing in stock."""
    return _custom(db, factory, client, made_to_order=True, stock=0)


@pytest.fixture
def stocked(db, factory, client) -> Custom:  # type: ignore[no-untyped-def]
    """Customised from stock: 5 units."""
    return _custom(db, factory, client, made_to_order=False, stock=5)


def add(client, cart, variant_id, selections=None, quantity=1):  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"variant_id": str(variant_id), "quantity": quantity}
    if selections is not None:
        body["configuration"] = {"selections": selections}
    return client.post(f"/carts/{cart['id']}/lines", json=body, headers=cart["headers"])


def checkout(client, cart):  # type: ignore[no-untyped-def]
    return client.post(
        f"/carts/{cart['id']}/checkout",
        json=checkout_body(),
        headers={**cart["headers"], "Idempotency-Key": uuid.uuid4().hex},
    )


def count(db, model, *where) -> int:  # type: ignore[no-untyped-def]
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


# ---------------------------------------------------------------------- cart


def test_two_configurations_are_two_lines_and_the_same_one_adds_up(client, customer, mto):
    cart = cart_with(client, customer.headers, [])
    assert add(client, cart, mto.variant_id, BLACK_RED_ANNA).status_code == 201
    assert add(client, cart, mto.variant_id, BLACK_RED_BEN).status_code == 201
    # The same configuration, written differently: same canonical form, same line.
    same = {"engraving": " ANNA ", "laces": ["red"], "sole": "black"}
    r = add(client, cart, mto.variant_id, same, quantity=2)
    assert r.status_code == 201, r.text
    lines = r.json()["lines"]
    assert len(lines) == 2
    anna = next(ln for ln in lines if ln["configuration"]["engraving"] == "ANNA")
    ben = next(ln for ln in lines if ln["configuration"]["engraving"] == "BEN")
    assert anna["quantity"] == 3 and ben["quantity"] == 1
    assert anna["configuration"] == {"sole": "black", "laces": ["red"], "engraving": "ANNA"}
    assert anna["configuration_digest"] == anna["customisation"]["digest"]
    assert anna["configuration_digest"] != ben["configuration_digest"]
    assert anna["unit_amount"] == BLACK_RED_ANNA_PRICE
    assert anna["line_amount"] == 3 * BLACK_RED_ANNA_PRICE
    assert anna["customisation"]["summary"].startswith("Sole colour: Black; Laces: Red")
    # Made to order with no stock: still available, nothing to reserve.
    assert anna["available"] is True and anna["configuration_problem"] is None
    assert r.json()["total_amount"] == 4 * BLACK_RED_ANNA_PRICE


def test_patching_a_configured_line_keeps_its_configuration(client, customer, mto):
    cart = cart_with(client, customer.headers, [])
    line = add(client, cart, mto.variant_id, BLACK_RED_ANNA).json()["lines"][0]
    r = client.patch(
        f"/carts/{cart['id']}/lines/{line['id']}", json={"quantity": 4}, headers=cart["headers"]
    )
    assert r.status_code == 200, r.text
    (patched,) = r.json()["lines"]
    assert patched["quantity"] == 4 and patched["configuration"] == line["configuration"]
    r = client.patch(
        f"/carts/{cart['id']}/lines/{line['id']}", json={"quantity": 0}, headers=cart["headers"]
    )
    assert r.json()["lines"] == []


def test_bad_configurations_are_refused_and_add_nothing(client, customer, mto, shop):
    cart = cart_with(client, customer.headers, [])
    r = add(client, cart, mto.variant_id, {"sole": "gum", "laces": ["red"]})
    assert r.status_code == 422 and r.json()["type"] == "/problems/configuration-invalid"
    assert r.json()["violations"][0]["constraint"] == {
        "kind": "requires",
        "if": "sole.gum",
        "then": "laces.white",
    }
    # A customisable product with a required group needs a configuration.
    r = add(client, cart, mto.variant_id)
    assert r.status_code == 422 and r.json()["violations"] == [
        {"group": "sole", "message": "Sole colour: required"}
    ]
    # A plain product takes none.
    r = add(client, cart, shop.variants[0], {"sole": "black"})
    assert r.status_code == 422 and r.json()["type"] == "/problems/product-not-customisable"
    r = add(client, cart, mto.variant_id, {"sole": 1})
    assert r.status_code == 422 and r.json()["type"] == "/problems/validation-error"
    assert client.get(f"/carts/{cart['id']}", headers=cart["headers"]).json()["lines"] == []


def test_configured_lines_of_a_variant_share_its_stock(client, customer, stocked):
    cart = cart_with(client, customer.headers, [])
    assert add(client, cart, stocked.variant_id, BLACK_RED_ANNA, 3).status_code == 201
    r = add(client, cart, stocked.variant_id, BLACK_RED_BEN, 3)
    assert r.status_code == 409 and r.json()["type"] == "/problems/out-of-stock"
    assert r.json()["requested"] == 6 and r.json()["available"] == 5
    assert add(client, cart, stocked.variant_id, BLACK_RED_BEN, 2).status_code == 201


def test_sign_in_merge_keeps_configurations_apart(client, customer, mto):
    mine = cart_with(client, customer.headers, [])
    add(client, mine, mto.variant_id, BLACK_RED_ANNA)
    anon = cart_with(client, {}, [])
    add(client, anon, mto.variant_id, BLACK_RED_ANNA, 2)
    add(client, anon, mto.variant_id, BLACK_RED_BEN)
    r = client.post(
        "/auth/token",
        json={"email": customer.email, "password": PASSWORD, "cart_token": anon["token"]},
    )
    assert r.status_code == 200, r.text
    lines = client.get("/me/cart", headers=customer.headers).json()["lines"]
    assert sorted((ln["configuration"]["engraving"], ln["quantity"]) for ln in lines) == [
        ("ANNA", 3),
        ("BEN", 1),
    ]


# ------------------------------------------------------------------ checkout


def test_checkout_carries_the_configuration_onto_the_order(client, db, customer, mto):
    cart = cart_with(client, customer.headers, [])
    add(client, cart, mto.variant_id, BLACK_RED_ANNA, 2)
    add(client, cart, mto.variant_id, BLACK_RED_BEN)
    r = checkout(client, cart)
    assert r.status_code == 201, r.text
    (order,) = r.json()["orders"]
    # Made to order only: nothing reserved, and the paid order is not mistaken for a lapsed
    # stock hold.
    assert order["status"] == "paid"
    assert count(db, Reservation, Reservation.reference == order["id"]) == 0
    assert order["subtotal_amount"] == 3 * BLACK_RED_ANNA_PRICE
    lines = sorted(order["lines"], key=lambda ln: ln["quantity"])
    assert [ln["unit_amount"] for ln in lines] == [BLACK_RED_ANNA_PRICE] * 2
    config = lines[1]["configuration"]
    assert config["selections"] == {"sole": "black", "laces": ["red"], "engraving": "ANNA"}
    assert config["made_to_order"] is True and config["lead_time_days"] == 10
    assert [b["amount"] for b in config["breakdown"]] == [500, 200, 900]
    assert config["production_note"].startswith("MADE TO ORDER")
    # The merchant sees it "for production".
    m = mto.shop.merchant
    detail = client.get(f"/merchants/{m.id}/orders/{order['id']}", headers=m.admin.headers)
    assert {ln["configuration"]["selections"]["engraving"] for ln in detail.json()["lines"]} == {
        "ANNA",
        "BEN",
    }


def test_stocked_configurations_reserve_one_hold_per_variant(client, db, customer, stocked):
    cart = cart_with(client, customer.headers, [])
    add(client, cart, stocked.variant_id, BLACK_RED_ANNA, 2)
    add(client, cart, stocked.variant_id, BLACK_RED_BEN, 1)
    r = checkout(client, cart)
    assert r.status_code == 201, r.text
    (order,) = r.json()["orders"]
    assert order["status"] == "paid"
    shop = stocked.shop
    assert stock_of(db, stocked.variant_id, shop.merchant.id, shop.location_id) == (2, 0)
    with db.reading() as s:
        lines = s.scalars(select(OrderLine).where(OrderLine.order_id == uuid.UUID(order["id"])))
        allocations = sorted(ln.allocations[0]["quantity"] for ln in lines)
    assert allocations == [1, 2]
    # Cancelling the paid order puts both lines' units back.
    m = shop.merchant
    r = client.post(
        f"/merchants/{m.id}/orders/{order['id']}/cancel", json={}, headers=m.admin.headers
    )
    assert r.status_code == 200, r.text
    assert stock_of(db, stocked.variant_id, shop.merchant.id, shop.location_id) == (5, 0)


def test_checkout_reprices_with_the_current_spec(client, customer, mto):
    cart = cart_with(client, customer.headers, [])
    add(client, cart, mto.variant_id, BLACK_RED_ANNA)
    dearer = copy.deepcopy(SNEAKER)
    dearer["groups"][2]["price_delta"] = {"EUR": 1500}
    mto.put_spec(client, dearer)
    view = client.get(f"/carts/{cart['id']}", headers=cart["headers"]).json()
    assert view["lines"][0]["unit_amount"] == BLACK_RED_ANNA_PRICE + 600
    r = checkout(client, cart)
    assert r.status_code == 201, r.text
    assert r.json()["orders"][0]["lines"][0]["unit_amount"] == BLACK_RED_ANNA_PRICE + 600


def test_a_spec_change_that_invalidates_the_line_stops_checkout(client, db, customer, mto):
    cart = cart_with(client, customer.headers, [])
    add(client, cart, mto.variant_id, BLACK_RED_ANNA)
    no_black = copy.deepcopy(SNEAKER)
    no_black["groups"][0]["options"][1]["available"] = False
    mto.put_spec(client, no_black)
    view = client.get(f"/carts/{cart['id']}", headers=cart["headers"]).json()
    (line,) = view["lines"]
    assert line["unit_amount"] is None and line["available"] is False
    assert line["customisation"] is None
    assert "Black is not available" in line["configuration_problem"]
    orders_before = count(db, Order)
    r = checkout(client, cart)
    assert r.status_code == 422 and r.json()["type"] == "/problems/configuration-invalid"
    assert r.json()["violations"][0] == {
        "group": "sole",
        "option": "black",
        "message": "Sole colour: Black is not available",
    }
    assert count(db, Order) == orders_before
    assert count(db, Checkout, Checkout.cart_id == uuid.UUID(cart["id"])) == 0
    # Without a spec at all, the configured line cannot be made.
    m = mto.shop.merchant
    client.delete(
        f"/merchants/{m.id}/products/{mto.product_id}/customisation", headers=m.admin.headers
    )
    r = checkout(client, cart)
    assert r.status_code == 422 and r.json()["type"] == "/problems/product-not-customisable"
    # Restore black: the cart checks out.
    mto.put_spec(client, SNEAKER)
    assert checkout(client, cart).status_code == 201


def test_a_mixed_cart_reserves_only_what_is_in_stock(client, db, customer, mto, shop):
    cart = cart_with(client, customer.headers, [(shop.variants[0], 2)])
    add(client, cart, mto.variant_id, BLACK_RED_ANNA)
    r = checkout(client, cart)
    assert r.status_code == 201, r.text
    assert {o["status"] for o in r.json()["orders"]} == {"paid"}
    assert stock_of(db, shop.variants[0], shop.merchant.id, shop.location_id) == (8, 0)
    assert stock_of(db, mto.variant_id, mto.shop.merchant.id, mto.shop.location_id) == (0, 0)


def test_a_returned_customised_item_is_refunded_not_restocked(client, db, customer, stocked):
    cart = cart_with(client, customer.headers, [])
    add(client, cart, stocked.variant_id, BLACK_RED_ANNA)
    order = checkout(client, cart).json()["orders"][0]
    m, shop = stocked.shop.merchant, stocked.shop
    h = m.admin.headers
    assert client.post(
        f"/merchants/{m.id}/orders/{order['id']}/fulfil", json={}, headers=h
    ).is_success
    line_id = order["lines"][0]["id"]
    ret = client.post(
        f"/me/orders/{order['id']}/returns",
        json={"lines": [{"order_line_id": line_id, "quantity": 1}], "reason": "faulty engraving"},
        headers=customer.headers,
    ).json()
    r = client.post(
        f"/merchants/{m.id}/returns/{ret['id']}/receive",
        json={"location_id": str(shop.location_id)},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["refund_amount"] == BLACK_RED_ANNA_PRICE
    assert stock_of(db, stocked.variant_id, m.id, shop.location_id) == (4, 0)


def test_erasure_removes_typed_text_from_the_production_record() -> None:
    record = {
        "selections": {"sole": "black", "engraving": "ANNA"},
        "breakdown": [
            {"group": "sole", "kind": "choice", "value": "black", "display": "Black"},
            {"group": "engraving", "kind": "text", "value": "ANNA", "display": "“ANNA”"},
        ],
        "summary": "Sole: Black; Engraving: “ANNA”",
        "production_note": "MADE TO ORDER. Engraving [engraving]: “ANNA”",
    }
    erased, texts = erase_text(record)
    assert texts == ["ANNA"]
    assert erased is not None and "ANNA" not in str(erased)
    assert erased["selections"] == {"sole": "black", "engraving": "[erased]"}
    assert record["selections"]["engraving"] == "ANNA"  # the input is left alone
    assert erase_text(None) == (None, [])


def test_erasing_the_account_erases_its_engravings(client, db, factory, mto):
    who = factory.user()
    cart = cart_with(client, who.headers, [])
    add(client, cart, mto.variant_id, {"sole": "black", "laces": ["red"], "engraving": "Zelda"})
    order = checkout(client, cart).json()["orders"][0]
    m = mto.shop.merchant
    client.post(f"/merchants/{m.id}/orders/{order['id']}/fulfil", json={}, headers=m.admin.headers)
    r = client.post("/me/erase", json={"password": PASSWORD}, headers=who.headers)
    assert r.status_code == 200, r.text
    with db.reading() as s:
        line = s.scalars(
            select(OrderLine).where(OrderLine.order_id == uuid.UUID(order["id"]))
        ).one()
        assert "ZELDA" not in str(line.configuration)
        assert line.configuration is not None
        assert line.configuration["selections"]["sole"] == "black"
