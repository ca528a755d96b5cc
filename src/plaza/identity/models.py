"""Identity tables: users (customers and staff), merchants, memberships, API keys."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plaza.db import Base, IdMixin, TimestampMixin, str_enum, utcnow


class MerchantKind(enum.StrEnum):
    BRAND = "brand"
    STREET_SHOP = "street_shop"
    MALL_OWNER = "mall_owner"
    MARKETPLACE = "marketplace"


class MerchantRole(enum.StrEnum):
    ADMIN = "merchant_admin"
    STAFF = "merchant_staff"


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    is_platform_admin: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", lazy="selectin")


class Merchant(IdMixin, TimestampMixin, Base):
    __tablename__ = "merchants"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[MerchantKind] = mapped_column(str_enum(MerchantKind))
    description: Mapped[str] = mapped_column(String(2000), default="")
    default_currency: Mapped[str] = mapped_column(String(3), default="EUR")
    is_active: Mapped[bool] = mapped_column(default=True)


class Membership(Base):
    __tablename__ = "memberships"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[MerchantRole] = mapped_column(str_enum(MerchantRole))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")


class ApiKey(IdMixin, Base):
    """A partner/integration key acting for one merchant with explicit scopes.

    Only a SHA-256 digest of the key is stored: keys are 256-bit random, so a slow hash
    adds nothing, and a fast one keeps per-request authentication cheap.
    """

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("prefix"),)

    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
