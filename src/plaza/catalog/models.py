"""Tables of the catalog context.

Categories are a platform-wide taxonomy; everything else is merchant-owned and carries
``merchant_id``. The full-text index is dialect-specific and lives outside these models
(migration ``0002_catalog_search``): an FTS5 table on SQLite, a generated ``tsvector``
column with a GIN index on PostgreSQL. ``Product.search_terms`` feeds both.
"""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plaza.db import Base, IdMixin, JSONType, TimestampMixin, str_enum


class ProductStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class VariantStatus(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class Category(IdMixin, TimestampMixin, Base):
    __tablename__ = "categories"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), index=True, default=None
    )
    position: Mapped[int] = mapped_column(default=0)


class Product(IdMixin, TimestampMixin, Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("merchant_id", "handle"),
        Index("ix_products_status_created", "status", "created_at", "id"),
        Index("ix_products_merchant_created", "merchant_id", "created_at", "id"),
    )

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    handle: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    brand: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[ProductStatus] = mapped_column(
        str_enum(ProductStatus), default=ProductStatus.DRAFT
    )
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), index=True, default=None
    )
    tags: Mapped[list[str]] = mapped_column(JSONType)
    # [{"url": "https://…", "alt": "…", "kind": "image" | "video"}]
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    # [{"name": "size", "values": ["S", "M", "L"]}, …] in display order
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    # Tags, SKUs and GTINs of live variants, space-joined: the part of the search document
    # that is not a column of its own (kept by the service on every product/variant write).
    search_terms: Mapped[str] = mapped_column(Text, default="")
    # Optimistic concurrency: the service adds one per change of the product, its variants
    # or prices; every UPDATE also checks it still holds the value read (version counter).
    version: Mapped[int] = mapped_column(default=1)
    # Mass customisation spec (catalog/customisation.py), checked on save; None: plain.
    customisation: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class ProductTag(Base):
    """Normalised copy of ``Product.tags`` so tag filters are portable indexed lookups."""

    __tablename__ = "product_tags"
    __table_args__ = (Index("ix_product_tags_tag", "tag", "product_id"),)

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)
    merchant_id: Mapped[uuid.UUID] = mapped_column(index=True)


class Variant(IdMixin, TimestampMixin, Base):
    __tablename__ = "variants"
    __table_args__ = (
        UniqueConstraint("merchant_id", "sku"),
        UniqueConstraint("merchant_id", "gtin"),
        Index("ix_variants_product_position", "product_id", "position", "id"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64))
    # GS1 GTIN normalised to 14 digits (GTIN-8/12/13 are left-padded with zeros).
    gtin: Mapped[str | None] = mapped_column(String(14), default=None)
    # {"size": "M", "colour": "Blue"}: exactly the product's option names, defined values.
    option_values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    weight_grams: Mapped[int | None] = mapped_column(default=None)
    status: Mapped[VariantStatus] = mapped_column(
        str_enum(VariantStatus), default=VariantStatus.ACTIVE
    )
    position: Mapped[int] = mapped_column(default=0)


class VariantPrice(IdMixin, TimestampMixin, Base):
    __tablename__ = "variant_prices"
    # Prices are always reached through their variant: (variant_id, currency) is the index.
    __table_args__ = (UniqueConstraint("variant_id", "currency"),)

    variant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"))
    merchant_id: Mapped[uuid.UUID] = mapped_column(index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    compare_at_amount: Mapped[int | None] = mapped_column(BigInteger, default=None)


class CatalogVersion(Base):
    """A write counter per merchant (the nil UUID counts platform taxonomy changes).

    Every catalog write bumps its merchant's row in the same transaction; API processes
    compare ``sum(version)`` to invalidate their response caches. One row per merchant
    keeps merchants' concurrent writes from contending on a single hot row.
    """

    __tablename__ = "catalog_versions"

    merchant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
