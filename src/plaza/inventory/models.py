"""Tables of the inventory context: locations, stock levels, reservations, the stock ledger.

``variant_id`` is the catalog's variant id. It carries no foreign key: contexts talk through
services, and the catalog is checked (``variant_merchant``) where a merchant names a variant.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plaza.db import Base, IdMixin, TimestampMixin, str_enum, utcnow

DEFAULT_LOW_STOCK_THRESHOLD = 5


class LocationKind(enum.StrEnum):
    WAREHOUSE = "warehouse"
    STORE = "store"


class ReservationStatus(enum.StrEnum):
    ACTIVE = "active"
    COMMITTED = "committed"
    RELEASED = "released"
    EXPIRED = "expired"


class MovementReason(enum.StrEnum):
    ADJUSTMENT = "adjustment"
    RECEIPT = "receipt"
    RESERVATION = "reservation"
    RELEASE = "release"
    EXPIRY = "expiry"
    SALE = "sale"
    RETURN = "return"


class Location(IdMixin, TimestampMixin, Base):
    """A place that holds stock: a warehouse, or a store that may also ship online orders."""

    __tablename__ = "locations"
    __table_args__ = (
        UniqueConstraint("merchant_id", "code"),
        CheckConstraint("latitude IS NULL OR (latitude >= -90 AND latitude <= 90)", name="lat"),
        CheckConstraint(
            "longitude IS NULL OR (longitude >= -180 AND longitude <= 180)", name="lon"
        ),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="coords_pair"),
        CheckConstraint("low_stock_threshold >= 0", name="threshold"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[LocationKind] = mapped_column(str_enum(LocationKind))
    address_line1: Mapped[str] = mapped_column(String(200))
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100))
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2))
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_active: Mapped[bool] = mapped_column(default=True)
    fulfils_online: Mapped[bool] = mapped_column(default=True)
    low_stock_threshold: Mapped[int] = mapped_column(default=DEFAULT_LOW_STOCK_THRESHOLD)


class StockLevel(IdMixin, Base):
    """Units of one variant at one location. ``available = on_hand - reserved``.

    The CHECK constraints are the last line of defence: services change these columns only
    through conditional UPDATEs, so a violating write is a bug, never a race.
    """

    __tablename__ = "stock_levels"
    __table_args__ = (
        UniqueConstraint("variant_id", "location_id"),
        CheckConstraint("on_hand >= 0", name="on_hand_nonneg"),
        CheckConstraint("reserved >= 0", name="reserved_nonneg"),
        CheckConstraint("reserved <= on_hand", name="reserved_le_on_hand"),
        Index("ix_stock_levels_merchant_id_id", "merchant_id", "id"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class Reservation(IdMixin, TimestampMixin, Base):
    """Units held at one location for a reference (an order or checkout id) until expiry."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # The expiry sweep reads "active and due" in expiry order.
        Index("ix_reservations_status_expires_at", "status", "expires_at"),
        Index("ix_reservations_merchant_id_id", "merchant_id", "id"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID] = mapped_column()
    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int] = mapped_column()
    reference: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[ReservationStatus] = mapped_column(
        str_enum(ReservationStatus), default=ReservationStatus.ACTIVE
    )
    expires_at: Mapped[dt.datetime] = mapped_column()


class StockMovement(IdMixin, Base):
    """Append-only ledger: every change to a stock level, who made it and why."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        Index("ix_stock_movements_merchant_id_id", "merchant_id", "id"),
        Index("ix_stock_movements_variant_location", "variant_id", "location_id"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID] = mapped_column()
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    delta_on_hand: Mapped[int] = mapped_column(default=0)
    delta_reserved: Mapped[int] = mapped_column(default=0)
    reason: Mapped[MovementReason] = mapped_column(str_enum(MovementReason))
    reference: Mapped[str | None] = mapped_column(String(100), default=None)
    actor: Mapped[str] = mapped_column(String(100), default="system")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
