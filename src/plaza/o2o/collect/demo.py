"""Demo: click & collect orders at a demo store (one ready for pickup, one collected, one
expired) and one endless-aisle sale, placed through the real checkout flow.

Nothing secret is printed: the customer of the ready order reads its code through the
API (``GET /me/orders/{id}/pickup`` signed in as that customer, demo password)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import Counter

from sqlalchemy import func, select

from plaza.config import get_settings
from plaza.db import Database, utcnow
from plaza.errors import ProblemError
from plaza.identity.models import User
from plaza.inventory import queries as inventory_queries
from plaza.inventory import service as inventory
from plaza.o2o.collect import service
from plaza.o2o.collect.schemas import AisleLineIn, EndlessAisleIn
from plaza.o2o.stores import service as stores
from plaza.o2o.stores.models import StoreService
from plaza.ordering import carts, flows
from plaza.ordering.models import Cart, FulfilmentMethod, Order, OrderHistory
from plaza.ordering.schemas import Address, PaymentIn
from plaza.ordering.service import provider_for

ACTOR = "system:demo"
SANDBOX_CARD = "tok_visa"  # the sandbox provider's public test token


def _store_and_stock(db: Database) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]] | None:
    """A demo store offering click & collect with a few variants in stock there; stores of
    merchants with several locations first, so the endless-aisle sale has somewhere else
    to be fulfilled from."""
    with db.reading() as s:
        found = list(inventory_queries.public_stores(s))
        sites = Counter(loc.merchant_id for loc in found)
        for loc in sorted(found, key=lambda loc: -sites[loc.merchant_id]):
            store = stores.get_store(s, loc.merchant_id, loc.id)
            if store.profile is None or StoreService.CLICK_COLLECT not in store.profile.services:
                continue
            levels = inventory.list_stock(s, loc.merchant_id, limit=200, location_id=loc.id)
            variants = [lv.variant_id for lv in levels if lv.on_hand - lv.reserved >= 2]
            if len(variants) >= 4:
                return loc.merchant_id, loc.id, variants
    return None


def _customers(db: Database, merchant_id: uuid.UUID, n: int) -> list[User]:
    with db.reading() as s:
        ids = list(
            s.scalars(
                select(Order.customer_id)
                .where(Order.merchant_id == merchant_id, Order.customer_id.is_not(None))
                .distinct()
                .order_by(Order.customer_id)
                .limit(n)
            )
        )
        users = [u for u in (s.get(User, i) for i in ids) if u is not None]
        s.expunge_all()
        return users


def _collect_order(
    db: Database, merchant_id: uuid.UUID, store_id: uuid.UUID, user: User, variant: uuid.UUID
) -> uuid.UUID:
    settings = get_settings()
    provider = provider_for(db, settings)
    with db.transaction() as s:
        cart = Cart(customer_id=user.id, currency="EUR")
        s.add(cart)
        s.flush()
        carts.set_line(s, cart, variant, 1, merchant_id=merchant_id, add=True)
        checkout = flows.place_orders(
            s,
            cart,
            email=user.email,
            customer_id=user.id,
            shipping_address=None,
            payment_token=SANDBOX_CARD,
            provider=provider.name,
            reservation_ttl=settings.reservation_ttl_seconds,
            actor=f"user:{user.id}",
            fulfilment={
                merchant_id: flows.FulfilmentPlan(
                    FulfilmentMethod.COLLECT, store_id=store_id, reserve_at=store_id
                )
            },
        )
        checkout_id = checkout.id
        order_id = s.scalars(select(Order.id).where(Order.checkout_id == checkout_id)).one()
    flows.pay_pending(
        db, provider, checkout_id, actor=ACTOR, reservation_ttl=settings.reservation_ttl_seconds
    )
    return order_id


def seed(db: Database, rng: random.Random) -> dict[str, int]:
    """Idempotent: does nothing once the demo world has click & collect orders."""
    none = {"collect_orders": 0, "endless_aisle_orders": 0}
    with db.reading() as s:
        if s.scalar(select(Order.id).where(Order.fulfilment == FulfilmentMethod.COLLECT)):
            return none
    found = _store_and_stock(db)
    if found is None:
        return none
    merchant_id, store_id, variants = found
    people = _customers(db, merchant_id, 4)
    if len(people) < 4:
        return none
    return seed_store(db, rng, merchant_id, store_id, variants, people)


def seed_store(
    db: Database,
    rng: random.Random,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    variants: list[uuid.UUID],
    people: list[User],
) -> dict[str, int]:
    """At one store: three collect orders (ready, collected, expired) of three of
    ``people`` and an endless-aisle sale to the fourth."""
    picks = rng.sample(variants, 3)
    settings = get_settings()
    secret = settings.resolved_secret_key()
    hours = settings.pickup_hold_hours
    ready, collected, expired = (
        _collect_order(db, merchant_id, store_id, people[i], picks[i]) for i in range(3)
    )
    now = utcnow()
    with db.transaction() as s:
        service.mark_ready(
            s, merchant_id, ready, actor=ACTOR, secret=secret, hold_hours=hours, now=now
        )
        p = service.mark_ready(
            s, merchant_id, collected, actor=ACTOR, secret=secret, hold_hours=hours, now=now
        )
        code = service.pickup_code(secret, p)
        service.collect(
            s, merchant_id, store_id, collected, code, actor=ACTOR, secret=secret, now=now
        )
        # Made ready a pickup window ago and never collected: the expiry job's work.
        past = now - dt.timedelta(hours=hours, minutes=5)
        late = service.mark_ready(
            s, merchant_id, expired, actor=ACTOR, secret=secret, hold_hours=hours, now=past
        )
        service.expire(s, late, now)
    flows.settle_refunds(db, provider_for(db, settings))
    aisle = _endless_aisle(db, merchant_id, store_id, people[3], rng)
    _date_after_history(db, [ready, collected, expired, *aisle])
    return {"collect_orders": 3, "endless_aisle_orders": len(aisle)}


def _date_after_history(db: Database, order_ids: list[uuid.UUID]) -> None:
    """Place these orders (and their history) ten minutes apart after the demo's last
    dated order, so the world stays ordered by time and the same for the same seed."""
    with db.transaction() as s:
        others = select(func.max(Order.created_at)).where(Order.id.not_in(order_ids))
        last = s.scalar(others)
        if last is None:
            return
        for i, order_id in enumerate(sorted(order_ids), start=1):
            at = last + dt.timedelta(minutes=10 * i)
            order = s.get(Order, order_id)
            assert order is not None
            order.created_at = order.updated_at = at
            steps = s.scalars(
                select(OrderHistory)
                .where(OrderHistory.order_id == order_id)
                .order_by(OrderHistory.id)
            )
            for j, step in enumerate(steps):
                step.at = at + dt.timedelta(seconds=j)


def _endless_aisle(
    db: Database, merchant_id: uuid.UUID, store_id: uuid.UUID, user: User, rng: random.Random
) -> list[uuid.UUID]:
    """A variant the store lacks but another location has, sold on the shop floor; returns
    the sale's order ids (none when the merchant has nowhere else to sell it from)."""
    settings = get_settings()
    provider = provider_for(db, settings)
    try:
        with db.transaction() as s:
            here = {
                lv.variant_id
                for lv in inventory.list_stock(s, merchant_id, limit=1000, location_id=store_id)
                if lv.on_hand - lv.reserved > 0
            }
            elsewhere = [
                lv.variant_id
                for lv in inventory.list_stock(s, merchant_id, limit=1000)
                if lv.variant_id not in here and lv.on_hand - lv.reserved > 0
            ]
            if not elsewhere:
                return []
            variant = rng.choice(sorted(set(elsewhere)))
            body = EndlessAisleIn(
                lines=[AisleLineIn(variant_id=variant, quantity=1)],
                email=user.email,
                customer_id=user.id,
                shipping_address=Address(
                    name=user.name or "Demo Customer",
                    line1="Haarlemmerstraat 1",
                    city="Amsterdam",
                    postal_code="1013 EJ",
                    country="NL",
                ),
                payment=PaymentIn(token=SANDBOX_CARD),
            )
            store = stores.get_store(s, merchant_id, store_id)
            cart, plan = service.aisle_cart(s, merchant_id, store, body)
            assert body.shipping_address is not None
            checkout = flows.place_orders(
                s,
                cart,
                email=user.email,
                customer_id=user.id,
                shipping_address=body.shipping_address.stored(),
                payment_token=SANDBOX_CARD,
                provider=provider.name,
                reservation_ttl=settings.reservation_ttl_seconds,
                actor=ACTOR,
                fulfilment={merchant_id: plan},
                channel="endless_aisle",
                placed_in_store=store_id,
            )
            checkout_id = checkout.id
    except ProblemError:  # e.g. not sellable in EUR: no sale, nothing written
        return []
    flows.pay_pending(
        db, provider, checkout_id, actor=ACTOR, reservation_ttl=settings.reservation_ttl_seconds
    )
    with db.reading() as s:
        return list(s.scalars(select(Order.id).where(Order.checkout_id == checkout_id)))
