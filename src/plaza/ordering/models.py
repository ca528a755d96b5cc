"""Tables of the ordering context: carts, checkouts, orders, payments, refunds, returns."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plaza.db import Base, IdMixin, JSONType, TimestampMixin, str_enum, utcnow


class CartStatus(enum.StrEnum):
    ACTIVE = "active"
    MERGED = "merged"
    CHECKED_OUT = "checked_out"


class OrderStatus(enum.StrEnum):
    PLACED = "placed"  # stock reserved, awaiting payment
    PAID = "paid"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    RETURNED = "returned"


class FulfilmentMethod(enum.StrEnum):
    DELIVERY = "delivery"  # shipped to shipping_address from the routed location(s)
    COLLECT = "collect"  # picked up in a store (plaza.o2o.collect): stock held until then


class CheckoutStatus(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PARTIALLY_PAID = "partially_paid"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"  # sent to the provider, outcome not yet known
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    FAILED = "failed"
    VOIDED = "voided"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class ReturnStatus(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    REFUNDED = "refunded"  # goods received back, stock restored, money refunded


class Cart(IdMixin, TimestampMixin, Base):
    __tablename__ = "carts"

    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Anonymous carts are reached with a secret token; only its SHA-256 is stored.
    token_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[CartStatus] = mapped_column(str_enum(CartStatus), default=CartStatus.ACTIVE)

    lines: Mapped[list[CartLine]] = relationship(
        back_populates="cart",
        cascade="all, delete-orphan",
        order_by="CartLine.id",
        lazy="selectin",
    )


class CartLine(IdMixin, Base):
    __tablename__ = "cart_lines"
    __table_args__ = (
        # One line per variant and configuration: the same sneaker with two engravings
        # is two lines ("" is the digest of a plain line).
        UniqueConstraint("cart_id", "variant_id", "configuration_digest"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    cart_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID] = mapped_column()
    merchant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    quantity: Mapped[int] = mapped_column()
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Customisable products: {"selections": {...}} in canonical form, and its SHA-256.
    configuration: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    configuration_digest: Mapped[str] = mapped_column(String(64), default="")

    cart: Mapped[Cart] = relationship(back_populates="lines")


class Checkout(IdMixin, TimestampMixin, Base):
    """One customer checkout of one cart; it splits into one order per merchant."""

    __tablename__ = "checkouts"

    cart_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("carts.id"), index=True)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[CheckoutStatus] = mapped_column(
        str_enum(CheckoutStatus), default=CheckoutStatus.PENDING_PAYMENT
    )


class Order(IdMixin, TimestampMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_merchant_status", "merchant_id", "status", "id"),)

    number: Mapped[str] = mapped_column(String(20), unique=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id"), index=True)
    checkout_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkouts.id"), index=True)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_amount: Mapped[int] = mapped_column(BigInteger)
    shipping_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    total_amount: Mapped[int] = mapped_column(BigInteger)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus), default=OrderStatus.PLACED)
    shipping_address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    channel: Mapped[str] = mapped_column(String(20), default="online")
    tracking: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Click & collect: the store the customer picks the order up at (an inventory location
    # of the merchant, no FK across contexts); the pickup itself lives in plaza.o2o.collect.
    fulfilment: Mapped[FulfilmentMethod] = mapped_column(
        str_enum(FulfilmentMethod), default=FulfilmentMethod.DELIVERY
    )
    pickup_store_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    # Endless aisle: the store whose staff sold it (fulfilled from elsewhere).
    placed_in_store: Mapped[uuid.UUID | None] = mapped_column(default=None)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", lazy="selectin"
    )


class OrderLine(IdMixin, Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "returned_quantity >= 0 AND returned_quantity <= quantity", name="returned_range"
        ),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    variant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    product_id: Mapped[uuid.UUID] = mapped_column()
    sku: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(400))
    quantity: Mapped[int] = mapped_column()
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    returned_quantity: Mapped[int] = mapped_column(default=0)
    # Where the stock was taken from: [{"location_id": str, "quantity": int}].
    allocations: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # A customised item as priced at checkout, for production: selections, digest, price
    # breakdown, lead time, made-to-order and a production note (ConfigurationOut).
    configuration: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderHistory(IdMixin, Base):
    """Every status change of an order: from, to, who, why, when."""

    __tablename__ = "order_history"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column()
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Payment(IdMixin, TimestampMixin, Base):
    """One payment attempt for one order; its id is the provider idempotency key."""

    __tablename__ = "payments"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    provider: Mapped[str] = mapped_column(String(30))
    provider_ref: Mapped[str | None] = mapped_column(String(100))
    method_token: Mapped[str] = mapped_column(String(100))
    status: Mapped[PaymentStatus] = mapped_column(
        str_enum(PaymentStatus), default=PaymentStatus.PENDING
    )
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    captured_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    failure_code: Mapped[str | None] = mapped_column(String(50))
    failure_message: Mapped[str | None] = mapped_column(String(300))


class Refund(IdMixin, Base):
    __tablename__ = "refunds"

    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id"), index=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column()
    return_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("returns.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    provider_ref: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Return(IdMixin, TimestampMixin, Base):
    __tablename__ = "returns"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id"), index=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[ReturnStatus] = mapped_column(
        str_enum(ReturnStatus), default=ReturnStatus.REQUESTED
    )
    reason: Mapped[str] = mapped_column(String(500))
    # [{"order_line_id": str, "quantity": int}]
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    refund_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    note: Mapped[str] = mapped_column(String(500), default="")
