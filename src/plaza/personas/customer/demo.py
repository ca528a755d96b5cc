"""Demo hook: profiles, customer personas, consents and tracked views for the demo world's
customers, then customer activity rebuilt from the demo orders.

Runs on an already loaded demo world (``plaza.demo``): customers are the accounts that are
neither merchant staff nor platform admins. A database that already holds profiles or
customer personas is left alone, so running it twice adds nothing."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from plaza.catalog.features import product_features, sellable_product_ids
from plaza.db import Database, utcnow
from plaza.identity.models import Membership, User
from plaza.personas import activity
from plaza.personas.customer import service
from plaza.personas.customer.schemas import PersonaIn, ProfileIn
from plaza.personas.models import ActivityKind, CustomerActivity, CustomerPersona, CustomerProfile
from plaza.privacy import service as privacy

PROFILE_SHARE = 0.85
PERSONA_SHARE = 0.5
CONSENT_SHARE = 0.8
CITIES = (
    ("Amsterdam", "10"), ("Rotterdam", "30"), ("Utrecht", "35"), ("Den Haag", "25"),
    ("Eindhoven", "56"), ("Groningen", "97"), ("Haarlem", "20"), ("Leiden", "23"),
    ("Nijmegen", "65"), ("Zwolle", "80"), ("Maastricht", "62"), ("Delft", "26"),
)  # fmt: skip
GENDERS = ("woman", "man", "woman", "man", "non-binary", None)
COLOURS = ("black", "navy", "olive", "sand", "stone", "rust", "forest", "charcoal", "moss")
LOUD = ("signal orange", "dusty pink", "burgundy", "ochre")
STYLES = ("classic", "relaxed", "boxy", "oversized", "lightweight", "heavyweight", "chunky")
LETTERS = ("XS", "S", "M", "L", "XL", "XXL")


def _customers(s: Any) -> list[uuid.UUID]:
    staff = select(Membership.user_id)
    return list(
        s.scalars(
            select(User.id)
            .where(User.id.not_in(staff), User.is_platform_admin.is_(False), User.is_active)
            .order_by(User.email)
        )
    )


def _profile(rng: random.Random) -> ProfileIn:
    city, prefix = rng.choice(CITIES)
    born = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randint(0, 47 * 365))
    return ProfileIn(
        birth_date=born,
        gender=rng.choice(GENDERS),
        country="NL",
        city=city,
        postal_code=f"{prefix}{rng.randint(11, 99)} {rng.choice(('AB', 'CL', 'GT', 'KP', 'RW'))}",
    )


def _me(rng: random.Random) -> dict[str, Any]:
    green = rng.random() < 0.45
    i = rng.randint(1, 4)
    body: dict[str, Any] = {
        "name": "Me",
        "relation": "self",
        "is_default": True,
        "sizes": [LETTERS[i], str(rng.randint(38, 45)), rng.choice(("39-42", "43-46"))],
        "fit": rng.choice(("slim", "regular", "relaxed", None)),
        "colours_prefer": rng.sample(COLOURS, rng.randint(1, 3)),
        "colours_avoid": rng.sample(LOUD, rng.randint(0, 2)),
        "styles": rng.sample(STYLES, rng.randint(0, 2)),
        "materials_prefer": (
            rng.sample(("recycled", "organic", "linen", "merino"), rng.randint(1, 2))
            if green
            else rng.sample(("merino", "linen", "cotton"), rng.randint(0, 1))
        ),
        "materials_avoid": rng.sample(("polyester", "wool"), rng.randint(0, 1)),
        "sustainability": rng.choice(("prefer", "only")) if green else "any",
    }
    if rng.random() < 0.4:
        body["budget"] = {"amount": rng.choice((4000, 6000, 8000, 12000, 20000)), "currency": "EUR"}
    return body


def _other(rng: random.Random, taken: set[str]) -> dict[str, Any] | None:
    choices: list[dict[str, Any]] = [
        {
            "name": "My son",
            "relation": "child",
            "sizes": [rng.choice(("XS", "S")), str(rng.randint(34, 38)), "35-38"],
            "fit": "relaxed",
            "colours_avoid": ["dusty pink"],
            "sustainability": "prefer",
            "budget": {"amount": rng.choice((3000, 5000)), "currency": "EUR"},
        },
        {
            "name": "My daughter",
            "relation": "child",
            "sizes": [rng.choice(("XS", "S")), str(rng.randint(33, 37)), "35-38"],
            "colours_prefer": ["dusty pink", "ochre"],
            "materials_prefer": ["organic"],
            "sustainability": "only",
        },
        {
            "name": "Partner",
            "relation": "partner",
            "sizes": [rng.choice(LETTERS[1:]), str(rng.randint(37, 46))],
            "colours_prefer": rng.sample(COLOURS, 2),
            "styles": ["classic"],
        },
        {
            "name": "Hiking",
            "relation": "self",
            "styles": ["lightweight"],
            "materials_prefer": ["merino", "recycled"],
            "sustainability": "prefer",
        },
        {
            "name": "Gifts",
            "relation": "friends",
            "materials_prefer": ["handmade"],
            "budget": {"amount": rng.choice((2500, 4000)), "currency": "EUR"},
        },
    ]
    options = [c for c in choices if c["name"] not in taken]
    return rng.choice(options) if options else None


def seed(db: Database, rng: random.Random) -> dict[str, int]:
    """Add the customers' side of personas to the demo world; returns counts."""
    counts = {"profiles": 0, "customer_personas": 0, "personalisation_consents": 0}
    with db.transaction() as s:
        customers = _customers(s)
        seeded = s.scalar(select(CustomerProfile.user_id).limit(1)) or s.scalar(
            select(CustomerPersona.user_id).limit(1)
        )
        if seeded is not None:  # seeded before (or real customers' data): add nothing
            return {**counts, "activity_from_orders": 0, "tracked_views": 0}
        consenting: list[uuid.UUID] = []
        for user_id in customers:
            if rng.random() < PROFILE_SHARE:
                service.put_profile(s, user_id, _profile(rng))
                counts["profiles"] += 1
            if rng.random() < PERSONA_SHARE:
                bodies = [_me(rng)]
                for _ in range(rng.randint(0, 2)):
                    extra = _other(rng, {b["name"] for b in bodies})
                    if extra is not None:
                        bodies.append(extra)
                for body in bodies:
                    service.create_persona(s, user_id, PersonaIn.model_validate(body))
                counts["customer_personas"] += len(bodies)
            if rng.random() < CONSENT_SHARE:
                privacy.grant(s, user_id, "personalisation", source="app")
                consenting.append(user_id)
        counts["personalisation_consents"] = len(consenting)

    counts["activity_from_orders"] = activity.backfill(db)
    counts["tracked_views"] = _views(db, rng, consenting)
    return counts


def _views(db: Database, rng: random.Random, customers: list[uuid.UUID]) -> int:
    """Views and cart adds of consenting customers over the last 30 days, mostly in the
    categories they buy from (so the recommender has a taste signal beyond orders)."""
    now = utcnow()
    with db.transaction() as s:
        features = product_features(s, sellable_product_ids(s))
        by_category: dict[str | None, list[uuid.UUID]] = defaultdict(list)
        for pid, f in sorted(features.items()):
            by_category[f.category].append(pid)
        everything = sorted(features)
        if not everything:
            return 0
        bought: dict[uuid.UUID, list[str | None]] = defaultdict(list)
        for user_id, category in s.execute(
            select(CustomerActivity.user_id, CustomerActivity.category).where(
                CustomerActivity.kind == ActivityKind.PURCHASE,
                CustomerActivity.user_id.in_(customers),
            )
        ):
            bought[user_id].append(category)
        rows: list[dict[str, Any]] = []
        for user_id in customers:
            categories = sorted({c for c in bought[user_id] if by_category.get(c)}, key=str)
            for _ in range(rng.randint(2, 12)):
                if categories and rng.random() < 0.75:
                    pid = rng.choice(by_category[rng.choice(categories)])
                else:
                    pid = rng.choice(everything)
                f = features[pid]
                kind = ActivityKind.CART_ADD if rng.random() < 0.2 else ActivityKind.VIEW
                rows.append(
                    {
                        "user_id": user_id,
                        "kind": kind,
                        "merchant_id": f.merchant_id,
                        "product_id": pid,
                        "category": f.category,
                        "tags": [t.lower() for t in f.tags],
                        "quantity": 1,
                        "amount": 0,
                        "currency": None,
                        "source_ref": f"track:{user_id.hex}:{uuid.UUID(int=rng.getrandbits(128))}",
                        "occurred_at": now - dt.timedelta(minutes=rng.randint(5, 29 * 24 * 60)),
                    }
                )
        return activity.record(s, rows)
