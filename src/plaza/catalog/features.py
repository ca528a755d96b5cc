"""Read-only product facts for other contexts (personas, recommendations, search).

Personalisation needs a product's words, tags, option values, category and price, in
bulk and without ORM objects; this is the one place that reads them, so no other context
touches catalog tables.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from plaza.catalog.models import (
    Category,
    Product,
    ProductStatus,
    Variant,
    VariantPrice,
    VariantStatus,
)
from plaza.catalog.search import active_merchant_ids

# Tags that mark an item as a sustainable choice (a persona's sustainability preference).
SUSTAINABLE_TAGS = frozenset(
    {
        "recycled",
        "organic",
        "fair-trade",
        "second-hand",
        "vintage",
        "vegan",
        "sustainable",
        "upcycled",
        "refurbished",
    }
)


@dataclass(frozen=True)
class ProductFeatures:
    id: uuid.UUID
    merchant_id: uuid.UUID
    title: str
    description: str
    brand: str
    category: str | None  # category slug
    tags: tuple[str, ...]
    # Option name (lower case) -> values offered by live variants, as spelled there.
    options: dict[str, frozenset[str]] = field(default_factory=dict)
    min_price: int | None = None  # in the currency asked for; None when not priced in it
    sellable: bool = True  # active product of an open merchant with a live variant
    created_at: dt.datetime | None = None

    @property
    def sustainable(self) -> bool:
        return any(t.lower() in SUSTAINABLE_TAGS for t in self.tags)

    def text(self) -> str:
        """The text a product is embedded from: what a shopper would read."""
        parts = [self.title, self.brand, self.category or "", " ".join(self.tags), self.description]
        return ". ".join(p.strip() for p in parts if p and p.strip())


def product_features(
    s: Session, product_ids: Iterable[uuid.UUID] | None = None, currency: str | None = None
) -> dict[uuid.UUID, ProductFeatures]:
    """Facts of the given products (all non-archived products when ``None``)."""
    q = (
        select(
            Product.id,
            Product.merchant_id,
            Product.title,
            Product.description,
            Product.brand,
            Product.tags,
            Product.status,
            Product.created_at,
            Category.slug,
            Product.merchant_id.in_(active_merchant_ids()).label("open"),
        )
        .select_from(Product)
        .outerjoin(Category, Category.id == Product.category_id)
    )
    ids: list[uuid.UUID] | None = None
    if product_ids is not None:
        ids = list(dict.fromkeys(product_ids))
        if not ids:
            return {}
        q = q.where(Product.id.in_(ids))
    else:
        q = q.where(Product.status != ProductStatus.ARCHIVED)
    rows = s.execute(q).all()
    found = [r.id for r in rows]
    options: dict[uuid.UUID, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    prices: dict[uuid.UUID, int] = {}
    live: set[uuid.UUID] = set()
    for chunk in _chunks(found, 500):
        vq = select(Variant.product_id, Variant.option_values).where(
            Variant.product_id.in_(chunk), Variant.status == VariantStatus.ACTIVE
        )
        for product_id, values in s.execute(vq):
            live.add(product_id)
            for name, value in (values or {}).items():
                options[product_id][str(name).lower()].add(str(value))
        if currency:
            pq = (
                select(Variant.product_id, VariantPrice.amount)
                .join(
                    VariantPrice,
                    and_(VariantPrice.variant_id == Variant.id, VariantPrice.currency == currency),
                )
                .where(Variant.product_id.in_(chunk), Variant.status == VariantStatus.ACTIVE)
            )
            for product_id, amount in s.execute(pq):
                if product_id not in prices or amount < prices[product_id]:
                    prices[product_id] = amount
    return {
        r.id: ProductFeatures(
            id=r.id,
            merchant_id=r.merchant_id,
            title=r.title,
            description=r.description or "",
            brand=r.brand or "",
            category=r.slug,
            tags=tuple(r.tags or ()),
            options={k: frozenset(v) for k, v in options[r.id].items()},
            min_price=prices.get(r.id),
            sellable=bool(r.open) and r.status == ProductStatus.ACTIVE and r.id in live,
            created_at=r.created_at,
        )
        for r in rows
    }


def sellable_product_ids(s: Session) -> list[uuid.UUID]:
    """Every product a shopper can buy now (active, open merchant, a live variant)."""
    q = (
        select(Product.id)
        .where(
            Product.status == ProductStatus.ACTIVE,
            Product.merchant_id.in_(active_merchant_ids()),
            Product.id.in_(
                select(Variant.product_id).where(Variant.status == VariantStatus.ACTIVE)
            ),
        )
        .order_by(Product.id)
    )
    return list(s.scalars(q))


def _chunks(items: list[uuid.UUID], size: int) -> Iterable[list[uuid.UUID]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
