"""Personas react to ordering and privacy: paid orders and refunded returns become customer
activity; withdrawing ``personalisation`` consent forgets tracked views and cart adds.

Every handler is idempotent (activity rows are insert-or-ignore on their source), as the
outbox delivers at least once."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from plaza.events import Event, subscribe
from plaza.personas import activity


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@subscribe("order.paid", name="personas.record_purchases")
def record_purchases(s: Session, event: Event) -> None:
    if not event.payload.get("customer_id"):
        return  # a guest order: nobody to record it for
    order_id = _uuid(event.payload.get("order_id") or event.aggregate_id)
    if order_id is not None:
        activity.record_paid_orders(s, [order_id])


@subscribe("return.refunded", name="personas.record_returns")
def record_returns(s: Session, event: Event) -> None:
    return_id = _uuid(event.aggregate_id)
    if return_id is not None:
        activity.record_returns(s, [return_id])


@subscribe("consent.changed", name="personas.forget_tracking_on_withdrawal")
def forget_tracking_on_withdrawal(s: Session, event: Event) -> None:
    payload = event.payload
    if payload.get("purpose") != "personalisation" or payload.get("state") != "withdrawn":
        return
    user_id = _uuid(event.aggregate_id)
    if user_id is not None:
        activity.delete_tracked(s, user_id)
