"""Tables of smart fitting rooms: rooms in a store's fitting zone, sessions opened by
scanning the garments brought in, the items tried, and size requests to the staff.

``location_id`` is the store (an inventory location), ``variant_id`` a catalog variant:
like inventory, no foreign keys into other contexts' business tables (they are reached
through their services), except the store and zone, whose rows must exist.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plaza.db import Base, IdMixin, TimestampMixin, str_enum, utcnow
from plaza.o2o.stores import models as _stores  # noqa: F401 - store_zones, for zone_id's key


class SessionStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class RequestStatus(enum.StrEnum):
    REQUESTED = "requested"
    PICKING = "picking"
    DELIVERED = "delivered"
    UNAVAILABLE = "unavailable"
    CANCELLED = "cancelled"


class ItemSource(enum.StrEnum):
    SCAN = "scan"  # an RFID tag, Digital Link QR or barcode read in the room
    REQUEST = "request"  # brought by staff for a size request


class BoughtVia(enum.StrEnum):
    ORDER = "order"  # a paid order of the session's customer (ordering's facts)
    STAFF = "staff"  # staff recorded the sale at close (till sale, guest, cash)


class FittingRoom(IdMixin, TimestampMixin, Base):
    __tablename__ = "fitting_rooms"
    __table_args__ = (
        UniqueConstraint("location_id", "code"),
        Index("ix_fitting_rooms_merchant_location", "merchant_id", "location_id", "id"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    # Registered to a zone; the history outlives a zone that is removed.
    zone_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("store_zones.id", ondelete="SET NULL"), index=True, default=None
    )
    code: Mapped[str] = mapped_column(String(32))  # printed on the door / QR: "F3"
    name: Mapped[str] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(default=True)


class FittingSession(IdMixin, TimestampMixin, Base):
    __tablename__ = "fitting_sessions"
    __table_args__ = (
        Index("ix_fitting_sessions_store_status", "merchant_id", "location_id", "status", "id"),
        Index("ix_fitting_sessions_customer", "customer_id", "opened_at"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    room_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fitting_rooms.id", ondelete="CASCADE"), index=True
    )
    zone_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # The shopper who opened it on their phone; None when staff opened it for a walk-in
    # (or the account was erased).
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    opened_by: Mapped[str] = mapped_column(String(80))  # actor: user:<id>
    closed_by: Mapped[str | None] = mapped_column(String(80), default=None)
    status: Mapped[SessionStatus] = mapped_column(
        str_enum(SessionStatus), default=SessionStatus.OPEN
    )
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class FittingItem(IdMixin, Base):
    """A garment in the room. The same tag read twice is one item (readers re-read)."""

    __tablename__ = "fitting_items"
    __table_args__ = (UniqueConstraint("session_id", "variant_id", "serial"),)

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fitting_sessions.id", ondelete="CASCADE"), index=True
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    variant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    product_id: Mapped[uuid.UUID]
    gtin: Mapped[str | None] = mapped_column(String(14), default=None)
    serial: Mapped[str] = mapped_column(String(64), default="")  # "" when the code had none
    code_kind: Mapped[str] = mapped_column(String(20))  # epc | digital_link | gtin | request
    source: Mapped[ItemSource] = mapped_column(str_enum(ItemSource), default=ItemSource.SCAN)
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    bought: Mapped[bool] = mapped_column(default=False)
    bought_via: Mapped[BoughtVia | None] = mapped_column(str_enum(BoughtVia), default=None)
    order_id: Mapped[uuid.UUID | None] = mapped_column(default=None)


class SizeRequest(IdMixin, TimestampMixin, Base):
    """A shopper asks for another size or colour; staff work the queue per store."""

    __tablename__ = "fitting_requests"
    __table_args__ = (
        Index("ix_fitting_requests_queue", "merchant_id", "location_id", "status", "id"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fitting_sessions.id", ondelete="CASCADE"), index=True
    )
    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("fitting_rooms.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID]
    # The item it replaces ("this, one size up"), when the shopper said so.
    item_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("fitting_items.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[RequestStatus] = mapped_column(
        str_enum(RequestStatus), default=RequestStatus.REQUESTED
    )
    note: Mapped[str] = mapped_column(String(500), default="")
    requested_by: Mapped[str] = mapped_column(String(80))
    handled_by: Mapped[str | None] = mapped_column(String(80), default=None)
