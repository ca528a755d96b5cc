"""Read functions ordering offers other contexts: facts about paid and returned order
lines, in bulk and without ORM objects, so nobody else reads ordering's tables.

Personas records purchases and returns as customer activity from these (on ``order.paid``
and ``return.refunded``, and in a full rebuild from history)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plaza.ordering.models import Order, OrderHistory, OrderLine, OrderStatus, Return, ReturnStatus


@dataclass(frozen=True)
class PaidLine:
    """One line of a paid order (whatever became of the order since)."""

    order_id: uuid.UUID
    line_id: uuid.UUID
    customer_id: uuid.UUID | None  # None: a guest order, or an erased account
    merchant_id: uuid.UUID
    product_id: uuid.UUID
    variant_id: uuid.UUID
    quantity: int
    unit_amount: int
    currency: str
    paid_at: dt.datetime  # when the order first became paid (its history)


@dataclass(frozen=True)
class ReturnedLine:
    """One line of a refunded return."""

    return_id: uuid.UUID
    order_id: uuid.UUID
    line_id: uuid.UUID
    customer_id: uuid.UUID | None
    merchant_id: uuid.UUID
    product_id: uuid.UUID
    variant_id: uuid.UUID
    quantity: int  # returned in this return
    unit_amount: int
    currency: str
    refunded_at: dt.datetime


def paid_lines(
    s: Session,
    order_ids: Iterable[uuid.UUID] | None = None,
    since: dt.datetime | None = None,
    *,
    after: uuid.UUID | None = None,
    limit: int | None = None,
) -> list[PaidLine]:
    """Lines of orders that were paid (optionally only ``order_ids``, only those paid at or
    after ``since``), in order-line id order. ``after``/``limit`` page through history in
    bulk (``after``: the last line id of the previous page)."""
    paid = (
        select(OrderHistory.order_id, func.min(OrderHistory.at).label("paid_at"))
        .where(OrderHistory.to_status == OrderStatus.PAID.value)
        .group_by(OrderHistory.order_id)
        .subquery()
    )
    q = (
        select(
            OrderLine.order_id,
            OrderLine.id,
            Order.customer_id,
            OrderLine.merchant_id,
            OrderLine.product_id,
            OrderLine.variant_id,
            OrderLine.quantity,
            OrderLine.unit_amount,
            Order.currency,
            paid.c.paid_at,
        )
        .join(Order, Order.id == OrderLine.order_id)
        .join(paid, paid.c.order_id == OrderLine.order_id)
    )
    if order_ids is not None:
        ids = list(order_ids)
        if not ids:
            return []
        q = q.where(OrderLine.order_id.in_(ids))
    if since is not None:
        q = q.where(paid.c.paid_at >= since)
    if after is not None:
        q = q.where(OrderLine.id > after)
    q = q.order_by(OrderLine.id)
    if limit is not None:
        q = q.limit(limit)
    return [
        PaidLine(
            order_id=r[0],
            line_id=r[1],
            customer_id=r[2],
            merchant_id=r[3],
            product_id=r[4],
            variant_id=r[5],
            quantity=r[6],
            unit_amount=r[7],
            currency=r[8],
            paid_at=_aware(r[9]),
        )
        for r in s.execute(q)
    ]


def returned_lines(
    s: Session,
    return_ids: Iterable[uuid.UUID] | None = None,
    since: dt.datetime | None = None,
) -> list[ReturnedLine]:
    """Lines of refunded returns (optionally only ``return_ids``, or refunded since
    ``since``), in return id order."""
    q = (
        select(Return, Order.customer_id, Order.currency)
        .join(Order, Order.id == Return.order_id)
        .where(Return.status == ReturnStatus.REFUNDED)
    )
    if return_ids is not None:
        ids = list(return_ids)
        if not ids:
            return []
        q = q.where(Return.id.in_(ids))
    if since is not None:
        q = q.where(Return.updated_at >= since)
    rows = s.execute(q.order_by(Return.id)).all()
    line_ids = {uuid.UUID(str(item["order_line_id"])) for ret, _, _ in rows for item in ret.lines}
    lines: dict[uuid.UUID, OrderLine] = {}
    ordered = sorted(line_ids)
    for i in range(0, len(ordered), 500):
        for found in s.scalars(select(OrderLine).where(OrderLine.id.in_(ordered[i : i + 500]))):
            lines[found.id] = found
    out: list[ReturnedLine] = []
    for ret, customer_id, currency in rows:
        for item in ret.lines:
            line = lines.get(uuid.UUID(str(item["order_line_id"])))
            if line is None:  # pragma: no cover - lines are never deleted
                continue
            out.append(
                ReturnedLine(
                    return_id=ret.id,
                    order_id=ret.order_id,
                    line_id=line.id,
                    # The return's own link goes on erasure too; the order's is the same person.
                    customer_id=ret.customer_id or customer_id,
                    merchant_id=line.merchant_id,
                    product_id=line.product_id,
                    variant_id=line.variant_id,
                    quantity=int(item["quantity"]),
                    unit_amount=line.unit_amount,
                    currency=currency,
                    refunded_at=ret.updated_at,
                )
            )
    return out


def _aware(value: dt.datetime) -> dt.datetime:
    """Aggregates bypass the column type's conversion: SQLite hands back naive UTC (or even
    text), so make it an aware UTC datetime."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
