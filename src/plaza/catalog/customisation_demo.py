"""Demo data for mass customisation: a handful of the demo world's products become
customisable (sneakers, a tote bag, a jacket, a T-shirt), through the same service the
API uses. Called by ``plaza demo`` after the demo world is loaded; safe to run twice
(a product that already has a spec is left alone)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import select

from plaza.catalog import customisation
from plaza.catalog.customisation import CustomisationSpec
from plaza.catalog.models import Product, ProductStatus
from plaza.db import Database


def _option(code: str, label: str, eur: int = 0, *, available: bool = True) -> dict[str, Any]:
    return {
        "code": code,
        "label": label,
        "price_delta": {"EUR": eur} if eur else {},
        "available": available,
    }


SNEAKERS: dict[str, Any] = {
    "groups": [
        {
            "code": "sole",
            "label": "Sole colour",
            "kind": "choice",
            "required": True,
            "options": [
                _option("white", "White"),
                _option("black", "Black"),
                _option("gum", "Gum rubber", 800),
            ],
        },
        {
            "code": "laces",
            "label": "Laces",
            "kind": "multi",
            "min_selections": 1,
            "max_selections": 2,
            "options": [
                _option("white", "White"),
                _option("black", "Black"),
                _option("red", "Red", 200),
                _option("reflective", "Reflective", 400),
            ],
        },
        {
            "code": "heel_tab",
            "label": "Heel tab engraving",
            "kind": "text",
            "max_length": 12,
            "charset": ["letters", "digits", "space"],
            "case": "upper",
            "price_delta": {"EUR": 900},
        },
    ],
    "constraints": [
        # The gum sole is glued differently: reflective laces do not fit its eyelets.
        {"kind": "excludes", "if": "sole.gum", "then": "laces.reflective"},
        # Engraving is laser-burnt: only the black heel tab of the black sole takes it.
        {"kind": "requires", "if": "heel_tab", "then": "sole.black"},
    ],
    "lead_time_days": 10,
    "made_to_order": True,
}

TOTE: dict[str, Any] = {
    "groups": [
        {
            "code": "fabric",
            "label": "Fabric",
            "kind": "choice",
            "required": True,
            "options": [
                _option("natural", "Natural canvas"),
                _option("black", "Black canvas", 300),
                _option("denim", "Recycled denim", 700),
            ],
        },
        {
            "code": "monogram",
            "label": "Monogram",
            "kind": "text",
            "min_length": 1,
            "max_length": 3,
            "charset": ["ascii_letters"],
            "case": "upper",
            "price_delta": {"EUR": 500},
        },
        {
            "code": "thread",
            "label": "Monogram thread",
            "kind": "choice",
            "options": [
                _option("gold", "Gold", 200),
                _option("white", "White"),
                _option("navy", "Navy"),
            ],
        },
    ],
    "constraints": [
        {"kind": "requires", "if": "monogram", "then": "thread"},
        {"kind": "requires", "if": "thread", "then": "monogram"},
        {"kind": "excludes", "if": "fabric.natural", "then": "thread.white"},
    ],
    "lead_time_days": 3,
    "made_to_order": False,
}

JACKET: dict[str, Any] = {
    "groups": [
        {
            "code": "lining",
            "label": "Lining",
            "kind": "choice",
            "required": True,
            "options": [
                _option("standard", "Standard mesh"),
                _option("fleece", "Fleece", 1500),
                _option("insulated", "Recycled insulation", 2500),
            ],
        },
        {
            "code": "patches",
            "label": "Patches",
            "kind": "multi",
            "max_selections": 3,
            "options": [
                _option("flag", "Amsterdam flag", 350),
                _option("bike", "Bicycle", 350),
                _option("tulip", "Tulip", 350),
                _option("canal", "Canal house", 350, available=False),
            ],
        },
        {
            "code": "name_label",
            "label": "Name label",
            "kind": "text",
            "max_length": 20,
            "charset": ["letters", "space", "punctuation"],
        },
    ],
    "constraints": [
        # Patches are sewn through the lining: the insulated one would lose its loft.
        {"kind": "excludes", "if": "lining.insulated", "then": "patches"},
    ],
    "lead_time_days": 14,
    "made_to_order": True,
}

TSHIRT: dict[str, Any] = {
    "groups": [
        {
            "code": "print",
            "label": "Front print",
            "kind": "choice",
            "options": [
                _option("canal", "Canal houses", 600),
                _option("bike", "Bicycle", 600),
                _option("none", "No print"),
            ],
        },
        {
            "code": "back_text",
            "label": "Back text",
            "kind": "text",
            "max_length": 16,
            "charset": ["letters", "digits", "space", "punctuation"],
            "price_delta": {"EUR": 800},
        },
    ],
    "constraints": [{"kind": "excludes", "if": "print.none", "then": "back_text"}],
    "lead_time_days": 5,
    "made_to_order": True,
}

# (title word, spec, how many products)
PLAN: list[tuple[str, dict[str, Any], int]] = [
    ("Sneakers", SNEAKERS, 2),
    ("Tote Bag", TOTE, 1),
    ("Jacket", JACKET, 1),
    ("T-Shirt", TSHIRT, 1),
]


def seed(
    db: Database, rng: random.Random, *, merchant_ids: Collection[uuid.UUID] | None = None
) -> dict[str, int]:
    """Make 5 demo products customisable (of ``merchant_ids`` only, when given); returns
    counts for the demo summary."""
    made = 0
    made_to_order = 0
    taken: set[uuid.UUID] = set()
    for word, raw, count in PLAN:
        spec = CustomisationSpec.model_validate(raw)
        with db.reading() as s:
            candidates = [
                (pid, mid, current)
                for pid, mid, current in s.execute(
                    select(Product.id, Product.merchant_id, Product.customisation)
                    .where(Product.status == ProductStatus.ACTIVE, Product.title.contains(word))
                    .order_by(Product.id)
                )
                if pid not in taken and (merchant_ids is None or mid in merchant_ids)
            ]
        rng.shuffle(candidates)
        candidates.sort(key=lambda c: c[2] is None)  # a re-run keeps the ones it made
        for product_id, merchant_id, current in candidates[:count]:
            taken.add(product_id)
            if current is None:
                with db.transaction() as s:
                    customisation.set_customisation(s, merchant_id, product_id, spec)
            made += 1
            made_to_order += spec.made_to_order
    return {"customisable_products": made, "made_to_order_products": made_to_order}
