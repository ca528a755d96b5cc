"""Tables of beacons, visits and proximity offers.

Raw sightings are not stored: a sighting only moves a visit forward (data minimisation;
the visit keeps first and last seen, and when dwelling began).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plaza.db import Base, IdMixin, JSONType, TimestampMixin, str_enum, utcnow


class BeaconKind(enum.StrEnum):
    IBEACON = "ibeacon"
    EDDYSTONE_UID = "eddystone_uid"


class OfferAudience(enum.StrEnum):
    ANY = "any"
    PERSONAS = "personas"


class Beacon(IdMixin, TimestampMixin, Base):
    """A beacon placed in a store zone. ``identifier`` is the canonical form of what the
    beacon broadcasts (``ibeacon:<uuid>:<major>:<minor>`` or
    ``eddystone_uid:<namespace>:<instance>``, lower-case hex), unique platform-wide."""

    __tablename__ = "beacons"
    __table_args__ = (Index("ix_beacons_merchant_id_id", "merchant_id", "id"),)

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    zone_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("store_zones.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[BeaconKind] = mapped_column(str_enum(BeaconKind))
    identifier: Mapped[str] = mapped_column(String(80), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    is_active: Mapped[bool] = mapped_column(default=True)


class Visit(IdMixin, Base):
    """A customer's presence in one store zone: opened by the first sighting, dwelling
    after ``dwell_seconds`` of presence, ended after ``exit_seconds`` of silence."""

    __tablename__ = "store_visits"
    __table_args__ = (
        Index("ix_store_visits_user_id_ended_at", "user_id", "ended_at"),
        Index("ix_store_visits_zone_id_ended_at", "zone_id", "ended_at"),
        Index("ix_store_visits_ended_at_last_seen_at", "ended_at", "last_seen_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"))
    zone_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("store_zones.id", ondelete="CASCADE"))
    started_at: Mapped[dt.datetime] = mapped_column()
    last_seen_at: Mapped[dt.datetime] = mapped_column()
    dwelled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    ended_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    sightings: Mapped[int] = mapped_column(default=1)


class ProximityOffer(IdMixin, TimestampMixin, Base):
    """A message for customers entering a zone, for everyone or for strategic personas,
    within a time window (and optional daily local hours), at most ``cap_per_customer``
    times per customer."""

    __tablename__ = "proximity_offers"
    __table_args__ = (Index("ix_proximity_offers_merchant_id_id", "merchant_id", "id"),)

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    zone_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("store_zones.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(String(500))
    audience: Mapped[OfferAudience] = mapped_column(str_enum(OfferAudience))
    persona_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    starts_at: Mapped[dt.datetime] = mapped_column()
    ends_at: Mapped[dt.datetime] = mapped_column()
    daily_from: Mapped[str | None] = mapped_column(String(5), default=None)
    daily_to: Mapped[str | None] = mapped_column(String(5), default=None)
    cap_per_customer: Mapped[int] = mapped_column(default=1)
    product_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    is_active: Mapped[bool] = mapped_column(default=True)


class OfferDelivery(IdMixin, Base):
    """An offer shown to a customer on entering its zone (once per visit)."""

    __tablename__ = "offer_deliveries"
    __table_args__ = (
        UniqueConstraint("offer_id", "visit_id"),
        Index("ix_offer_deliveries_offer_id_user_id", "offer_id", "user_id"),
    )

    offer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("proximity_offers.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("store_visits.id", ondelete="CASCADE"))
    delivered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
