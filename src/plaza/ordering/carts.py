"""Carts: anonymous (reached by a secret token) or a signed-in customer's, merged at sign-in."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plaza.errors import FORBIDDEN, NOT_FOUND, ProblemError, problem_type
from plaza.events import emit, event_type
from plaza.identity.auth import Principal
from plaza.ordering.models import Cart, CartLine, CartStatus

MAX_LINE_QUANTITY = 999
MAX_CART_LINES = 100

CART_CLOSED = problem_type(
    "cart-closed",
    "Cart is no longer open",
    409,
    "The cart was checked out or merged into an account's cart; start a new one.",
)
CART_FULL = problem_type(
    "cart-full",
    "Cart limit reached",
    422,
    f"A cart holds at most {MAX_CART_LINES} lines of at most {MAX_LINE_QUANTITY} units each.",
)
CART_TOKEN_REQUIRED = problem_type(
    "cart-token-required",
    "Cart token required",
    401,
    "Send the token returned when the anonymous cart was created in `X-Cart-Token`.",
)

CART_MERGED = event_type("cart.merged", "An anonymous cart was merged into a customer's cart.")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CartAccess:
    principal: Principal
    token: str | None


def create_cart(
    s: Session, currency: str, customer_id: uuid.UUID | None
) -> tuple[Cart, str | None]:
    """A new cart; anonymous carts get a token (returned once, stored as a digest)."""
    if customer_id is not None:
        existing = active_cart_of(s, customer_id)
        if existing is not None and existing.currency == currency:
            return existing, None
    token = None if customer_id else secrets.token_urlsafe(32)
    cart = Cart(
        customer_id=customer_id,
        currency=currency,
        token_digest=token_digest(token) if token else None,
    )
    s.add(cart)
    s.flush()
    return cart, token


def active_cart_of(s: Session, customer_id: uuid.UUID) -> Cart | None:
    return s.scalar(
        select(Cart)
        .where(Cart.customer_id == customer_id, Cart.status == CartStatus.ACTIVE)
        .order_by(Cart.id.desc())
        .limit(1)
    )


def get_cart(
    s: Session, cart_id: uuid.UUID, access: CartAccess, *, for_update: bool = False
) -> Cart:
    """The cart if the caller holds it: its owner, or the bearer of its token. Anyone else
    gets 404 for a signed-in cart (no existence leak) and 401/403 for an anonymous one."""
    q = select(Cart).where(Cart.id == cart_id)
    if for_update:
        q = q.with_for_update()
    cart = s.scalar(q)
    if cart is None:
        raise ProblemError(NOT_FOUND, f"cart {cart_id} not found", resource="cart")
    if cart.customer_id is not None:
        if access.principal.user_id != cart.customer_id:
            raise ProblemError(NOT_FOUND, f"cart {cart_id} not found", resource="cart")
        return cart
    if access.token is None:
        raise ProblemError(CART_TOKEN_REQUIRED)
    if cart.token_digest is None or not hmac.compare_digest(
        cart.token_digest, token_digest(access.token)
    ):
        raise ProblemError(FORBIDDEN, "the cart token does not match this cart")
    return cart


def require_open(cart: Cart) -> None:
    if cart.status != CartStatus.ACTIVE:
        raise ProblemError(CART_CLOSED, cart_status=cart.status.value)


# Set by the ordering service: (session, variant_id, currency) -> merchant_id, raising a
# problem when the variant cannot be sold in that currency.
VariantCheck = Callable[[Session, uuid.UUID, str], uuid.UUID]


def set_line(
    s: Session,
    cart: Cart,
    variant_id: uuid.UUID,
    quantity: int,
    *,
    merchant_id: uuid.UUID,
    add: bool,
    configuration: dict[str, Any] | None = None,
    digest: str = "",
) -> CartLine | None:
    """Add to or set a line's quantity; a resulting quantity of 0 removes the line. Lines
    are per variant and configuration ``digest`` ("" for a plain item)."""
    require_open(cart)
    line = next(
        (
            ln
            for ln in cart.lines
            if ln.variant_id == variant_id and ln.configuration_digest == digest
        ),
        None,
    )
    new_qty = (line.quantity if (line and add) else 0) + quantity
    if new_qty > MAX_LINE_QUANTITY:
        raise ProblemError(CART_FULL, f"at most {MAX_LINE_QUANTITY} units per line")
    if new_qty <= 0:
        if line is not None:
            cart.lines.remove(line)
        s.flush()
        return None
    if line is None:
        if len(cart.lines) >= MAX_CART_LINES:
            raise ProblemError(CART_FULL, f"at most {MAX_CART_LINES} lines per cart")
        line = CartLine(
            variant_id=variant_id,
            merchant_id=merchant_id,
            quantity=new_qty,
            configuration=configuration,
            configuration_digest=digest,
        )
        cart.lines.append(line)
    else:
        line.quantity = new_qty
    s.flush()
    return line


def remove_line(s: Session, cart: Cart, line_id: uuid.UUID) -> None:
    require_open(cart)
    line = next((ln for ln in cart.lines if ln.id == line_id), None)
    if line is None:
        raise ProblemError(NOT_FOUND, f"cart line {line_id} not found", resource="cart line")
    cart.lines.remove(line)
    s.flush()


def merge_anonymous_cart(s: Session, user_id: uuid.UUID, token: str | None) -> uuid.UUID | None:
    """At sign-in: move an anonymous cart's lines into the customer's active cart."""
    if not token:
        return None
    anon = s.scalar(
        select(Cart)
        .where(Cart.token_digest == token_digest(token), Cart.customer_id.is_(None))
        .with_for_update()
    )
    if anon is None or anon.status != CartStatus.ACTIVE:
        return None
    target = active_cart_of(s, user_id)
    if target is None or target.currency != anon.currency:
        # Adopt the anonymous cart itself: it becomes the customer's.
        anon.customer_id = user_id
        anon.token_digest = None
        s.flush()
        return anon.id
    for line in list(anon.lines):
        existing = next(
            (
                ln
                for ln in target.lines
                if ln.variant_id == line.variant_id
                and ln.configuration_digest == line.configuration_digest
            ),
            None,
        )
        if existing is None:
            target.lines.append(
                CartLine(
                    variant_id=line.variant_id,
                    merchant_id=line.merchant_id,
                    quantity=line.quantity,
                    configuration=line.configuration,
                    configuration_digest=line.configuration_digest,
                )
            )
        else:
            existing.quantity = min(MAX_LINE_QUANTITY, existing.quantity + line.quantity)
    anon.status = CartStatus.MERGED
    anon.token_digest = None
    s.flush()
    emit(
        s,
        CART_MERGED,
        aggregate_type="cart",
        aggregate_id=target.id,
        payload={"from_cart_id": str(anon.id), "customer_id": str(user_id)},
    )
    return target.id
