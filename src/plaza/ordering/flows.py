"""Multi-step ordering flows: checkout, payment, cancellation, refunds.

Checkout is two steps with a recovery point between them (see ``plaza.idempotency``):

1. one transaction places the orders — one per merchant — reserves their stock and
   creates a pending payment per order, then records the checkout id on the key;
2. each pending payment is sent to the provider *outside* any transaction, keyed by the
   payment's id, and its outcome is applied in a transaction of its own.

A crash or timeout between the steps leaves pending payments that a retry with the same
Idempotency-Key resumes; the provider's own idempotency guarantees a single charge.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plaza.catalog import customisation
from plaza.catalog import service as catalog
from plaza.catalog.customisation import ConfigurationOut
from plaza.db import Database
from plaza.errors import VALIDATION, ProblemError, not_found, problem_type
from plaza.events import emit, event_type
from plaza.inventory import service as inventory
from plaza.o2o import routing
from plaza.ordering import orders
from plaza.ordering.carts import require_open
from plaza.ordering.models import (
    Cart,
    CartStatus,
    Checkout,
    CheckoutStatus,
    FulfilmentMethod,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
)
from plaza.ordering.payments import (
    PaymentProvider,
    ProviderResult,
    ProviderTimeoutError,
)

log = logging.getLogger(__name__)

CART_EMPTY = problem_type("cart-empty", "Cart is empty", 422, "Add items before checking out.")
ORDERS_CANCELLED = problem_type(
    "checkout-orders-cancelled",
    "Orders cancelled before payment",
    409,
    "An order of the checkout was cancelled before it was paid (its stock hold expired, or "
    "the merchant cancelled it): it will not ship, and any money taken for it is refunded. "
    "`checkout` shows every order; check those items out again in a new cart.",
)
REFUND_TOO_LARGE = problem_type(
    "refund-exceeds-captured",
    "Refund exceeds what was paid",
    422,
    "The amount is larger than what was captured and not yet refunded.",
)

FULFILMENT_NOT_IN_CART = problem_type(
    "fulfilment-not-in-cart",
    "Fulfilment choice for a merchant without items",
    422,
    "A click & collect store belongs to a merchant none of whose items are in the cart.",
)
COLLECT_NEEDS_PICKUP = problem_type(
    "collect-order-needs-pickup",
    "Click & collect orders are handed over at the counter",
    409,
    "Mark the order ready (`POST /merchants/{m}/orders/{id}/ready`) and collect it with "
    "the customer's pickup code (`POST .../stores/{store}/pickups/{order_id}/collect`).",
)
# A paid click & collect order keeps its stock held (not sold) until it is collected; the
# pickup's own expiry (PLAZA_PICKUP_HOLD_HOURS) cancels it long before this backstop.
COLLECT_HOLD_SECONDS = inventory.MAX_TTL_SECONDS

PAYMENT_CAPTURED = event_type("payment.captured", "A payment was captured by the provider.")
PAYMENT_FAILED = event_type("payment.failed", "The provider declined a payment.")
REFUND_COMPLETED = event_type("refund.completed", "Money went back to the customer.")


@dataclass(frozen=True)
class FulfilmentPlan:
    """How one merchant's order reaches the customer, decided before placing it."""

    method: FulfilmentMethod = FulfilmentMethod.DELIVERY
    store_id: uuid.UUID | None = None  # collect: where the customer picks it up
    reserve_at: uuid.UUID | None = None  # hold stock only here (click & collect)
    destination: routing.Point | None = None  # routing: rank locations by distance to it


DELIVERY = FulfilmentPlan()


@dataclass
class PaymentOutcome:
    declined: list[tuple[uuid.UUID, str | None]] = field(default_factory=list)
    timed_out: list[uuid.UUID] = field(default_factory=list)
    cancelled: list[uuid.UUID] = field(default_factory=list)  # orders, never to be paid


def place_orders(
    s: Session,
    cart: Cart,
    *,
    email: str,
    customer_id: uuid.UUID | None,
    shipping_address: dict[str, Any] | None,
    payment_token: str,
    provider: str,
    reservation_ttl: int,
    actor: str,
    fulfilment: Mapping[uuid.UUID, FulfilmentPlan] | None = None,
    channel: str = "online",
    placed_in_store: uuid.UUID | None = None,
) -> Checkout:
    """Step 1: one order per merchant, stock reserved, a pending payment per order.

    ``fulfilment`` maps a merchant to its plan (default: delivery to ``shipping_address``,
    required then). Delivered stock is routed by ``plaza.o2o.routing``; click & collect
    stock is held at the plan's ``reserve_at`` store only.

    Configured lines are re-validated and re-priced against the current spec (it may have
    changed since they were added): an invalid one fails the whole checkout with its
    problem, nothing placed. Made-to-order lines reserve no stock (they are produced after
    the order); the other lines of a variant share one reservation."""
    require_open(cart)
    if not cart.lines:
        raise ProblemError(CART_EMPTY)
    sellable = catalog.get_sellable_variants(s, [ln.variant_id for ln in cart.lines], cart.currency)
    specs = customisation.specs_for(s, {sv.product_id for sv in sellable.values()})
    by_merchant: dict[uuid.UUID, list[_Placed]] = defaultdict(list)
    for ln in cart.lines:
        sv = sellable[ln.variant_id]
        config = customisation.configure_variant(specs.get(sv.product_id), sv, ln.configuration)
        by_merchant[sv.merchant_id].append(
            _Placed(ln.variant_id, ln.configuration_digest, ln.quantity, config)
        )
    plans = dict(fulfilment or {})
    if set(plans) - set(by_merchant):
        raise ProblemError(
            FULFILMENT_NOT_IN_CART,
            merchant_ids=sorted(str(m) for m in set(plans) - set(by_merchant)),
        )
    if shipping_address is None and any(
        plans.get(m, DELIVERY).method == FulfilmentMethod.DELIVERY for m in by_merchant
    ):
        raise ProblemError(
            VALIDATION,
            "shipping_address is required unless every order is collected in a store",
            errors=[{"loc": ["body", "shipping_address"], "msg": "required", "type": "missing"}],
        )
    checkout = Checkout(
        cart_id=cart.id,
        customer_id=customer_id,
        email=email,
        currency=cart.currency,
        total_amount=0,
    )
    s.add(checkout)
    s.flush()
    # A fixed order of merchants and variants keeps row-lock order consistent (no deadlocks).
    for merchant_id in sorted(by_merchant):
        plan = plans.get(merchant_id, DELIVERY)
        if plan.method == FulfilmentMethod.DELIVERY and plan.destination is None:
            plan = replace(plan, destination=routing.destination_of(shipping_address))
        order = Order(
            number=orders.new_order_number(),
            merchant_id=merchant_id,
            checkout_id=checkout.id,
            customer_id=customer_id,
            email=email,
            currency=cart.currency,
            subtotal_amount=0,
            total_amount=0,
            status=OrderStatus.PLACED,
            shipping_address=shipping_address or {},
            channel=channel,
            fulfilment=plan.method,
            pickup_store_id=plan.store_id,
            placed_in_store=placed_in_store,
        )
        s.add(order)
        s.flush()
        placed = sorted(by_merchant[merchant_id], key=lambda p: (p.variant_id, p.digest))
        held = _reserve(s, order, merchant_id, placed, reservation_ttl, plan)
        for item in placed:
            sv = sellable[item.variant_id]
            order.lines.append(
                OrderLine(
                    merchant_id=merchant_id,
                    variant_id=item.variant_id,
                    product_id=sv.product_id,
                    sku=sv.sku,
                    title=sv.title[:400],
                    quantity=item.quantity,
                    unit_amount=item.config.unit_amount if item.config else sv.unit_amount,
                    allocations=held.get(id(item), []),
                    configuration=item.config.model_dump(mode="json") if item.config else None,
                )
            )
        order.subtotal_amount = sum(ln.unit_amount * ln.quantity for ln in order.lines)
        order.total_amount = order.subtotal_amount + order.shipping_amount
        checkout.total_amount += order.total_amount
        s.flush()
        orders.record(s, order, None, actor)
        s.add(
            Payment(
                order_id=order.id,
                merchant_id=merchant_id,
                provider=provider,
                method_token=payment_token,
                amount=order.total_amount,
                currency=order.currency,
            )
        )
    cart.status = CartStatus.CHECKED_OUT
    s.flush()
    return checkout


@dataclass(frozen=True)
class _Placed:
    """A cart line on its way to an order line."""

    variant_id: uuid.UUID
    digest: str
    quantity: int
    config: ConfigurationOut | None

    @property
    def reserves(self) -> bool:
        return self.config is None or not self.config.made_to_order


def _reserve(
    s: Session,
    order: Order,
    merchant_id: uuid.UUID,
    placed: list[_Placed],
    ttl: int,
    plan: FulfilmentPlan = DELIVERY,
) -> dict[int, list[dict[str, Any]]]:
    """Hold stock for the lines that need it: one reservation per variant (a reference
    holds one set per variant, so two lines of a variant must be held together), split
    back over the lines as their allocations. Keyed by ``id()`` of each ``_Placed``.
    Where from: the plan's store only (click & collect), else the routing rule."""
    wanted: dict[uuid.UUID, list[_Placed]] = defaultdict(list)
    for item in placed:
        if item.reserves:
            wanted[item.variant_id].append(item)
    out: dict[int, list[dict[str, Any]]] = {}
    router = routing.Router(s, merchant_id, plan.destination)
    for variant_id in sorted(wanted):
        items = wanted[variant_id]
        try:
            held = inventory.reserve(
                s,
                merchant_id=merchant_id,
                variant_id=variant_id,
                quantity=sum(i.quantity for i in items),
                reference=str(order.id),
                ttl_seconds=ttl,
                location_id=plan.reserve_at,
                rank=router,
            )
        except ProblemError as exc:
            if plan.reserve_at is None or exc.kind is not inventory.OUT_OF_STOCK:
                raise
            store = inventory.get_location(s, merchant_id, plan.reserve_at)
            raise ProblemError(
                inventory.OUT_OF_STOCK,
                f"{exc.detail} at store {store.name}",
                **exc.extensions,
                store_id=str(store.id),
                store_name=store.name,
            ) from exc
        locations = [str(r.location_id) for r in held]
        left = [r.quantity for r in held]
        at = 0
        for item in items:
            need, allocations = item.quantity, []
            while need > 0:
                take = min(need, left[at])
                allocations.append({"location_id": locations[at], "quantity": take})
                left[at] -= take
                need -= take
                at += left[at] == 0
            out[id(item)] = allocations
    return out


def _holds_stock(order: Order) -> bool:
    """Whether any line of the order reserved stock (made-to-order lines do not)."""
    return any(not (ln.configuration or {}).get("made_to_order") for ln in order.lines)


def add_payment_attempt(s: Session, checkout: Checkout, token: str, provider: str) -> int:
    """A new payment attempt for every order of the checkout still awaiting payment."""
    created = 0
    for order in s.scalars(
        select(Order).where(Order.checkout_id == checkout.id, Order.status == OrderStatus.PLACED)
    ):
        pending = s.scalar(
            select(func.count())
            .select_from(Payment)
            .where(Payment.order_id == order.id, Payment.status == PaymentStatus.PENDING)
        )
        if pending:
            continue
        s.add(
            Payment(
                order_id=order.id,
                merchant_id=order.merchant_id,
                provider=provider,
                method_token=token,
                amount=order.total_amount,
                currency=order.currency,
            )
        )
        created += 1
    s.flush()
    return created


def pay_pending(
    db: Database,
    provider: PaymentProvider,
    checkout_id: uuid.UUID,
    *,
    actor: str,
    reservation_ttl: int,
    fresh: bool = False,
) -> PaymentOutcome:
    """Step 2: send each pending payment of the checkout to the provider and apply it.

    ``fresh`` says the reservations were made moments ago in step 1, so there is no need
    to extend them before calling the provider."""
    query = (
        select(Payment.id, Payment.amount, Payment.currency, Payment.method_token, Order.id)
        .join(Order, Order.id == Payment.order_id)
        .where(Order.checkout_id == checkout_id, Payment.status == PaymentStatus.PENDING)
        .order_by(Payment.id)
    )
    if fresh:
        with db.reading() as s:
            rows = s.execute(query).all()
    else:
        with db.transaction() as s:
            rows = s.execute(query).all()
            for *_, order_id in rows:  # keep the stock while the provider works
                inventory.extend_reservations(s, str(order_id), reservation_ttl)
    outcome = PaymentOutcome()
    refunds_queued = False
    for payment_id, amount, currency, token, _order_id in rows:
        try:
            result = provider.authorize(
                key=str(payment_id), amount=amount, currency=currency, token=token, capture=True
            )
        except ProviderTimeoutError:
            outcome.timed_out.append(payment_id)
            continue
        with db.transaction() as s:
            refunds_queued |= apply_payment_result(s, payment_id, result, actor)
            refresh_checkout_status(s, checkout_id)
        if not result.ok:
            outcome.declined.append((payment_id, result.decline_code))
    if (refunds_queued or not fresh) and not outcome.timed_out:
        # A resumed attempt pays only what was still pending: an order an earlier attempt
        # saw declined is still unpaid, and one whose hold lapsed meanwhile was cancelled
        # (its late payment is refunded). The answer must say so rather than 201.
        with db.reading() as s:
            outcome.declined = unpaid_declines(s, checkout_id)
            outcome.cancelled = list(
                s.scalars(
                    select(Order.id)
                    .where(Order.checkout_id == checkout_id, Order.status == OrderStatus.CANCELLED)
                    .order_by(Order.id)
                )
            )
    if refunds_queued:
        settle_refunds(db, provider)
    return outcome


def unpaid_declines(s: Session, checkout_id: uuid.UUID) -> list[tuple[uuid.UUID, str | None]]:
    """(payment id, decline code) of the latest payment of each order of the checkout that
    still awaits payment, where that payment was declined."""
    latest: dict[uuid.UUID, tuple[uuid.UUID, PaymentStatus, str | None]] = {}
    for payment_id, order_id, status, code in s.execute(
        select(Payment.id, Payment.order_id, Payment.status, Payment.failure_code)
        .join(Order, Order.id == Payment.order_id)
        .where(Order.checkout_id == checkout_id, Order.status == OrderStatus.PLACED)
        .order_by(Payment.id)
    ):
        latest[order_id] = (payment_id, status, code)
    return [(pid, code) for pid, status, code in latest.values() if status == PaymentStatus.FAILED]


def apply_payment_result(
    s: Session, payment_id: uuid.UUID, result: ProviderResult, actor: str
) -> bool:
    """Record the provider's answer; True when it queued a refund to settle after commit."""
    payment = s.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
    if payment is None or payment.status != PaymentStatus.PENDING:
        return False  # already applied by a concurrent or earlier attempt
    payment.provider_ref = result.reference
    order = s.scalar(select(Order).where(Order.id == payment.order_id).with_for_update())
    assert order is not None
    if not result.ok:
        payment.status = PaymentStatus.FAILED
        payment.failure_code = result.decline_code
        payment.failure_message = (result.message or "")[:300]
        emit(
            s,
            PAYMENT_FAILED,
            aggregate_type="payment",
            aggregate_id=payment.id,
            merchant_id=payment.merchant_id,
            payload={"order_id": str(order.id), "decline_code": result.decline_code},
        )
        return False
    payment.status = PaymentStatus.CAPTURED
    payment.captured_amount = result.amount
    emit(
        s,
        PAYMENT_CAPTURED,
        aggregate_type="payment",
        aggregate_id=payment.id,
        merchant_id=payment.merchant_id,
        payload={"order_id": str(order.id), "amount": result.amount, "currency": payment.currency},
    )
    if order.status == OrderStatus.PLACED:
        try:
            if _holds_stock(order):  # an all made-to-order order has nothing to commit
                with s.begin_nested():
                    if order.fulfilment == FulfilmentMethod.COLLECT:
                        # Still on the shelf until collected: keep it held, sold at pickup.
                        inventory.keep_reservations(s, str(order.id), COLLECT_HOLD_SECONDS)
                    else:
                        inventory.commit_reservations(s, str(order.id))
        except ProblemError:
            # The hold lapsed before the money arrived: give the money back.
            _queue_refund(s, payment, payment.captured_amount, "stock hold expired")
            orders.transition(
                s,
                order,
                OrderStatus.CANCELLED,
                actor,
                "stock reservation expired before payment completed",
            )
            return True
        orders.transition(s, order, OrderStatus.PAID, actor)
        return False
    # Paid twice, or paid after cancellation: refund this payment in full.
    _queue_refund(s, payment, payment.captured_amount, f"order already {order.status}")
    return True


def _refundable(s: Session, payment: Payment) -> int:
    queued = (
        s.scalar(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(Refund.payment_id == payment.id)
        )
        or 0
    )
    return payment.captured_amount - int(queued)


def _queue_refund(
    s: Session, payment: Payment, amount: int, reason: str, return_id: uuid.UUID | None = None
) -> Refund | None:
    amount = min(amount, _refundable(s, payment))
    if amount <= 0:
        return None
    refund = Refund(
        payment_id=payment.id,
        order_id=payment.order_id,
        merchant_id=payment.merchant_id,
        amount=amount,
        reason=reason[:200],
        return_id=return_id,
    )
    s.add(refund)
    s.flush()
    return refund


def queue_order_refund(
    s: Session, order: Order, amount: int, reason: str, return_id: uuid.UUID | None = None
) -> int:
    """Queue refunds of ``amount`` across the order's captured payments; returns the total."""
    payments = s.scalars(
        select(Payment)
        .where(Payment.order_id == order.id, Payment.captured_amount > 0)
        .order_by(Payment.id)
    ).all()
    available = sum(_refundable(s, p) for p in payments)
    if amount > available:
        raise ProblemError(
            REFUND_TOO_LARGE, f"at most {available} can be refunded", refundable=available
        )
    left = amount
    for p in payments:
        if left <= 0:
            break
        refund = _queue_refund(s, p, left, reason, return_id)
        if refund is not None:
            left -= refund.amount
    return amount - left


def settle_refunds(db: Database, provider: PaymentProvider, limit: int = 100) -> int:
    """Send queued refunds to the provider (keyed by refund id, so retries are safe)."""
    with db.reading() as s:
        rows = s.execute(
            select(Refund.id, Refund.amount, Payment.provider_ref)
            .join(Payment, Payment.id == Refund.payment_id)
            .where(Refund.provider_ref.is_(None))
            .order_by(Refund.id)
            .limit(limit)
        ).all()
    done = 0
    for refund_id, amount, charge_ref in rows:
        try:
            result = provider.refund(key=str(refund_id), reference=charge_ref or "", amount=amount)
        except ProviderTimeoutError:
            continue  # retried by the next settlement run
        if not result.ok:  # a refused refund is a bookkeeping bug: keep it queued, shout
            log.error("provider refused refund %s: %s", refund_id, result.decline_code)
            continue
        with db.transaction() as s:
            refund = s.scalar(select(Refund).where(Refund.id == refund_id).with_for_update())
            if refund is None or refund.provider_ref is not None:
                continue
            refund.provider_ref = result.reference or f"rf_{refund_id.hex}"
            payment = s.get(Payment, refund.payment_id)
            order = s.get(Order, refund.order_id)
            assert payment is not None and order is not None
            payment.refunded_amount += refund.amount
            payment.status = (
                PaymentStatus.REFUNDED
                if payment.refunded_amount >= payment.captured_amount
                else PaymentStatus.PARTIALLY_REFUNDED
            )
            order.refunded_amount += refund.amount
            emit(
                s,
                REFUND_COMPLETED,
                aggregate_type="refund",
                aggregate_id=refund.id,
                merchant_id=refund.merchant_id,
                payload={
                    "order_id": str(order.id),
                    "amount": refund.amount,
                    "currency": payment.currency,
                    "reason": refund.reason,
                },
            )
            done += 1
    return done


def refresh_checkout_status(s: Session, checkout_id: uuid.UUID) -> Checkout:
    checkout = s.get(Checkout, checkout_id)
    if checkout is None:
        raise not_found("checkout", checkout_id)
    statuses = list(s.scalars(select(Order.status).where(Order.checkout_id == checkout_id)))
    settled = [st for st in statuses if st != OrderStatus.CANCELLED]
    if not settled:
        checkout.status = CheckoutStatus.CANCELLED
    elif all(st != OrderStatus.PLACED for st in settled):
        checkout.status = CheckoutStatus.COMPLETED
    elif any(st != OrderStatus.PLACED for st in settled):
        checkout.status = CheckoutStatus.PARTIALLY_PAID
    else:
        checkout.status = CheckoutStatus.PENDING_PAYMENT
    return checkout


def cancel_order(s: Session, order: Order, actor: str, reason: str) -> int:
    """Cancel a placed or paid order: release or restock its stock and queue a full refund.
    Returns the amount queued for refund (settled by ``settle_refunds`` after commit)."""
    if order.status == OrderStatus.CANCELLED:
        return 0
    if order.status not in (OrderStatus.PLACED, OrderStatus.PAID):
        orders.transition(s, order, OrderStatus.CANCELLED, actor, reason)  # raises 409
    refunded = 0
    if order.status == OrderStatus.PLACED or awaits_collection(order):
        inventory.release_reservations(s, str(order.id), reason="release")
    else:
        for line in order.lines:
            for alloc in line.allocations:
                inventory.restock(
                    s,
                    merchant_id=order.merchant_id,
                    variant_id=line.variant_id,
                    location_id=uuid.UUID(alloc["location_id"]),
                    quantity=int(alloc["quantity"]),
                    reason="return",
                    reference=f"cancel:{order.id}",
                )
    for payment in s.scalars(select(Payment).where(Payment.order_id == order.id)):
        if payment.captured_amount > 0:
            refund = _queue_refund(s, payment, payment.captured_amount, f"cancelled: {reason}")
            refunded += refund.amount if refund else 0
    orders.transition(s, order, OrderStatus.CANCELLED, actor, reason)
    refresh_checkout_status(s, order.checkout_id)
    return refunded


def awaits_collection(order: Order) -> bool:
    """A paid click & collect order: its stock is still held (not sold) at the store."""
    return order.fulfilment == FulfilmentMethod.COLLECT and order.status == OrderStatus.PAID


def fulfil_order(s: Session, order: Order, actor: str, tracking: dict[str, Any]) -> None:
    if order.status == OrderStatus.FULFILLED:
        return
    if order.fulfilment == FulfilmentMethod.COLLECT:
        raise ProblemError(COLLECT_NEEDS_PICKUP, order_id=str(order.id))
    orders.transition(s, order, OrderStatus.FULFILLED, actor, "fulfilled")
    order.tracking = tracking


def collect_order(s: Session, order: Order, actor: str, store_id: uuid.UUID) -> None:
    """Hand a paid click & collect order over at the counter: its held stock is sold
    (committed where it was held) and the order is fulfilled. The caller checked the code."""
    if order.fulfilment != FulfilmentMethod.COLLECT:
        raise ProblemError(COLLECT_NEEDS_PICKUP, order_id=str(order.id))
    if order.status == OrderStatus.FULFILLED:
        return
    if order.status == OrderStatus.PAID and _holds_stock(order):
        inventory.commit_reservations(s, str(order.id))
    orders.transition(s, order, OrderStatus.FULFILLED, actor, "collected in store")
    order.tracking = {"collected_at_store": str(store_id)}


def expire_unpaid_order(s: Session, reference: str) -> None:
    """Subscriber logic: when an order's reservation lapses while it is unpaid, cancel it."""
    try:
        order_id = uuid.UUID(reference)
    except ValueError:
        return
    order = s.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None or order.status != OrderStatus.PLACED:
        return
    inventory.release_reservations(s, str(order.id), reason="expiry")
    orders.transition(
        s,
        order,
        OrderStatus.CANCELLED,
        "system",
        "payment not completed before the stock hold expired",
    )
    refresh_checkout_status(s, order.checkout_id)
