"""The ordering service: read models for carts, checkouts and orders, and the wiring of
the payment provider. The write logic lives in ``carts``, ``flows`` and ``returns``."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plaza.catalog import customisation
from plaza.catalog import service as catalog
from plaza.catalog.customisation import ConfigurationOut
from plaza.config import Settings
from plaza.db import Database
from plaza.errors import CATALOGUE, ProblemError, not_found
from plaza.inventory import service as inventory
from plaza.ordering import orders
from plaza.ordering.carts import CartAccess, get_cart
from plaza.ordering.models import Cart, CartLine, Checkout, Order, OrderHistory, Payment
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


@dataclass(frozen=True)
class CheckedLine:
    merchant_id: uuid.UUID
    configuration: ConfigurationOut | None  # None: a plain product

    @property
    def digest(self) -> str:
        return self.configuration.digest if self.configuration else ""

    @property
    def stored(self) -> dict[str, Any] | None:
        """What the cart line keeps: the canonical selections (re-priced when read)."""
        if self.configuration is None:
            return None
        return {"selections": self.configuration.selections}


def check_cart_line(
    s: Session,
    cart: Cart,
    variant_id: uuid.UUID,
    configuration: Mapping[str, Any] | None,
    quantity: int,
    *,
    line: CartLine | None = None,
) -> CheckedLine:
    """Whether ``quantity`` units of the variant, so configured, can go in the cart (as
    ``line``, when it exists): sellable in the cart's currency, a valid configuration, and
    in stock, counting the variant's other lines (the same sneaker with two engravings
    draws on one stock). Made-to-order items are produced after the order: no stock check."""
    sv = catalog.get_sellable_variants(s, [variant_id], cart.currency)[variant_id]
    spec = customisation.specs_for(s, [sv.product_id])[sv.product_id]
    config = customisation.configure_variant(spec, sv, configuration)
    if config is None or not config.made_to_order:
        others = sum(
            ln.quantity for ln in cart.lines if ln.variant_id == variant_id and ln is not line
        )
        have = inventory.available(s, variant_id)
        if have < quantity + others:
            raise ProblemError(
                CATALOGUE["out-of-stock"],
                f"only {have} available",
                variant_id=str(variant_id),
                requested=quantity + others,
                available=have,
            )
    return CheckedLine(sv.merchant_id, config)


def _line_configuration(
    spec: customisation.CustomisationSpec | None,
    sv: catalog.SellableVariant,
    line: CartLine,
) -> tuple[ConfigurationOut | None, str | None]:
    """The line's configuration priced now, or why it cannot be checked out any more."""
    if spec is None and line.configuration is None:
        return None, None
    try:
        return customisation.configure_variant(spec, sv, line.configuration), None
    except ProblemError as exc:
        return None, exc.detail


def cart_view(s: Session, cart: Cart, token: str | None = None) -> CartOut:
    ids = [ln.variant_id for ln in cart.lines]
    info: dict[uuid.UUID, catalog.SellableVariant] = {}
    for vid in dict.fromkeys(ids):  # per variant, so one unsellable item hides no other
        try:
            info.update(catalog.get_sellable_variants(s, [vid], cart.currency))
        except ProblemError:
            continue
    specs = customisation.specs_for(s, {sv.product_id for sv in info.values()})
    stock: dict[uuid.UUID, int] = {}
    lines = []
    total = 0
    for ln in cart.lines:
        sv = info.get(ln.variant_id)
        config, problem = (
            _line_configuration(specs.get(sv.product_id), sv, ln) if sv else (None, None)
        )
        unit = None if sv is None or problem else (config.unit_amount if config else sv.unit_amount)
        amount = unit * ln.quantity if unit is not None else None
        total += amount or 0
        if config is not None and config.made_to_order:
            in_stock = True
        else:
            if ln.variant_id not in stock:
                stock[ln.variant_id] = inventory.available(s, ln.variant_id)
            in_stock = stock[ln.variant_id] >= sum(
                o.quantity for o in cart.lines if o.variant_id == ln.variant_id
            )
        lines.append(
            CartLineOut(
                id=ln.id,
                variant_id=ln.variant_id,
                merchant_id=ln.merchant_id,
                sku=sv.sku if sv else None,
                title=sv.title if sv else None,
                quantity=ln.quantity,
                unit_amount=unit,
                line_amount=amount,
                available=unit is not None and in_stock,
                configuration=(ln.configuration or {}).get("selections")
                if ln.configuration is not None
                else None,
                configuration_digest=ln.configuration_digest or None,
                customisation=config,
                configuration_problem=problem,
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
