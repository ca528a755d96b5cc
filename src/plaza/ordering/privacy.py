"""Ordering's part of data rights: carts, checkouts, orders, payments and returns.

Erasure keeps orders (merchants must keep sales records for tax and accounting, typically
for years) but cuts them loose from the person: the account link goes, the email becomes
the erasure's random pseudonym, the shipping address keeps only ``country``, ``region``
and ``postal_code`` (the tax jurisdiction), and text the customer typed (cancellation
notes, return reasons) is cleared. Amounts, lines, merchant, dates and statuses stay.
Carts are deleted (or, when a checkout refers to one, emptied and detached).

An account with orders still in progress (awaiting payment, or paid and not yet shipped)
cannot be erased yet: the merchant still needs the delivery address.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plaza.catalog import customisation
from plaza.errors import ProblemError, problem_type
from plaza.ordering import service
from plaza.ordering.models import (
    Cart,
    Checkout,
    Order,
    OrderHistory,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    Return,
)
from plaza.ordering.schemas import ReturnOut
from plaza.privacy import registry
from plaza.privacy.registry import ERASED, Subject

ADDRESS_KEPT = ("country", "region", "postal_code")
ADDRESS_ERASED = ("name", "line1", "line2", "city", "phone")
OPEN_STATUSES = (OrderStatus.PLACED, OrderStatus.PAID)

ORDERS_IN_PROGRESS = problem_type(
    "erasure-orders-in-progress",
    "Orders are still in progress",
    409,
    "The account has orders awaiting payment or paid but not yet shipped (`order_ids`); "
    "the merchant still needs their delivery details. Erase the account once they are "
    "fulfilled or cancelled.",
)


def _orders_of(s: Session, subject: Subject) -> list[Order]:
    return list(
        s.scalars(select(Order).where(Order.customer_id == subject.user_id).order_by(Order.id))
    )


def export_ordering(s: Session, subject: Subject) -> dict[str, Any]:
    carts = s.scalars(
        select(Cart).where(Cart.customer_id == subject.user_id).order_by(Cart.id)
    ).all()
    checkouts = s.scalars(
        select(Checkout).where(Checkout.customer_id == subject.user_id).order_by(Checkout.id)
    ).all()
    returns = s.scalars(
        select(Return).where(Return.customer_id == subject.user_id).order_by(Return.id)
    ).all()
    return {
        "carts": [
            {
                "id": c.id,
                "status": c.status.value,
                "currency": c.currency,
                "created_at": c.created_at,
                "lines": [
                    {
                        "variant_id": ln.variant_id,
                        "merchant_id": ln.merchant_id,
                        "quantity": ln.quantity,
                        "configuration": ln.configuration,
                        "added_at": ln.added_at,
                    }
                    for ln in c.lines
                ],
            }
            for c in carts
        ],
        "checkouts": [
            {
                "id": c.id,
                "status": c.status.value,
                "email": c.email,
                "currency": c.currency,
                "total_amount": c.total_amount,
                "created_at": c.created_at,
            }
            for c in checkouts
        ],
        # The same shape as GET /me/orders/{id}: lines, history and payments included.
        "orders": [
            service.order_detail(s, o).model_dump(mode="json") for o in _orders_of(s, subject)
        ],
        "returns": [ReturnOut.model_validate(r).model_dump(mode="json") for r in returns],
    }


def erase_ordering(s: Session, subject: Subject) -> dict[str, int]:
    orders = _orders_of(s, subject)
    in_progress = [str(o.id) for o in orders if o.status in OPEN_STATUSES]
    if in_progress:
        raise ProblemError(ORDERS_IN_PROGRESS, order_ids=in_progress)
    order_ids = [o.id for o in orders]
    subject.relate(*order_ids)

    # Text the customer typed: cleared here, and remembered for the platform scrub.
    own_history = list(s.scalars(select(OrderHistory).where(OrderHistory.actor == subject.actor)))
    for row in own_history:
        if row.order_id in order_ids:
            subject.remember(row.note)
        row.actor = ERASED
        if row.order_id in order_ids:
            row.note = ""
    returns = list(s.scalars(select(Return).where(Return.customer_id == subject.user_id)))
    for ret in returns:
        subject.relate(ret.id)
        subject.remember(ret.reason)
        ret.reason = ""
        ret.customer_id = None

    for order in orders:
        address = dict(order.shipping_address or {})
        subject.remember(*(str(address.get(k) or "") for k in ADDRESS_ERASED))
        subject.remember_email(order.email)
        order.shipping_address = {k: address[k] for k in ADDRESS_KEPT if address.get(k)}
        for line in order.lines:  # engravings and monograms are text the customer typed
            if line.configuration is not None:
                line.configuration, texts = customisation.erase_text(line.configuration)
                subject.remember(*texts)
        order.email = subject.pseudonymous_email
        order.customer_id = None
    if order_ids:
        for refund in s.scalars(select(Refund).where(Refund.order_id.in_(order_ids))):
            refund.reason = subject.scrub_text(refund.reason)
        # A payment method token stands for the customer's card at the provider.
        for payment in s.scalars(
            select(Payment).where(
                Payment.order_id.in_(order_ids), Payment.status != PaymentStatus.PENDING
            )
        ):
            payment.method_token = ERASED

    checkouts = list(s.scalars(select(Checkout).where(Checkout.customer_id == subject.user_id)))
    for checkout in checkouts:
        subject.relate(checkout.id)
        subject.remember_email(checkout.email)
        checkout.email = subject.pseudonymous_email
        checkout.customer_id = None

    carts = list(s.scalars(select(Cart).where(Cart.customer_id == subject.user_id)))
    referenced = set(
        s.scalars(select(Checkout.cart_id).where(Checkout.cart_id.in_([c.id for c in carts])))
    )
    deleted = 0
    for cart in carts:
        if cart.id in referenced:  # a checkout points at it: keep the empty shell
            cart.lines.clear()
            cart.customer_id = None
            cart.token_digest = None
        else:
            s.delete(cart)  # its lines go with it
            deleted += 1
    s.flush()
    return {
        "orders_pseudonymised": len(orders),
        "checkouts_pseudonymised": len(checkouts),
        "returns_pseudonymised": len(returns),
        "order_history_rows_pseudonymised": len(own_history),
        "carts_deleted": deleted,
        "carts_detached": len(carts) - deleted,
    }


registry.register(
    "ordering",
    export=export_ordering,
    erase=erase_ordering,
    tables=["carts", "checkouts", "orders", "order_history", "returns", "payments"],
    order=20,
)
