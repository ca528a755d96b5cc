"""Demo hook: strategic personas for six merchants of the demo street, then a full rebuild.

Runs after the demo world and the customers' side of personas (profiles, customer
personas, consents, activity: ``plaza.personas.customer.demo``) are loaded. Personas are
made through the service, exactly as marketing staff would through the API. A merchant
that already has personas is left alone, so running it twice adds nothing."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import func, select

from plaza.db import Database
from plaza.identity.service import list_merchants
from plaza.personas.models import PersonaMembership, StrategicPersona
from plaza.personas.segments import service
from plaza.personas.segments.schemas import PersonaIn

OUTDOOR = ["outerwear", "hiking", "camping"]
BIG_CITIES = ["Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Haarlem"]


def _prop(name: str, op: str, value: Any = None) -> dict[str, Any]:
    out = {"type": "property", "property": name, "operator": op}
    return out if value is None else {**out, "value": value}


def _bought(within: int | None = None, **flt: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "past_event", "event": "purchase"}
    if within:
        out["within_days"] = within
    return {**out, "filter": flt} if flt else out


def _count(
    event: str, op: str, value: int, within: int | None = None, **flt: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "event_count", "event": event, "operator": op, "value": value}
    if within:
        out["within_days"] = within
    return {**out, "filter": flt} if flt else out


def _all(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"type": "all", "conditions": list(conditions)}


def _any(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"type": "any", "conditions": list(conditions)}


PREFERS_GREEN = _any(
    _prop("persona.materials_prefer", "contains_any", ["recycled", "organic"]),
    _prop("persona.sustainability", "in", ["prefer", "only"]),
)
# Into recycled: says so, or bought or looked at recycled products from us.
INTO_RECYCLED = _any(
    PREFERS_GREEN,
    _bought(tag="recycled"),
    {"type": "past_event", "event": "view", "filter": {"tag": "recycled"}},
)
# Bought, or at least looked at, outdoor gear from us in the last 90 days.
INTO_OUTDOOR = _any(
    _bought(90, category=OUTDOOR),
    {"type": "past_event", "event": "view", "within_days": 90, "filter": {"category": OUTDOOR}},
)

# merchant slug -> personas (name, description, ideal customer, rule)
PERSONAS: dict[str, list[dict[str, Any]]] = {
    "noorderlicht": [
        {
            "name": "Young urban outdoor",
            "description": "Under-30s who bought or browsed our outdoor gear this quarter "
            "and care about recycled materials. Our core for the autumn rain campaign.",
            "ideal_customer": {
                "summary": "Cycles to class or work in all weathers, hikes in the Veluwe "
                "or the Ardennes a few weekends a year.",
                "goals": ["stay dry on the bike", "own fewer, better things"],
                "pains": ["jackets that wet out after a season", "greenwashing"],
                "channels": ["instagram", "store", "newsletter"],
                "age_range": {"min": 18, "max": 30},
                "quote": "If it cannot be repaired, I do not want it.",
            },
            "rule": _all(_prop("profile.age", "between", [18, 30]), INTO_OUTDOOR, INTO_RECYCLED),
        },
        {
            "name": "Rain-ready commuters",
            "description": "City customers who bought waterproofs from us in the last year.",
            "ideal_customer": {
                "summary": "Commutes by bike in a Randstad city.",
                "goals": ["arrive dry"],
                "pains": ["bulky rainwear"],
                "channels": ["store"],
            },
            "rule": _all(
                _prop("profile.city", "in", BIG_CITIES),
                _count("purchase", "gte", 1, 365, tag="waterproof"),
            ),
        },
        {
            "name": "Lapsed loyalists",
            "description": "Have bought from us, but not in the last six weeks.",
            "ideal_customer": {"summary": "Knows the brand; needs a reason to come back."},
            "rule": _all(
                _prop("customer.orders_count", "gte", 1),
                _prop("customer.days_since_last_purchase", "gte", 45),
            ),
        },
    ],
    "merino-moss": [
        {
            "name": "Merino devotees",
            "description": "Repeat merino buyers, or customers who say they prefer merino.",
            "ideal_customer": {
                "summary": "Wears wool all year; knows what a micron is.",
                "goals": ["warm without sweating"],
                "channels": ["newsletter"],
            },
            "rule": _any(
                _count("purchase", "gte", 2, tag="merino"),
                _prop("persona.materials_prefer", "contains", "merino"),
            ),
        },
        {
            "name": "Gift shoppers",
            "description": "Shop for partners and friends, with a budget in mind.",
            "ideal_customer": {
                "summary": "Looking for a present that feels personal.",
                "pains": ["guessing sizes"],
                "channels": ["instagram"],
            },
            "rule": _all(
                _prop("persona.relation", "in", ["partner", "friends"]),
                _prop("persona.budget", "exists"),
            ),
        },
    ],
    "canal-street-market": [
        {
            "name": "Conscious makers' fans",
            "description": "Prefer sustainable goods and bought from the market lately.",
            "ideal_customer": {
                "summary": "Buys from independent makers on purpose.",
                "goals": ["know who made it"],
                "channels": ["instagram", "markets"],
            },
            "rule": _all(
                _prop("persona.sustainability", "in", ["prefer", "only"]),
                _bought(120),
            ),
        },
        {
            "name": "Browsers, not buyers yet",
            "description": "Looked at our makers' products this month but never bought here.",
            "ideal_customer": {"summary": "Curious; a first-order offer may convert them."},
            "rule": _all(
                {"type": "past_event", "event": "view", "within_days": 30},
                {"type": "not", "condition": _bought()},
            ),
        },
    ],
    "loop-sneakers": [
        {
            "name": "Sneakerheads",
            "description": "Two or more sneaker purchases in the last year.",
            "ideal_customer": {
                "summary": "Follows small European labels; resoles rather than replaces.",
                "channels": ["instagram", "store"],
                "age_range": {"min": 20, "max": 40},
            },
            "rule": _count("purchase", "gte", 2, 365, category="sneakers"),
        },
        {
            "name": "Parents of growing feet",
            "description": "Customers with a child persona in children's shoe sizes.",
            "ideal_customer": {
                "summary": "Buys new shoes every season as feet grow.",
                "pains": ["outgrown before worn out"],
            },
            "rule": _all(
                _prop("persona.relation", "equals", "child"),
                _prop("persona.sizes", "contains_any", [str(n) for n in range(28, 39)]),
            ),
        },
    ],
    "huis-en-haard": [
        {
            "name": "New nest makers",
            "description": "Joined Plaza within the year and furnish with us.",
            "ideal_customer": {
                "summary": "Just moved into a small Amsterdam flat.",
                "goals": ["make it feel like home"],
                "channels": ["pinterest", "store"],
            },
            "rule": _all(
                _prop("customer.days_since_signup", "lte", 365),
                _count("purchase", "gte", 1, category=["kitchen", "textiles", "decor"]),
            ),
        },
        {
            "name": "Big spenders",
            "description": "EUR 150 or more spent with us.",
            "ideal_customer": {"summary": "Buys sets, not single pieces."},
            "rule": _prop("customer.total_spent", "gte", 15000),
        },
    ],
    "zeep-en-zo": [
        {
            "name": "Refill regulars",
            "description": "Two or more orders: the people who bring their bottles back.",
            "ideal_customer": {"summary": "Refills every month.", "channels": ["store"]},
            "rule": _prop("customer.orders_count", "gte", 2),
        },
        {
            "name": "Organic and vegan",
            "description": "Prefer organic or vegan, or bought it from us.",
            "ideal_customer": {"summary": "Reads every label.", "goals": ["no palm oil"]},
            "rule": _any(
                _prop("persona.materials_prefer", "contains_any", ["organic", "vegan"]),
                _bought(tag=["organic", "vegan"]),
            ),
        },
    ],
}


def seed(db: Database, rng: random.Random) -> dict[str, int]:
    """Add strategic personas to the demo merchants and compute their members; returns
    counts. ``rng`` is unused: the personas are fixed content."""
    del rng
    created = 0
    with db.reading() as s:
        merchants = {m.slug: m.id for m in list_merchants(s, limit=10_000)}
    for slug, personas in PERSONAS.items():
        merchant_id = merchants.get(slug)
        if merchant_id is None:
            continue
        with db.transaction() as s:
            if s.scalar(
                select(StrategicPersona.id).where(StrategicPersona.merchant_id == merchant_id)
            ):
                continue
            for spec in personas:
                service.create_persona(s, merchant_id, PersonaIn.model_validate(spec))
                created += 1
    # The full rebuild, one merchant at a time.
    for merchant_id in merchants.values():
        with db.transaction() as s:
            service.rebuild_merchant(s, merchant_id)
    with db.reading() as s:
        members = s.scalar(select(func.count()).select_from(PersonaMembership)) or 0
        total = s.scalar(select(func.count()).select_from(StrategicPersona)) or 0
    return {
        "strategic_personas": total,
        "strategic_personas_created": created,
        "persona_memberships": members,
    }
