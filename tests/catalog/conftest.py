"""Catalog fixtures: merchants with staff, request bodies, row counts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from plaza.catalog.models import Product, Variant, VariantPrice
from plaza.db import Database
from tests.factories import Factory, MerchantCtx, unique


@pytest.fixture
def merchant(factory: Factory) -> MerchantCtx:
    return factory.merchant()


@pytest.fixture
def other(factory: Factory) -> MerchantCtx:
    return factory.merchant()


def product_body(**overrides: Any) -> dict[str, Any]:
    """A valid create body: a T-shirt in two sizes priced in EUR."""
    word = unique("tee")
    body: dict[str, Any] = {
        "title": f"Organic tee {word}",
        "description": "Soft organic cotton.",
        "brand": "Acme",
        "status": "active",
        "tags": ["Summer", "cotton"],
        "media": [{"url": "https://cdn.example.com/tee.jpg", "alt": "Tee", "kind": "image"}],
        "options": [{"name": "size", "values": ["S", "M", "L"]}],
        "variants": [
            {
                "sku": unique("TEE-S").upper(),
                "options": {"size": "S"},
                "prices": [{"currency": "EUR", "amount": 1999}],
            },
            {
                "sku": unique("TEE-M").upper(),
                "options": {"size": "M"},
                "prices": [
                    {"currency": "EUR", "amount": 2199, "compare_at_amount": 2999},
                    {"currency": "USD", "amount": 2399},
                ],
            },
        ],
    }
    body.update(overrides)
    return body


def counts(db: Database, merchant_id: uuid.UUID) -> tuple[int, int, int]:
    """Products, variants and prices the merchant owns (for 'nothing changed' checks)."""
    with db.reading() as s:
        return (
            s.scalar(select(func.count()).where(Product.merchant_id == merchant_id)) or 0,
            s.scalar(select(func.count()).where(Variant.merchant_id == merchant_id)) or 0,
            s.scalar(select(func.count()).where(VariantPrice.merchant_id == merchant_id)) or 0,
        )


def events(db: Database, aggregate_id: object) -> list[tuple[str, dict[str, Any]]]:
    from plaza.events import OutboxEvent

    with db.reading() as s:
        rows = s.execute(
            select(OutboxEvent.type, OutboxEvent.payload)
            .where(OutboxEvent.aggregate_id == str(aggregate_id))
            .order_by(OutboxEvent.id)
        )
        return [(t, dict(p)) for t, p in rows]
