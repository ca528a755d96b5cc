"""Tables of digital screens, their content items and scheduled playlists.

A playlist's schedule, screens and items are small lists read whole when a screen asks
what to show, so they are JSON columns.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from plaza.db import Base, IdMixin, JSONType, TimestampMixin, str_enum


class ContentKind(enum.StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    PRODUCT = "product"
    OFFER = "offer"


class Screen(IdMixin, TimestampMixin, Base):
    """A display in a store zone. It authenticates with a secret token, of which only a
    SHA-256 digest is kept (shown once, at registration or rotation)."""

    __tablename__ = "screens"
    __table_args__ = (Index("ix_screens_merchant_id_id", "merchant_id", "id"),)

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    location_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), index=True
    )
    zone_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("store_zones.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    last_polled_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ScreenContent(IdMixin, TimestampMixin, Base):
    """Something a screen can show: an image or video (by URL), a product card, or a
    proximity offer; optionally tagged for strategic personas."""

    __tablename__ = "screen_content"
    __table_args__ = (Index("ix_screen_content_merchant_id_id", "merchant_id", "id"),)

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    kind: Mapped[ContentKind] = mapped_column(str_enum(ContentKind))
    title: Mapped[str] = mapped_column(String(100))
    url: Mapped[str | None] = mapped_column(String(2000), default=None)
    product_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    offer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("proximity_offers.id", ondelete="CASCADE"), default=None
    )
    duration_seconds: Mapped[int] = mapped_column(default=10)
    persona_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)


class Playlist(IdMixin, TimestampMixin, Base):
    """Content items in order, for some screens (all of the merchant's when
    ``screen_ids`` is empty), on some weekdays, between local times, within dates."""

    __tablename__ = "screen_playlists"
    __table_args__ = (Index("ix_screen_playlists_merchant_id_id", "merchant_id", "id"),)

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(default=0)
    days: Mapped[list[str]] = mapped_column(JSONType, default=list)
    daily_from: Mapped[str | None] = mapped_column(String(5), default=None)
    daily_to: Mapped[str | None] = mapped_column(String(5), default=None)
    start_date: Mapped[dt.date | None] = mapped_column(default=None)
    end_date: Mapped[dt.date | None] = mapped_column(default=None)
    screen_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    items: Mapped[list[str]] = mapped_column(JSONType, default=list)
    is_active: Mapped[bool] = mapped_column(default=True)
