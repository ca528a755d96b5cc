"""Customer activity: purchases and returns from ordering's events (once, whatever the
redeliveries), the rebuild from history, tracked views and cart adds under consent, and
forgetting tracking when consent is withdrawn."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from plaza.db import Database
from plaza.events import Event, OutboxEvent, _to_event
from plaza.inventory import service as inventory
from plaza.ordering import queries
from plaza.personas import activity, subscribers
from plaza.personas.models import ActivityKind, CustomerActivity
from plaza.privacy import service as privacy
from tests.catalog_helpers import create_product
from tests.factories import Actor, Factory, MerchantCtx, unique
from tests.ordering.conftest import cart_with, checkout_body


@dataclass
class Store:
    merchant: MerchantCtx
    location_id: uuid.UUID
    product_id: uuid.UUID
    variants: list[uuid.UUID]


def make_store(db: Database, factory: Factory) -> Store:
    merchant = factory.merchant()
    with db.transaction() as s:
        loc = inventory.create_location(
            s,
            merchant.id,
            code=unique("WH"),
            name="Warehouse",
            kind="warehouse",  # type: ignore[arg-type]
            address_line1="1 Dock Road",
            city="Rotterdam",
            country="NL",
        )
        location_id = loc.id
    product_id, variants = create_product(
        db,
        merchant.id,
        title="Recycled Wool Beanie",
        tags=["recycled", "Knitwear"],
        variants=[
            {"options": {"size": "M"}, "prices": {"EUR": 2500}},
            {"options": {"size": "L"}, "prices": {"EUR": 2700}},
        ],
    )
    with db.transaction() as s:
        for vid in variants:
            inventory.set_stock(
                s, merchant_id=merchant.id, variant_id=vid, location_id=location_id, on_hand=50
            )
    return Store(merchant, location_id, product_id, variants)


@pytest.fixture
def store(db: Database, factory: Factory) -> Store:
    return make_store(db, factory)


def buy(client: Any, who: Actor | None, store: Store, items: list[tuple[int, int]]) -> dict:
    headers = who.headers if who else {}
    cart = cart_with(client, headers, [(store.variants[i], q) for i, q in items])
    body = checkout_body(email=None if who else "guest@example.com")
    r = client.post(
        f"/carts/{cart['id']}/checkout",
        json=body,
        headers={**cart["headers"], "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    return dict(r.json()["orders"][0])


def pending(db: Database, type_: str, aggregate_ids: set[str]) -> list[Event]:
    with db.reading() as s:
        rows = s.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.type == type_, OutboxEvent.aggregate_id.in_(aggregate_ids))
            .order_by(OutboxEvent.id)
        )
        return [_to_event(r) for r in rows]


def deliver(db: Database, type_: str, aggregate_ids: set[str], handler: Any) -> int:
    """Hand this test's events to one personas subscriber, as the dispatcher would."""
    found = pending(db, type_, aggregate_ids)
    for event in found:
        with db.transaction() as s:
            handler(s, event)
    return len(found)


def rows_of(db: Database, user_id: uuid.UUID, kind: ActivityKind | None = None) -> list[Any]:
    with db.reading() as s:
        q = select(CustomerActivity).where(CustomerActivity.user_id == user_id)
        if kind is not None:
            q = q.where(CustomerActivity.kind == kind)
        return list(s.scalars(q.order_by(CustomerActivity.source_ref)))


def recorded_events(db: Database, user_id: uuid.UUID) -> list[dict[str, Any]]:
    with db.reading() as s:
        return [
            e.payload
            for e in s.scalars(
                select(OutboxEvent)
                .where(
                    OutboxEvent.type == "customer.activity_recorded",
                    OutboxEvent.aggregate_id == str(user_id),
                )
                .order_by(OutboxEvent.id)
            )
        ]


# ---------------------------------------------------------------------------- purchases


def test_a_paid_order_records_one_purchase_per_line_once(client, db, factory, store):
    me = factory.user()
    order = buy(client, me, store, [(0, 2), (1, 1)])
    assert deliver(db, "order.paid", {order["id"]}, subscribers.record_purchases) == 1
    rows = rows_of(db, me.id)
    assert len(rows) == 2 and {r.kind for r in rows} == {ActivityKind.PURCHASE}
    by_amount = sorted((r.quantity, r.amount) for r in rows)
    assert by_amount == [(1, 2700), (2, 5000)]
    row = rows[0]
    assert row.product_id == store.product_id and row.merchant_id == store.merchant.id
    assert row.tags == ["recycled", "knitwear"] and row.currency == "EUR"
    assert row.source_ref.startswith("order_line:")
    with db.reading() as s:
        paid = queries.paid_lines(s, order_ids=[uuid.UUID(order["id"])])
    assert {ln.paid_at for ln in paid} == {row.occurred_at}
    assert recorded_events(db, me.id) == [{"user_id": str(me.id), "kinds": ["purchase"]}]

    # The outbox delivers at least once: a redelivery records nothing and says nothing.
    deliver(db, "order.paid", {order["id"]}, subscribers.record_purchases)
    assert len(rows_of(db, me.id)) == 2
    assert len(recorded_events(db, me.id)) == 1


def test_a_guest_order_records_nothing(client, db, store):
    order = buy(client, None, store, [(0, 1)])
    deliver(db, "order.paid", {order["id"]}, subscribers.record_purchases)
    with db.transaction() as s:
        assert activity.record_paid_orders(s, [uuid.UUID(order["id"])]) == 0
        assert (
            s.scalar(
                select(CustomerActivity.id).where(CustomerActivity.product_id == store.product_id)
            )
            is None
        )


def test_refunded_returns_are_recorded(client, db, factory, store):
    me = factory.user()
    order = buy(client, me, store, [(0, 3)])
    m = f"/merchants/{store.merchant.id}"
    h = store.merchant.admin.headers
    assert client.post(f"{m}/orders/{order['id']}/fulfil", json={}, headers=h).status_code == 200
    line = order["lines"][0]["id"]
    ret = client.post(
        f"/me/orders/{order['id']}/returns",
        json={"lines": [{"order_line_id": line, "quantity": 2}], "reason": "too big"},
        headers=me.headers,
    ).json()
    # Not refunded yet: nothing to record.
    with db.transaction() as s:
        assert activity.record_returns(s, [uuid.UUID(ret["id"])]) == 0
    r = client.post(
        f"{m}/returns/{ret['id']}/receive", json={"location_id": str(store.location_id)}, headers=h
    )
    assert r.status_code == 200, r.text
    assert deliver(db, "return.refunded", {ret["id"]}, subscribers.record_returns) == 1
    deliver(db, "return.refunded", {ret["id"]}, subscribers.record_returns)
    returns = rows_of(db, me.id, ActivityKind.RETURN)
    assert len(returns) == 1
    assert (returns[0].quantity, returns[0].amount) == (2, 5000)
    assert returns[0].source_ref == f"return:{ret['id']}:{line}"


def test_backfill_rebuilds_from_history_idempotently(client, db, factory, store):
    me = factory.user()
    first = buy(client, me, store, [(0, 1)])
    second = buy(client, me, store, [(1, 2)])
    # Nothing delivered: the rebuild finds both orders in ordering's history.
    seen: list[int] = []
    added = activity.backfill(db, progress=seen.append)
    assert added >= 2 and sum(seen) >= 2
    assert len(rows_of(db, me.id, ActivityKind.PURCHASE)) == 2
    assert activity.backfill(db) == 0  # again: nothing new
    # Event delivery after a rebuild adds nothing either.
    deliver(db, "order.paid", {first["id"], second["id"]}, subscribers.record_purchases)
    assert len(rows_of(db, me.id)) == 2
    # ``since`` limits the rebuild to recent history.
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    with db.reading() as s:
        assert queries.paid_lines(s, since=future) == []


# ---------------------------------------------------------------------------- tracking


def track(client: Any, who: Actor, product_id: object, **extra: Any) -> Any:
    body = {"kind": "view", "product_id": str(product_id), "event_id": str(uuid.uuid4())}
    body.update(extra)
    return client.post("/me/activity", json=body, headers=who.headers)


def consent(db: Database, who: Actor, granted: bool) -> None:
    with db.transaction() as s:
        if granted:
            privacy.grant(s, who.id, "personalisation")
        else:
            privacy.withdraw(s, who.id, "personalisation")


def test_tracking_needs_personalisation_consent(client, db, factory, store):
    me = factory.user()
    r = track(client, me, store.product_id)
    assert r.status_code == 202 and r.json() == {"recorded": False, "reason": "no-consent"}
    assert rows_of(db, me.id) == []
    consent(db, me, True)
    event_id = str(uuid.uuid4())
    r = track(client, me, store.product_id, event_id=event_id, kind="cart_add")
    assert r.status_code == 202 and r.json() == {"recorded": True, "reason": "recorded"}
    r = track(client, me, store.product_id, event_id=event_id, kind="cart_add")
    assert r.json() == {"recorded": False, "reason": "duplicate"}
    # Another customer's app may pick the same event id: theirs records too.
    other = factory.user()
    consent(db, other, True)
    assert track(client, other, store.product_id, event_id=event_id).json()["recorded"]
    rows = rows_of(db, me.id)
    assert [(r.kind, r.product_id, r.quantity) for r in rows] == [
        (ActivityKind.CART_ADD, store.product_id, 1)
    ]
    assert recorded_events(db, me.id) == [{"user_id": str(me.id), "kinds": ["cart_add"]}]
    listed = client.get("/me/activity", headers=me.headers).json()["items"]
    assert [i["kind"] for i in listed] == ["cart_add"]
    assert client.get("/me/activity", params={"kind": "purchase"}, headers=me.headers).json() == {
        "items": [],
        "next_cursor": None,
    }


def test_tracking_validation(client, db, factory, store):
    me = factory.user()
    consent(db, me, True)
    now = dt.datetime.now(dt.UTC)
    for extra in (
        {"occurred_at": (now + dt.timedelta(hours=1)).isoformat()},
        {"occurred_at": (now - dt.timedelta(days=31)).isoformat()},
        {"occurred_at": "2026-01-01T10:00:00"},  # no time zone
        {"kind": "purchase"},
        {"event_id": "not-a-uuid"},
        {"extra": 1},
    ):
        r = track(client, me, store.product_id, **extra)
        assert r.status_code == 422 and r.json()["type"] == "/problems/validation-error", extra
    r = track(client, me, uuid.uuid4())
    assert r.status_code == 404 and r.json()["type"] == "/problems/not-found"
    # A draft is not something shoppers can see.
    draft, _ = create_product(db, store.merchant.id, status="draft")
    assert track(client, me, draft).status_code == 404
    earlier = (now - dt.timedelta(days=3)).isoformat()
    assert track(client, me, store.product_id, occurred_at=earlier).json()["recorded"]
    assert rows_of(db, me.id)[0].occurred_at == dt.datetime.fromisoformat(earlier)
    assert client.post("/me/activity", json={}).status_code == 401


def test_withdrawing_consent_forgets_tracking_but_not_purchases(client, db, factory, store):
    me = factory.user()
    consent(db, me, True)
    order = buy(client, me, store, [(0, 1)])
    deliver(db, "order.paid", {order["id"]}, subscribers.record_purchases)
    track(client, me, store.product_id)
    track(client, me, store.product_id, kind="cart_add")
    assert len(rows_of(db, me.id)) == 3
    consent(db, me, False)
    deliver(db, "consent.changed", {str(me.id)}, subscribers.forget_tracking_on_withdrawal)
    assert [r.kind for r in rows_of(db, me.id)] == [ActivityKind.PURCHASE]
    # And nothing new is tracked.
    assert track(client, me, store.product_id).json()["reason"] == "no-consent"
