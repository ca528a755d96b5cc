"""Defects the checkout storm (tests/reliability) found in ordering, kept fixed."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from plaza.db import utcnow
from plaza.events import dispatch_pending
from plaza.inventory import service as inventory
from plaza.inventory.models import Reservation
from plaza.ordering.api import get_provider
from plaza.ordering.models import Order
from plaza.ordering.payments import ProviderResult, ProviderTimeoutError
from plaza.ordering.sandbox import SandboxProvider

from ..core.helpers import problem
from .conftest import cart_with, checkout_body


class ScriptedProvider(SandboxProvider):
    """The sandbox, but its first calls decline or time out as the script says."""

    def __init__(self, db: Any, script: list[str]) -> None:
        super().__init__(db)
        self.script = script

    def authorize(
        self, *, key: str, amount: int, currency: str, token: str, capture: bool = False
    ) -> ProviderResult:
        step = self.script.pop(0) if self.script else "ok"
        if step == "timeout":  # before charging: a retry charges afresh
            raise ProviderTimeoutError("scripted timeout")
        if step == "decline":
            token = "tok_declined"
        return super().authorize(
            key=key, amount=amount, currency=currency, token=token, capture=capture
        )


@pytest.fixture
def scripted(app, db) -> Iterator[ScriptedProvider]:  # type: ignore[no-untyped-def]
    provider = ScriptedProvider(db, [])
    app.dependency_overrides[get_provider] = lambda: provider
    yield provider
    app.dependency_overrides.pop(get_provider, None)


def test_resumed_checkout_with_a_declined_order_is_not_a_success(
    client, shop, other_shop, customer, scripted
):
    """Two orders: the first payment is declined, the second times out (503). The retry
    used to pay the second and answer 201 although the first order was still unpaid."""
    cart = cart_with(client, customer.headers, [(shop.variants[0], 1), (other_shop.variants[0], 1)])
    scripted.script[:] = ["decline", "timeout"]
    headers = {**customer.headers, "Idempotency-Key": uuid.uuid4().hex}
    url = f"/carts/{cart['id']}/checkout"
    r = client.post(url, json=checkout_body(), headers=headers)
    assert r.status_code == 503, r.text

    r = client.post(url, json=checkout_body(), headers=headers)
    assert r.status_code == 402, r.text
    problem = r.json()
    assert problem["type"] == "/problems/payment-declined"
    assert problem["decline_code"] == "card_declined"
    assert problem["checkout"]["status"] == "partially_paid"
    assert sorted(o["status"] for o in problem["checkout"]["orders"]) == ["paid", "placed"]
    # the answer is final for this key, and paying the rest is the documented way on
    r = client.post(url, json=checkout_body(), headers=headers)
    assert r.status_code == 402 and r.headers["Idempotent-Replayed"] == "true"
    r = client.post(
        f"/checkouts/{problem['checkout_id']}/payments",
        json={"token": "tok_visa"},
        headers={**customer.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "completed"


def _lapse_holds_and_expire(db, order_ids: list[str]) -> None:
    """As if the reservation TTL passed: the sweep expires the holds, the subscriber cancels
    the unpaid orders."""
    with db.transaction() as s:
        s.execute(
            update(Reservation)
            .where(Reservation.reference.in_(order_ids))
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    with db.transaction() as s:
        inventory.expire_due(s)
    while dispatch_pending(db):
        pass


def test_retry_after_the_holds_lapsed_is_not_a_success(client, db, shop, customer):
    """tok_timeout charges, then times out (503). The shopper retries only after the stock
    hold expired and the order was cancelled: the charge is refunded, and the answer used
    to be 201 for a checkout whose only order was cancelled."""
    cart = cart_with(client, customer.headers, [(shop.variants[0], 1)])
    headers = {**customer.headers, "Idempotency-Key": uuid.uuid4().hex}
    url = f"/carts/{cart['id']}/checkout"
    r = client.post(url, json=checkout_body("tok_timeout"), headers=headers)
    assert r.status_code == 503, r.text
    checkout_id = uuid.UUID(r.json()["checkout_id"])
    with db.reading() as s:
        order_ids = [
            str(i) for i in s.scalars(select(Order.id).where(Order.checkout_id == checkout_id))
        ]
    _lapse_holds_and_expire(db, order_ids)

    r = client.post(url, json=checkout_body("tok_timeout"), headers=headers)
    body = problem(r, 409, "checkout-orders-cancelled")
    assert body["cancelled_order_ids"] == order_ids
    assert body["checkout"]["status"] == "cancelled"
    (payment,) = body["checkout"]["orders"][0]["payments"]
    assert payment["captured_amount"] == payment["refunded_amount"] == 1999
    assert client.post(url, json=checkout_body("tok_timeout"), headers=headers).status_code == 409
    # Paying again has nothing left to pay, and says so too.
    r = client.post(
        f"/checkouts/{checkout_id}/payments",
        json={"token": "tok_visa"},
        headers={**customer.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    problem(r, 409, "checkout-orders-cancelled")
