"""Tables of O2O stores, keyed by the inventory location that is the store.

A store *is* an inventory ``Location`` with ``kind == "store"``; inventory owns its
address, coordinates, timezone and stock. These tables add what only a shop floor has.
Opening hours and exceptions are small documents read whole (to answer "open now?"),
so they are JSON columns rather than rows.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plaza.db import Base, IdMixin, JSONType, TimestampMixin, str_enum, utcnow


class StoreService(enum.StrEnum):
    CLICK_COLLECT = "click_collect"
    FITTING_ROOMS = "fitting_rooms"
    RETURNS = "returns"


class ZoneKind(enum.StrEnum):
    ENTRANCE = "entrance"
    WOMENSWEAR = "womenswear"
    MENSWEAR = "menswear"
    KIDSWEAR = "kidswear"
    FOOTWEAR = "footwear"
    ACCESSORIES = "accessories"
    FITTING = "fitting"
    COUNTER = "counter"
    WINDOW = "window"
    OTHER = "other"


class StaffRole(enum.StrEnum):
    ASSOCIATE = "associate"
    MANAGER = "manager"


class StoreProfile(TimestampMixin, Base):
    """One per store location. ``hours``: weekday (``mon``…``sun``) -> list of
    ``{"open": "HH:MM", "close": "HH:MM"}`` in the store's local time; ``exceptions``:
    list of ``{"date", "closed", "hours", "note"}`` overriding a date."""

    __tablename__ = "store_profiles"

    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    # Overrides the location's timezone when set (IANA name).
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    phone: Mapped[str] = mapped_column(String(40), default="")
    services: Mapped[list[str]] = mapped_column(JSONType, default=list)
    hours: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    exceptions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)


class StoreZone(IdMixin, TimestampMixin, Base):
    """An area of a store (entrance, menswear, fitting rooms…): where beacons and screens
    are, and what visits are counted per."""

    __tablename__ = "store_zones"
    __table_args__ = (
        UniqueConstraint("location_id", "code"),
        Index("ix_store_zones_merchant_id_id", "merchant_id", "id"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[ZoneKind] = mapped_column(str_enum(ZoneKind))


class StoreStaff(Base):
    """A merchant member assigned to work in a store (a merchant may have many stores)."""

    __tablename__ = "store_staff"

    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[StaffRole] = mapped_column(str_enum(StaffRole), default=StaffRole.ASSOCIATE)
    since: Mapped[dt.datetime] = mapped_column(default=utcnow)
