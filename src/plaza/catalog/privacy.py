"""Catalog holds no personal data: products, variants, prices and categories describe
what merchants sell. Registered explicitly, so the privacy completeness test knows the
catalog was reviewed rather than forgotten."""

from __future__ import annotations

from plaza.privacy import registry

registry.no_personal_data(
    "catalog",
    not_personal={"categories": "the platform's category tree; `name` names a category"},
)
