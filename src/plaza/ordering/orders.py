"""Orders: the state machine, its history, and tenancy-scoped queries.

    placed ──► paid ──► fulfilled ──► returned
      │          │           (partial returns keep it fulfilled)
      └──► cancelled ◄──┘

``placed`` holds reserved stock while payment is pending; ``paid`` has taken the stock and
the money; cancelling a paid order refunds it and puts the stock back.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from plaza.db import utcnow
from plaza.errors import NOT_FOUND, ProblemError, problem_type
from plaza.events import emit, event_type
from plaza.ordering.models import Order, OrderHistory, OrderStatus

TRANSITIONS: dict[OrderStatus, set[OrderStatus]] = {
    OrderStatus.PLACED: {OrderStatus.PAID, OrderStatus.CANCELLED},
    OrderStatus.PAID: {OrderStatus.FULFILLED, OrderStatus.CANCELLED},
    OrderStatus.FULFILLED: {OrderStatus.RETURNED},
    OrderStatus.CANCELLED: set(),
    OrderStatus.RETURNED: set(),
}

INVALID_TRANSITION = problem_type(
    "invalid-order-transition",
    "Order cannot move to that status",
    409,
    "Orders move placed → paid → fulfilled → returned, and placed or paid → cancelled. "
    "`from` and `to` name the attempted move.",
)

ORDER_EVENTS = {
    OrderStatus.PLACED: event_type("order.placed", "An order was placed; stock is reserved."),
    OrderStatus.PAID: event_type("order.paid", "An order's payment was captured."),
    OrderStatus.FULFILLED: event_type("order.fulfilled", "A merchant shipped or handed over."),
    OrderStatus.CANCELLED: event_type("order.cancelled", "An order was cancelled."),
    OrderStatus.RETURNED: event_type("order.returned", "Every line of an order was returned."),
}

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def new_order_number() -> str:
    return utcnow().strftime("%y%m%d") + "-" + "".join(secrets.choice(_ALPHABET) for _ in range(7))


def record(
    s: Session, order: Order, from_status: OrderStatus | None, actor: str, note: str = ""
) -> None:
    s.add(
        OrderHistory(
            order_id=order.id,
            merchant_id=order.merchant_id,
            from_status=from_status.value if from_status else None,
            to_status=order.status.value,
            actor=actor,
            note=note[:500],
        )
    )
    emit(
        s,
        ORDER_EVENTS[order.status],
        aggregate_type="order",
        aggregate_id=order.id,
        merchant_id=order.merchant_id,
        payload={
            "order_id": str(order.id),
            "number": order.number,
            "checkout_id": str(order.checkout_id),
            "status": order.status.value,
            "from": from_status.value if from_status else None,
            "total_amount": order.total_amount,
            "currency": order.currency,
            "customer_id": str(order.customer_id) if order.customer_id else None,
            "channel": order.channel,
            "lines": [
                {
                    "variant_id": str(ln.variant_id),
                    "quantity": ln.quantity,
                    "unit_amount": ln.unit_amount,
                }
                for ln in order.lines
            ],
        },
    )


def transition(s: Session, order: Order, to: OrderStatus, actor: str, note: str = "") -> bool:
    """Move ``order`` to ``to``. Moving to the status it already has is a no-op (False),
    so retried operations are harmless; an illegal move is a 409 problem."""
    if order.status == to:
        return False
    if to not in TRANSITIONS[order.status]:
        raise ProblemError(
            INVALID_TRANSITION,
            f"an order that is {order.status} cannot become {to}",
            from_status=order.status.value,
            to_status=to.value,
        )
    previous = order.status
    order.status = to
    record(s, order, previous, actor, note)
    return True


def merchant_orders_query(merchant_id: uuid.UUID) -> Select[Order]:
    return select(Order).where(Order.merchant_id == merchant_id)


def get_merchant_order(
    s: Session, merchant_id: uuid.UUID, order_id: uuid.UUID, *, for_update: bool = False
) -> Order:
    q = merchant_orders_query(merchant_id).where(Order.id == order_id)
    order = s.scalar(q.with_for_update() if for_update else q)
    if order is None:
        raise ProblemError(NOT_FOUND, f"order {order_id} not found", resource="order")
    return order


def get_customer_order(
    s: Session, customer_id: uuid.UUID, order_id: uuid.UUID, *, for_update: bool = False
) -> Order:
    q = select(Order).where(Order.id == order_id, Order.customer_id == customer_id)
    order = s.scalar(q.with_for_update() if for_update else q)
    if order is None:
        raise ProblemError(NOT_FOUND, f"order {order_id} not found", resource="order")
    return order


def history(s: Session, order_id: uuid.UUID) -> Sequence[OrderHistory]:
    return s.scalars(
        select(OrderHistory).where(OrderHistory.order_id == order_id).order_by(OrderHistory.id)
    ).all()
