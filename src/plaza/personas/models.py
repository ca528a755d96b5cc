"""Tables of the personas context.

- ``CustomerProfile`` and ``CustomerPersona``: what a customer tells about themselves and the
  people they shop for (personal data: exported and erased through ``privacy.py``).
- ``CustomerActivity``: the behaviour personas and recommendations are computed from,
  recorded from domain events (purchases, returns) and from tracked views; one row per
  source fact, so an event delivered twice records once.
- ``StrategicPersona`` and ``PersonaMembership``: a merchant's segments and who is in them.
- ``ProductEmbedding`` and ``RecommenderModel``: precomputed vectors and factors that
  serving reads; training writes a new model row and never blocks serving.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from plaza.db import Base, IdMixin, JSONType, TimestampMixin, str_enum, utcnow


class Sustainability(enum.StrEnum):
    ANY = "any"  # no preference
    PREFER = "prefer"  # rank sustainable items first
    ONLY = "only"  # show sustainable items only


class CustomerProfile(TimestampMixin, Base):
    """Facts a customer chose to share; every field is optional."""

    __tablename__ = "customer_profiles"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    birth_date: Mapped[dt.date | None] = mapped_column(default=None)
    gender: Mapped[str | None] = mapped_column(String(30), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)  # ISO 3166-1 alpha-2
    city: Mapped[str | None] = mapped_column(String(100), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(20), default=None)


class CustomerPersona(IdMixin, TimestampMixin, Base):
    """One of a customer's personas: "me", "my son", "running"."""

    __tablename__ = "customer_personas"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(60))
    relation: Mapped[str] = mapped_column(String(30), default="self")  # self, child, partner…
    is_default: Mapped[bool] = mapped_column(default=False)
    # Size values as variants spell them ("M", "42", "W32/L34"); any of them fits.
    sizes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    fit: Mapped[str | None] = mapped_column(String(20), default=None)  # slim, regular, relaxed
    colours_prefer: Mapped[list[str]] = mapped_column(JSONType, default=list)
    colours_avoid: Mapped[list[str]] = mapped_column(JSONType, default=list)
    styles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    materials_prefer: Mapped[list[str]] = mapped_column(JSONType, default=list)
    materials_avoid: Mapped[list[str]] = mapped_column(JSONType, default=list)
    sustainability: Mapped[Sustainability] = mapped_column(
        str_enum(Sustainability), default=Sustainability.ANY
    )
    budget_amount: Mapped[int | None] = mapped_column(BigInteger, default=None)  # minor units
    budget_currency: Mapped[str | None] = mapped_column(String(3), default=None)


class ActivityKind(enum.StrEnum):
    PURCHASE = "purchase"  # an order line was paid
    RETURN = "return"  # an order line came back
    VIEW = "view"  # a product page was viewed (tracked by the app)
    CART_ADD = "cart_add"  # a product was put in a cart (tracked by the app)


class CustomerActivity(IdMixin, Base):
    """One behavioural fact about one customer and (usually) one product."""

    __tablename__ = "customer_activity"
    __table_args__ = (
        UniqueConstraint("kind", "source_ref"),
        Index("ix_customer_activity_user_kind_at", "user_id", "kind", "occurred_at"),
        Index("ix_customer_activity_product", "product_id"),
        Index("ix_customer_activity_at", "occurred_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[ActivityKind] = mapped_column(str_enum(ActivityKind))
    merchant_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    product_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    category: Mapped[str | None] = mapped_column(String(64), default=None)  # category slug
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    quantity: Mapped[int] = mapped_column(default=1)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units, line total
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    # What the fact came from ("order_line:<id>", "view:<uuid>"): unique per kind, so a
    # redelivered event or a retried track call records once.
    source_ref: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PersonaStatus(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class StrategicPersona(IdMixin, TimestampMixin, Base):
    """A merchant's persona: who they want to serve, and the rule that says who is in it."""

    __tablename__ = "strategic_personas"
    __table_args__ = (UniqueConstraint("merchant_id", "name"),)

    merchant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    # The ideal-customer profile, for people: {"goals": [...], "pains": [...], ...}.
    ideal_customer: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The membership rule, in the condition language of ``plaza.personas.segments.rules``.
    rule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[PersonaStatus] = mapped_column(
        str_enum(PersonaStatus), default=PersonaStatus.ACTIVE
    )
    member_count: Mapped[int] = mapped_column(default=0)
    evaluated_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class PersonaMembership(Base):
    __tablename__ = "persona_memberships"

    persona_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("strategic_personas.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    since: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ProductEmbedding(Base):
    """A product's text embedding (float32, L2-normalised) for similarity and search."""

    __tablename__ = "product_embeddings"

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    merchant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    model: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the embedded text: unchanged products are not embedded again.
    text_digest: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RecommenderModel(IdMixin, Base):
    """One trained collaborative-filtering model; serving reads the newest ready one."""

    __tablename__ = "recommender_models"
    __table_args__ = (Index("ix_recommender_models_kind_trained", "kind", "trained_at"),)

    kind: Mapped[str] = mapped_column(String(30))  # "als"
    trained_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # An .npz archive: user_ids, item_ids (UUID strings), user_factors, item_factors.
    payload: Mapped[bytes] = mapped_column(LargeBinary)
