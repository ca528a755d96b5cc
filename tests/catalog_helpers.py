"""Catalog test data for every context's tests, made through the catalog service."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from plaza.catalog import service as catalog
from plaza.catalog.models import Variant
from plaza.catalog.schemas import OptionIn, PriceIn, ProductIn, VariantIn
from plaza.db import Database


def _sku() -> str:
    return f"SKU-{uuid.uuid4().hex[:12].upper()}"


def create_product(
    db: Database,
    merchant_id: uuid.UUID,
    *,
    title: str | None = None,
    variants: list[dict[str, Any]] | None = None,
    status: str = "active",
    currency: str = "EUR",
    **fields: Any,
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """Create a product and return ``(product_id, [variant ids in the given order])``.

    ``variants`` items take ``sku`` (unique by default), ``options`` (the product's option
    definition is derived from them, values in first-seen order), ``prices`` (a
    ``{currency: amount}`` map, default ``{currency: 1999}``) and optionally ``gtin``,
    ``weight_grams``, ``status``. Without ``variants`` there is one variant with no options.
    Other keyword arguments (``brand``, ``tags``, ``description``, ``category_id``,
    ``handle``, ``media``) go to the product.
    """
    specs = variants if variants is not None else [{}]
    option_values: dict[str, list[str]] = {}
    for spec in specs:
        for name, value in (spec.get("options") or {}).items():
            values = option_values.setdefault(name, [])
            if value not in values:
                values.append(value)
    data = ProductIn(
        title=title or f"Test product {uuid.uuid4().hex[:8]}",
        status=status,  # type: ignore[arg-type]
        options=[OptionIn(name=n, values=v) for n, v in option_values.items()],
        variants=[
            VariantIn(
                sku=spec.get("sku") or _sku(),
                gtin=spec.get("gtin"),
                options=spec.get("options") or {},
                weight_grams=spec.get("weight_grams"),
                status=spec.get("status", "active"),
                prices=[
                    PriceIn(currency=c, amount=a)
                    for c, a in (spec.get("prices") or {currency: 1999}).items()
                ],
            )
            for spec in specs
        ],
        **fields,
    )
    with db.transaction() as s:
        product = catalog.create_product(s, merchant_id, data)
        ids = list(
            s.scalars(
                select(Variant.id)
                .where(Variant.product_id == product.id)
                .order_by(Variant.position, Variant.id)
            )
        )
        return product.id, ids
