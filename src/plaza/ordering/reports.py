"""Merchant reporting over orders, for the back-office: sales by channel, top products,
recent orders, and the filtered listings of orders and returns. Every function is scoped to
one merchant and aggregates in SQL (GROUP BY); nothing here writes.

Sales count orders whose money was taken: ``paid``, ``fulfilled`` and ``returned`` (a
cancelled order was refunded in full; a ``placed`` one is not paid yet), by the time the
order was placed. Channels, as the dashboard shows them:

- ``online``: ordered online and delivered;
- ``click_collect``: ordered online, collected in a store;
- ``store``: sold by store staff (the endless aisle), however it reaches the customer.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from plaza.db import utcnow
from plaza.errors import NOT_FOUND, ProblemError
from plaza.ordering import orders
from plaza.ordering.models import (
    FulfilmentMethod,
    Order,
    OrderLine,
    OrderStatus,
    Return,
    ReturnStatus,
)
from plaza.ordering.schemas import OrderOut

SALES_STATUSES = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.RETURNED)
SALES_CHANNELS: dict[str, str] = {
    "online": "Online delivery",
    "store": "Store (endless aisle)",
    "click_collect": "Click & collect",
}
# The raw ``Order.channel`` values, for the orders list filter.
ORDER_CHANNELS: dict[str, str] = {"online": "Online", "endless_aisle": "Endless aisle"}

_bucket = case(
    (Order.channel != "online", "store"),
    (Order.fulfilment == FulfilmentMethod.COLLECT, "click_collect"),
    else_="online",
)


def period_start(days: int, now: dt.datetime | None = None) -> dt.datetime:
    return (now or utcnow()) - dt.timedelta(days=days)


@dataclass(frozen=True)
class ChannelSales:
    channel: str  # a key of SALES_CHANNELS
    currency: str
    orders: int
    revenue: int  # order totals, minor units
    refunded: int


@dataclass(frozen=True)
class ProductSales:
    product_id: uuid.UUID
    title: str  # an order line's title (the variant's, at the time of the order)
    currency: str
    units: int
    revenue: int


def _sold(merchant_id: uuid.UUID, since: dt.datetime | None) -> list[Any]:
    where = [Order.merchant_id == merchant_id, Order.status.in_(SALES_STATUSES)]
    if since is not None:
        where.append(Order.created_at >= since)
    return where


def sales_by_channel(
    s: Session, merchant_id: uuid.UUID, since: dt.datetime | None = None
) -> list[ChannelSales]:
    """Order count, revenue and refunds per channel and currency, for orders placed at or
    after ``since``; channels without sales are absent."""
    bucket = _bucket.label("bucket")
    q = (
        select(
            bucket,
            Order.currency,
            func.count(Order.id),
            func.coalesce(func.sum(Order.total_amount), 0),
            func.coalesce(func.sum(Order.refunded_amount), 0),
        )
        .where(*_sold(merchant_id, since))
        .group_by(bucket, Order.currency)
        .order_by(bucket, Order.currency)
    )
    return [
        ChannelSales(str(b), str(c), int(n), int(rev), int(ref))
        for b, c, n, rev, ref in s.execute(q)
    ]


def top_products(
    s: Session,
    merchant_id: uuid.UUID,
    currency: str,
    since: dt.datetime | None = None,
    *,
    by: Literal["units", "revenue"] = "units",
    limit: int = 5,
) -> list[ProductSales]:
    """The best-selling products in ``currency`` (units bought and line revenue), best
    first by ``by``; ties by product id."""
    units = func.sum(OrderLine.quantity).label("units")
    revenue = func.sum(OrderLine.quantity * OrderLine.unit_amount).label("revenue")
    q = (
        select(OrderLine.product_id, func.min(OrderLine.title), units, revenue)
        .join(Order, Order.id == OrderLine.order_id)
        .where(*_sold(merchant_id, since), Order.currency == currency)
        .group_by(OrderLine.product_id)
        .order_by((units if by == "units" else revenue).desc(), OrderLine.product_id)
        .limit(limit)
    )
    return [
        ProductSales(pid, str(title), currency, int(u), int(rev))
        for pid, title, u, rev in s.execute(q)
    ]


def recent_orders(s: Session, merchant_id: uuid.UUID, limit: int = 5) -> list[OrderOut]:
    """The merchant's newest orders, whatever their status."""
    q = orders.merchant_orders_query(merchant_id).order_by(Order.id.desc()).limit(limit)
    return [OrderOut.model_validate(o) for o in s.scalars(q)]


def orders_query(
    merchant_id: uuid.UUID,
    *,
    status: OrderStatus | None = None,
    channel: str | None = None,
    fulfilment: FulfilmentMethod | None = None,
) -> Select[Any]:
    """The merchant's orders, optionally by status, raw channel and fulfilment method
    (page it with ``plaza.pagination.newest_first``)."""
    q = orders.merchant_orders_query(merchant_id)
    if status is not None:
        q = q.where(Order.status == status)
    if channel is not None:
        q = q.where(Order.channel == channel)
    if fulfilment is not None:
        q = q.where(Order.fulfilment == fulfilment)
    return q


def returns_query(merchant_id: uuid.UUID, status: ReturnStatus | None = None) -> Select[Any]:
    """The merchant's return requests, optionally in one status (as the API lists them)."""
    q = select(Return).where(Return.merchant_id == merchant_id)
    if status is not None:
        q = q.where(Return.status == status)
    return q


def get_return(s: Session, merchant_id: uuid.UUID, return_id: uuid.UUID) -> Return:
    """One of the merchant's returns, read without locking it."""
    ret = s.scalar(select(Return).where(Return.id == return_id, Return.merchant_id == merchant_id))
    if ret is None:
        raise ProblemError(NOT_FOUND, f"return {return_id} not found", resource="return")
    return ret


def order_returns(s: Session, merchant_id: uuid.UUID, order_id: uuid.UUID) -> list[Return]:
    return list(
        s.scalars(
            select(Return)
            .where(Return.merchant_id == merchant_id, Return.order_id == order_id)
            .order_by(Return.id)
        )
    )


@dataclass(frozen=True)
class OrderRef:
    number: str
    currency: str


def order_refs(
    s: Session, merchant_id: uuid.UUID, order_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, OrderRef]:
    """Number and currency of the merchant's orders named (for listing their returns)."""
    ids = list(set(order_ids))
    if not ids:
        return {}
    q = select(Order.id, Order.number, Order.currency).where(
        Order.merchant_id == merchant_id, Order.id.in_(ids)
    )
    return {i: OrderRef(n, c) for i, n, c in s.execute(q)}
