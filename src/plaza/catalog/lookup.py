"""Read functions catalog offers other contexts for scanned codes: variants by GTIN and the
sibling variants of a product (its other sizes and colours), as plain values.

O2O's fitting rooms and GS1 Digital Link resolver use these instead of reading catalog
tables. ``live`` is the storefront's notion of sellable: an active variant of an active
product of an active merchant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session

from plaza.catalog.models import Product, ProductStatus, Variant, VariantStatus
from plaza.catalog.search import active_merchant_ids


@dataclass(frozen=True)
class VariantRef:
    variant_id: uuid.UUID
    product_id: uuid.UUID
    merchant_id: uuid.UUID
    sku: str
    gtin: str | None
    option_values: dict[str, Any]
    position: int
    live: bool  # sellable now: active variant, product and merchant
    product_title: str
    brand: str
    product_handle: str
    # Option names in display order (["size", "colour"]), for labelling.
    option_names: list[str] = field(default_factory=list)
    image_url: str | None = None

    @property
    def label(self) -> str:
        """``"M / Blue"`` in the product's option order."""
        return " / ".join(
            str(self.option_values[n]) for n in self.option_names if n in self.option_values
        )


def _query() -> Select[Variant, Product, bool]:
    live = and_(
        Variant.status == VariantStatus.ACTIVE,
        Product.status == ProductStatus.ACTIVE,
        Product.merchant_id.in_(active_merchant_ids()),
    )
    return select(Variant, Product, live.label("live")).join(
        Product, Product.id == Variant.product_id
    )


def _ref(v: Variant, p: Product, live: bool) -> VariantRef:
    image = next((m.get("url") for m in p.media or [] if m.get("kind", "image") == "image"), None)
    return VariantRef(
        variant_id=v.id,
        product_id=p.id,
        merchant_id=v.merchant_id,
        sku=v.sku,
        gtin=v.gtin,
        option_values=dict(v.option_values or {}),
        position=v.position,
        live=bool(live),
        product_title=p.title,
        brand=p.brand,
        product_handle=p.handle,
        option_names=[str(o["name"]) for o in p.options or []],
        image_url=image,
    )


def variants_by_gtin(
    s: Session, gtin: str, merchant_id: uuid.UUID | None = None, *, live_only: bool = False
) -> list[VariantRef]:
    """Variants carrying ``gtin`` (14 digits; unique per merchant, so several merchants may
    sell the same item), oldest first; only ``merchant_id``'s when given."""
    q = _query().where(Variant.gtin == gtin)
    if merchant_id is not None:
        q = q.where(Variant.merchant_id == merchant_id)
    refs = [_ref(v, p, live) for v, p, live in s.execute(q.order_by(Variant.id))]
    return [r for r in refs if r.live] if live_only else refs


def variant_refs(s: Session, variant_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, VariantRef]:
    """The variants named (any status); unknown ids are simply absent."""
    ids = list(dict.fromkeys(variant_ids))
    out: dict[uuid.UUID, VariantRef] = {}
    for i in range(0, len(ids), 500):
        for v, p, live in s.execute(_query().where(Variant.id.in_(ids[i : i + 500]))):
            out[v.id] = _ref(v, p, live)
    return out


def product_variants(
    s: Session, product_ids: Iterable[uuid.UUID], *, live_only: bool = True
) -> dict[uuid.UUID, list[VariantRef]]:
    """Each product's variants in display order (position, then age): live ones only by
    default, which is what "other sizes and colours" offers a shopper."""
    ids = list(dict.fromkeys(product_ids))
    out: dict[uuid.UUID, list[VariantRef]] = {i: [] for i in ids}
    for i in range(0, len(ids), 500):
        q = _query().where(Variant.product_id.in_(ids[i : i + 500]))
        for v, p, live in s.execute(q.order_by(Variant.position, Variant.id)):
            if live or not live_only:
                out[p.id].append(_ref(v, p, live))
    return out
