"""Recommendations react to catalog and privacy events.

* ``product.created`` / ``product.updated``: embed the product with the NumPy encoder,
  so a new product is searchable by meaning and gets "similar items" at once, before the
  next training. Idempotent: an unchanged text (``text_digest``) is not embedded again.
  Archived products keep their row; serving only returns sellable products.
* ``user.erased``: remove the customer's factor row from every stored model, so nothing
  derived from their behaviour outlives the erasure (activity rows themselves are erased
  by the personas context's privacy handler).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from plaza.events import Event, subscribe
from plaza.personas.models import RecommenderModel
from plaza.personas.recommend.embeddings import embed_product
from plaza.personas.recommend.training import ModelData


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@subscribe("product.created", name="recommend.embed_created_product")
@subscribe("product.updated", name="recommend.embed_updated_product")
def embed_changed_product(s: Session, event: Event) -> None:
    product_id = _uuid(event.payload.get("product_id") or event.aggregate_id)
    if product_id is not None:
        embed_product(s, product_id)


@subscribe("user.erased", name="recommend.forget_erased_user")
def forget_erased_user(s: Session, event: Event) -> None:
    user_id = _uuid(event.payload.get("user_id") or event.aggregate_id)
    if user_id is None:
        return
    for row in s.scalars(select(RecommenderModel)):
        data = ModelData.from_bytes(row.payload, row.id)
        if user_id in data.user_row:
            row.payload = data.without_user(user_id).to_bytes()
