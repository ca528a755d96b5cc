"""Click & collect reacts to ordering and inventory, and expires pickups nobody came for."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from plaza.db import Database
from plaza.events import Event, subscribe
from plaza.o2o.collect import service


@subscribe("order.cancelled", "o2o.collect.cancel_pickup")
def on_order_cancelled(s: Session, event: Event) -> None:
    order_id = event.payload.get("order_id")
    if isinstance(order_id, str):
        service.order_cancelled(s, uuid.UUID(order_id))


@subscribe("inventory.reservation_expired", "o2o.collect.hold_lapsed")
def on_hold_lapsed(s: Session, event: Event) -> None:
    reference = event.payload.get("reference")
    if isinstance(reference, str):
        service.hold_lapsed(s, reference)


def expire_pickups_job(db: Database) -> None:
    """Dispatcher tick hook: cancel ready orders past PLAZA_PICKUP_HOLD_HOURS (refunds are
    settled by ordering's refund job). An idle tick is one indexed read."""
    for _ in range(10):  # bounded per tick
        with db.reading() as s:
            if not service.has_due(s):
                return
        with db.transaction() as s:
            if not service.expire_due(s):
                return
