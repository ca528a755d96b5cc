"""The ordering service: read models for carts, checkouts and orders, and the wiring of
the payment provider. The write logic lives in ``carts``, ``flows`` and ``returns``."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from plaza.catalog import service as catalog
from plaza.config import Settings
from plaza.db import Database
from plaza.errors import ProblemError, not_found
from plaza.inventory import service as inventory
from plaza.ordering import orders
from plaza.ordering.carts import CartAccess, get_cart
from plaza.ordering.models import Cart, Checkout, Order, OrderHistory, Payment
from plaza.ordering.payments import PaymentProvider
from plaza.ordering.sandbox import SandboxProvider
from plaza.ordering.schemas import (
    CartLineOut,
    CartOut,
    CheckoutOut,
    HistoryOut,
    OrderDetail,
    OrderOut,
    PaymentOut,
)

_providers: dict[int, PaymentProvider] = {}
_providers_lock = threading.Lock()


def provider_for(db: Database, settings: Settings) -> PaymentProvider:
    """One provider per database handle (the sandbox keeps its ledger in that database)."""
    with _providers_lock:
        provider = _providers.get(id(db))
        if provider is None:
            provider = SandboxProvider(
                db,
                failure_rate=settings.sandbox_failure_rate,
                timeout_rate=settings.sandbox_timeout_rate,
                seed=settings.sandbox_seed,
            )
            _providers[id(db)] = provider
        return provider


def cart_view(s: Session, cart: Cart, token: str | None = None) -> CartOut:
    ids = [ln.variant_id for ln in cart.lines]
    info: dict[uuid.UUID, catalog.SellableVariant] = {}
    for vid in ids:  # per line, so one unsellable item does not hide the others
        try:
            info.update(catalog.get_sellable_variants(s, [vid], cart.currency))
        except ProblemError:
            continue
    lines = []
    total = 0
    for ln in cart.lines:
        sv = info.get(ln.variant_id)
        amount = sv.unit_amount * ln.quantity if sv else None
        total += amount or 0
        lines.append(
            CartLineOut(
                id=ln.id,
                variant_id=ln.variant_id,
                merchant_id=ln.merchant_id,
                sku=sv.sku if sv else None,
                title=sv.title if sv else None,
                quantity=ln.quantity,
                unit_amount=sv.unit_amount if sv else None,
                line_amount=amount,
                available=sv is not None and inventory.available(s, ln.variant_id) >= ln.quantity,
            )
        )
    return CartOut(
        id=cart.id,
        status=cart.status,
        currency=cart.currency,
        customer_id=cart.customer_id,
        lines=lines,
        total_amount=total,
        merchants=len({ln.merchant_id for ln in cart.lines}),
        token=token,
    )


def order_out(order: Order) -> OrderOut:
    return OrderOut.model_validate(order)


def order_detail(s: Session, order: Order) -> OrderDetail:
    payments = s.scalars(
        select(Payment).where(Payment.order_id == order.id).order_by(Payment.id)
    ).all()
    return OrderDetail(
        **OrderOut.model_validate(order).model_dump(),
        history=[HistoryOut.model_validate(h) for h in orders.history(s, order.id)],
        payments=[PaymentOut.model_validate(p) for p in payments],
    )


def get_checkout(s: Session, checkout_id: uuid.UUID, access: CartAccess) -> Checkout:
    checkout = s.get(Checkout, checkout_id)
    if checkout is None:
        raise not_found("checkout", checkout_id)
    get_cart(s, checkout.cart_id, access)  # the cart's holder may see its checkouts
    return checkout


def checkout_view(s: Session, checkout: Checkout) -> CheckoutOut:
    """The checkout with its orders, their history and payments, in four queries."""
    s.refresh(checkout)  # the caller may hold it from an earlier transaction
    rows = s.scalars(
        select(Order)
        .where(Order.checkout_id == checkout.id)
        .order_by(Order.merchant_id)
        .execution_options(populate_existing=True)
    ).all()
    ids = [o.id for o in rows]
    history: dict[uuid.UUID, list[HistoryOut]] = {i: [] for i in ids}
    for h in s.scalars(
        select(OrderHistory).where(OrderHistory.order_id.in_(ids)).order_by(OrderHistory.id)
    ):
        history[h.order_id].append(HistoryOut.model_validate(h))
    payments: dict[uuid.UUID, list[PaymentOut]] = {i: [] for i in ids}
    for p in s.scalars(select(Payment).where(Payment.order_id.in_(ids)).order_by(Payment.id)):
        payments[p.order_id].append(PaymentOut.model_validate(p))
    return CheckoutOut(
        id=checkout.id,
        status=checkout.status,
        currency=checkout.currency,
        total_amount=checkout.total_amount,
        email=checkout.email,
        orders=[
            OrderDetail(
                **OrderOut.model_validate(o).model_dump(),
                history=history[o.id],
                payments=payments[o.id],
            )
            for o in rows
        ],
    )
