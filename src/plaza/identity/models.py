"""Identity tables: users (customers and staff), merchants, memberships, API keys, and
OpenID Connect single sign-on (providers, linked identities, login attempts)."""

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


class SsoTokenAuthMethod(enum.StrEnum):
    """How Plaza authenticates to a provider's token endpoint (OIDC Core §9)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    NONE = "none"  # a public client: PKCE alone binds the code to Plaza


class SsoProvider(IdMixin, TimestampMixin, Base):
    """An OpenID Connect provider that people may sign in with, configured per platform."""

    __tablename__ = "sso_providers"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    # Immutable: a subject is only unique within its issuer.
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    # Fernet-encrypted with a key derived from PLAZA_SECRET_KEY; never returned by the API.
    client_secret_enc: Mapped[str | None] = mapped_column(String(2048), default=None)
    token_auth_method: Mapped[SsoTokenAuthMethod] = mapped_column(str_enum(SsoTokenAuthMethod))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    # Where a client may ask to be sent back after sign-in (exact match).
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    # Treat the provider's emails as verified even without `email_verified` (an enterprise
    # IdP that owns its users' mailboxes); off by default.
    trust_email: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True)


class SsoIdentity(IdMixin, Base):
    """A provider account (issuer + subject) linked to a Plaza account. Personal data:
    exported and erased through ``oidc_service.identities_for`` / ``delete_identities``."""

    __tablename__ = "sso_identities"
    __table_args__ = (UniqueConstraint("provider_id", "subject"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    provider_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sso_providers.id", ondelete="CASCADE")
    )
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(254))  # as the provider stated it at link time
    linked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SsoLoginAttempt(IdMixin, Base):
    """One started sign-in: what the callback needs to finish it, used at most once."""

    __tablename__ = "sso_login_attempts"

    provider_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sso_providers.id", ondelete="CASCADE")
    )
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of `state`
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    # Plaza's callback URL as sent to the provider; the token request must repeat it.
    callback_url: Mapped[str] = mapped_column(String(500))
    redirect_uri: Mapped[str | None] = mapped_column(String(500), default=None)
    client_state: Mapped[str | None] = mapped_column(String(256), default=None)
    cart_token: Mapped[str | None] = mapped_column(String(128), default=None)
    # SHA-256 of the cookie set on the browser that started it (web flow only).
    browser_binding: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class WebSession(IdMixin, Base):
    """A signed-in browser (the web pages): the cookie holds a random secret, the table its
    SHA-256, so a stolen database cannot sign anyone in and sign-out really ends it."""

    __tablename__ = "web_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
