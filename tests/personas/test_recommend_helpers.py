"""Helpers (no tests here): small catalogs and activity for the recommendation tests.

The test database is shared by the files of one worker: each test makes its own shop."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from plaza.db import Database, utcnow
from plaza.personas.customer import service as personas
from plaza.personas.customer.schemas import PersonaIn
from plaza.personas.models import ActivityKind, CustomerActivity
from plaza.personas.recommend import service
from plaza.personas.recommend.embeddings import embed_products
from plaza.privacy.models import ConsentState
from plaza.privacy.service import set_consent
from tests.catalog_helpers import create_product

COATS = [
    (
        "Storm Shell Coat",
        "A fully waterproof hooded coat with taped seams for heavy rain.",
        ["waterproof", "outerwear"],
    ),
    (
        "Insulated Rain Parka",
        "Warm padded parka, waterproof and windproof for wet winters.",
        ["waterproof", "insulated"],
    ),
    (
        "Waxed Cotton Raincoat",
        "Classic water-repellent raincoat that keeps showers out.",
        ["organic", "outerwear"],
    ),
]
KITCHEN = [
    ("Espresso Cup Set", "Four porcelain espresso cups with saucers.", ["kitchen"]),
    ("Oak Cutting Board", "End-grain oak board for chopping vegetables.", ["kitchen"]),
    ("Cast Iron Skillet", "A heavy pan for searing and baking.", ["kitchen"]),
]
SUMMER = [
    ("Linen Beach Shorts", "Light linen shorts for hot sunny days at the beach.", ["summer"]),
    ("Straw Sun Hat", "Wide brim straw hat for the summer sun.", ["summer"]),
]


def make_catalog(
    db: Database,
    merchant_id: uuid.UUID,
    groups: list[list[tuple[str, str, list[str]]]],
    **extra: Any,
) -> list[list[uuid.UUID]]:
    """Products per group (active, one variant at 49.99 EUR), embedded with the NumPy encoder."""
    out: list[list[uuid.UUID]] = []
    for group in groups:
        ids = []
        for title, description, tags in group:
            pid, _ = create_product(
                db,
                merchant_id,
                title=title,
                description=description,
                tags=tags,
                variants=[{"prices": {"EUR": 4999}}],
                **extra,
            )
            ids.append(pid)
        out.append(ids)
    embed_products(db, [p for g in out for p in g])
    return out


def consent(db: Database, user_id: uuid.UUID, granted: bool = True) -> None:
    with db.transaction() as s:
        set_consent(
            s,
            user_id,
            "personalisation",
            ConsentState.GRANTED if granted else ConsentState.WITHDRAWN,
        )


def activity(
    db: Database,
    user_id: uuid.UUID,
    product_id: uuid.UUID,
    kind: ActivityKind = ActivityKind.PURCHASE,
    *,
    at: dt.datetime | None = None,
    quantity: int = 1,
) -> None:
    with db.transaction() as s:
        s.add(
            CustomerActivity(
                user_id=user_id,
                kind=kind,
                product_id=product_id,
                quantity=quantity,
                source_ref=f"test:{uuid.uuid4()}",
                occurred_at=at or utcnow(),
            )
        )
    service.clear_caches()


def persona(db: Database, user_id: uuid.UUID, **fields: Any) -> uuid.UUID:
    with db.transaction() as s:
        p = personas.create_persona(
            s, user_id, PersonaIn(name=f"p-{uuid.uuid4().hex[:8]}", **fields)
        )
        return p.id
