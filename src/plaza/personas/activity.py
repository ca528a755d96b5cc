"""Customer activity: the behavioural facts personas and recommendations are computed from.

Sources, one ``CustomerActivity`` row per fact:

- **purchases**: every line of a paid order of a signed-in customer (``order.paid``; guest
  orders record nothing), at the time the order was paid;
- **returns**: every line of a refunded return (``return.refunded``);
- **views and cart adds** the shop app tracks (``POST /me/activity``), only while the
  customer grants ``personalisation`` consent: tracking is personalisation's input. When
  the customer withdraws that consent, their tracked views and cart adds are deleted
  (purchases and returns stay: they mirror orders the customer placed, and personalised
  *output* is refused without consent anyway).

Every row carries a ``source_ref`` unique per kind ("order_line:<id>", "return:<id>:<line>",
"track:<user>:<event id>"), and rows are written with insert-or-ignore, so a redelivered
event, a retried track call and a rebuild (``backfill``) each record a fact once.
After recording, ``customer.activity_recorded`` {user_id, kinds} is emitted per customer.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from plaza.catalog.features import ProductFeatures, product_features
from plaza.db import Database, utcnow
from plaza.errors import VALIDATION, ProblemError, not_found
from plaza.events import emit, event_type
from plaza.ordering.queries import PaidLine, ReturnedLine, paid_lines, returned_lines
from plaza.personas.models import ActivityKind, CustomerActivity
from plaza.privacy.service import has_consent

ACTIVITY_RECORDED = event_type(
    "customer.activity_recorded",
    "New behavioural facts were recorded for a customer (payload: user_id, kinds: "
    "purchase, return, view, cart_add).",
)

TRACKED = (ActivityKind.VIEW, ActivityKind.CART_ADD)
TRACK_WINDOW = dt.timedelta(days=30)
CLOCK_SKEW = dt.timedelta(minutes=5)  # a phone's clock a little ahead is not "the future"
BATCH = 500


# ---------------------------------------------------------------------------- writing


def _insert_ignore(s: Session, rows: list[dict[str, Any]]) -> list[tuple[uuid.UUID, str]]:
    """Insert ``rows``, skipping facts already recorded (same kind and source_ref) on
    SQLite and PostgreSQL alike; returns (user_id, kind) of the rows actually added."""
    if not rows:
        return []
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    added: list[tuple[uuid.UUID, str]] = []
    for i in range(0, len(rows), BATCH):
        stmt = (
            insert(CustomerActivity)
            .on_conflict_do_nothing(index_elements=["kind", "source_ref"])
            .returning(CustomerActivity.user_id, CustomerActivity.kind)
        )
        for user_id, kind in s.execute(stmt, rows[i : i + BATCH]):
            added.append((user_id, str(kind.value if hasattr(kind, "value") else kind)))
    return added


def record(s: Session, rows: list[dict[str, Any]]) -> int:
    """Record activity rows idempotently and tell subscribers; returns how many were new."""
    added = _insert_ignore(s, rows)
    kinds: dict[uuid.UUID, set[str]] = defaultdict(set)
    for user_id, kind in added:
        kinds[user_id].add(kind)
    for user_id in sorted(kinds):
        emit(
            s,
            ACTIVITY_RECORDED,
            aggregate_type="user",
            aggregate_id=user_id,
            payload={"user_id": str(user_id), "kinds": sorted(kinds[user_id])},
        )
    return len(added)


def _facts(f: ProductFeatures | None) -> dict[str, Any]:
    if f is None:  # a product deleted since: keep the fact without its catalog words
        return {"category": None, "tags": []}
    return {"category": f.category, "tags": [t.lower() for t in f.tags][:50]}


def _purchase_rows(s: Session, lines: Iterable[PaidLine]) -> list[dict[str, Any]]:
    mine = [ln for ln in lines if ln.customer_id is not None]
    features = product_features(s, {ln.product_id for ln in mine})
    return [
        {
            "user_id": ln.customer_id,
            "kind": ActivityKind.PURCHASE,
            "merchant_id": ln.merchant_id,
            "product_id": ln.product_id,
            **_facts(features.get(ln.product_id)),
            "quantity": ln.quantity,
            "amount": ln.unit_amount * ln.quantity,
            "currency": ln.currency,
            "source_ref": f"order_line:{ln.line_id}",
            "occurred_at": ln.paid_at,
        }
        for ln in mine
    ]


def _return_rows(s: Session, lines: Iterable[ReturnedLine]) -> list[dict[str, Any]]:
    mine = [ln for ln in lines if ln.customer_id is not None]
    features = product_features(s, {ln.product_id for ln in mine})
    return [
        {
            "user_id": ln.customer_id,
            "kind": ActivityKind.RETURN,
            "merchant_id": ln.merchant_id,
            "product_id": ln.product_id,
            **_facts(features.get(ln.product_id)),
            "quantity": ln.quantity,
            "amount": ln.unit_amount * ln.quantity,
            "currency": ln.currency,
            "source_ref": f"return:{ln.return_id}:{ln.line_id}",
            "occurred_at": ln.refunded_at,
        }
        for ln in mine
    ]


def record_paid_orders(s: Session, order_ids: Iterable[uuid.UUID]) -> int:
    """Purchases of these orders (if paid and not a guest's); returns how many were new."""
    return record(s, _purchase_rows(s, paid_lines(s, order_ids=order_ids)))


def record_returns(s: Session, return_ids: Iterable[uuid.UUID]) -> int:
    """Returns of these (refunded) returns; returns how many were new."""
    return record(s, _return_rows(s, returned_lines(s, return_ids=return_ids)))


# ---------------------------------------------------------------------------- tracking


def track(
    s: Session,
    user_id: uuid.UUID,
    kind: ActivityKind | str,
    product_id: uuid.UUID,
    event_id: uuid.UUID,
    occurred_at: dt.datetime | None = None,
) -> str:
    """Record a view or cart add the app tracked. Answers ``recorded``, ``duplicate`` (the
    same ``event_id`` was recorded before) or ``no-consent`` (nothing is tracked without
    ``personalisation`` consent). 404 for a product shoppers cannot see."""
    kind = ActivityKind(kind)
    if kind not in TRACKED:
        raise ValueError(f"{kind} is not tracked by the app")
    now = utcnow()
    when = (occurred_at or now).astimezone(dt.UTC)
    if when > now + CLOCK_SKEW or when < now - TRACK_WINDOW:
        raise ProblemError(
            VALIDATION,
            "the request has invalid fields",
            errors=[
                {
                    "loc": ["body", "occurred_at"],
                    "msg": "must be within the last 30 days and not in the future",
                    "type": "value_error",
                }
            ],
        )
    f = product_features(s, [product_id]).get(product_id)
    if f is None or not f.sellable:
        raise not_found("product", product_id)
    if not has_consent(s, user_id, "personalisation"):
        return "no-consent"
    row = {
        "user_id": user_id,
        "kind": kind,
        "merchant_id": f.merchant_id,
        "product_id": product_id,
        **_facts(f),
        "quantity": 1,
        "amount": 0,
        "currency": None,
        # The user is part of the reference: two customers' apps may pick the same id.
        "source_ref": f"track:{user_id.hex}:{event_id}",
        "occurred_at": min(when, now),
    }
    return "recorded" if record(s, [row]) else "duplicate"


def delete_tracked(s: Session, user_id: uuid.UUID) -> int:
    """Forget the customer's tracked views and cart adds (consent withdrawn)."""
    result = s.execute(
        delete(CustomerActivity).where(
            CustomerActivity.user_id == user_id, CustomerActivity.kind.in_(TRACKED)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def activity_of(s: Session, user_id: uuid.UUID) -> list[CustomerActivity]:
    return list(
        s.scalars(
            select(CustomerActivity)
            .where(CustomerActivity.user_id == user_id)
            .order_by(CustomerActivity.occurred_at, CustomerActivity.id)
        )
    )


# ---------------------------------------------------------------------------- rebuild


def backfill(
    db: Database,
    since: dt.datetime | None = None,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Record purchases and returns from ordering's history (paid or refunded at or after
    ``since``; everything when ``None``), in batches of one transaction each. Idempotent:
    facts already recorded are skipped. Returns how many rows were new; ``progress`` is
    called with the number of order lines handled after each batch."""
    added = 0
    after: uuid.UUID | None = None
    while True:
        with db.transaction() as s:
            lines = paid_lines(s, since=since, after=after, limit=BATCH)
            if not lines:
                break
            added += record(s, _purchase_rows(s, lines))
        after = lines[-1].line_id
        if progress is not None:
            progress(len(lines))
    with db.transaction() as s:
        returned = returned_lines(s, since=since)
        added += record(s, _return_rows(s, returned))
    if progress is not None and returned:
        progress(len(returned))
    return added
