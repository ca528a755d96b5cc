"""The pickup of a click & collect order, keyed by the order (ordering owns the order and
its statuses; this table owns what happens at the store's counter).

A pickup row exists from the moment staff mark the order ready: before that the order is
"awaiting preparation" (paid, ``fulfilment == collect``, no row). The pickup code is never
stored: it is derived from the server secret and ``nonce`` (so the customer can be shown
it again), and only its keyed digest is kept, to find the pickup from a typed code.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plaza.db import Base, TimestampMixin, str_enum


class PickupState(enum.StrEnum):
    READY = "ready"  # code issued, waiting at the counter
    COLLECTED = "collected"  # handed over; the order is fulfilled
    EXPIRED = "expired"  # not collected in time; order cancelled, stock released
    CANCELLED = "cancelled"  # the order was cancelled otherwise


class Pickup(TimestampMixin, Base):
    __tablename__ = "o2o_pickups"
    __table_args__ = (
        UniqueConstraint("location_id", "code_digest"),
        Index("ix_o2o_pickups_state_expires", "state", "expires_at"),
        Index("ix_o2o_pickups_location_state", "location_id", "state", "order_id"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    state: Mapped[PickupState] = mapped_column(str_enum(PickupState), default=PickupState.READY)
    nonce: Mapped[str] = mapped_column(String(32))
    code_digest: Mapped[str] = mapped_column(String(64))
    ready_at: Mapped[dt.datetime] = mapped_column()
    expires_at: Mapped[dt.datetime] = mapped_column()
    ready_by: Mapped[str] = mapped_column(String(100))
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_by: Mapped[str | None] = mapped_column(String(100), default=None)
