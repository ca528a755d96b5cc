"""Fitting rooms react to purchases: a paid order of a shopper marks what they tried as
bought (see ``service`` for the window). Also the housekeeping that closes sessions a
shopper walked out of without closing."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.orm import Session

from plaza.db import Database, utcnow
from plaza.events import Event, subscribe
from plaza.o2o.fitting import service

CLOSE_EVERY = dt.timedelta(minutes=5)
_last_sweep: dt.datetime | None = None


@subscribe("order.paid", "o2o.fitting.purchases")
def on_order_paid(s: Session, event: Event) -> None:
    customer = event.payload.get("customer_id")
    if not customer:
        return  # guest orders: staff record those at close
    variants = {uuid.UUID(str(line["variant_id"])) for line in event.payload.get("lines", [])}
    service.record_purchase(
        s,
        uuid.UUID(str(customer)),
        uuid.UUID(str(event.payload["order_id"])),
        variants,
        event.occurred_at,
    )


def close_stale_job(db: Database) -> None:
    """Dispatcher tick hook: at most every ``CLOSE_EVERY`` per process."""
    global _last_sweep
    now = utcnow()
    if _last_sweep is not None and now - _last_sweep < CLOSE_EVERY:
        return
    _last_sweep = now
    with db.transaction() as s:
        service.close_stale(s, now)
