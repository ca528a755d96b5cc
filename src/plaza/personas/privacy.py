"""Personas' part of data rights: the customer's profile, personas, activity and the
merchants' segments (strategic personas) they are in.

Export: the profile, every persona, every activity row, and each segment membership with
the segment's name and merchant. Erasure deletes all of it (nothing here must be kept by
law: purchases stay on the orders ordering keeps). Merchants' segment definitions
(``strategic_personas``) describe target groups, not people: not personal.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from plaza.errors import ProblemError
from plaza.identity import service as identity
from plaza.personas.activity import activity_of
from plaza.personas.customer import service
from plaza.personas.models import (
    CustomerActivity,
    CustomerPersona,
    CustomerProfile,
    PersonaMembership,
    StrategicPersona,
)
from plaza.privacy import registry
from plaza.privacy.registry import Subject


def _merchant_name(s: Session, merchant_id: Any, cache: dict[Any, str | None]) -> str | None:
    if merchant_id not in cache:
        try:
            cache[merchant_id] = identity.get_merchant(s, merchant_id).name
        except ProblemError:  # the merchant is gone; its id still says where it was
            cache[merchant_id] = None
    return cache[merchant_id]


def export_personas(s: Session, subject: Subject) -> dict[str, Any]:
    profile = service.get_profile(s, subject.user_id)
    memberships = s.execute(
        select(PersonaMembership, StrategicPersona.name)
        .join(StrategicPersona, StrategicPersona.id == PersonaMembership.persona_id)
        .where(PersonaMembership.user_id == subject.user_id)
        .order_by(PersonaMembership.since, PersonaMembership.persona_id)
    ).all()
    merchants: dict[Any, str | None] = {}
    return {
        "profile": (
            service.profile_view(profile).model_dump(mode="json") if profile is not None else None
        ),
        "personas": [
            service.persona_view(p).model_dump(mode="json")
            for p in service.list_personas(s, subject.user_id)
        ],
        "activity": [
            {
                "kind": a.kind.value,
                "product_id": a.product_id,
                "merchant_id": a.merchant_id,
                "category": a.category,
                "tags": list(a.tags or []),
                "quantity": a.quantity,
                "amount": a.amount,
                "currency": a.currency,
                "occurred_at": a.occurred_at,
            }
            for a in activity_of(s, subject.user_id)
        ],
        # Which merchants' target groups (segments) the customer is counted in.
        "segment_memberships": [
            {
                "persona": name,
                "persona_id": m.persona_id,
                "merchant_id": m.merchant_id,
                "merchant": _merchant_name(s, m.merchant_id, merchants),
                "since": m.since,
            }
            for m, name in memberships
        ],
    }


def erase_personas(s: Session, subject: Subject) -> dict[str, int]:
    personas = service.list_personas(s, subject.user_id)
    # Persona names are text the customer typed ("Emma", "my son"): scrub them elsewhere too.
    subject.remember(*(p.name for p in personas))
    # Segment sizes are kept live by the segments module; leaving one must count too.
    left = list(
        s.scalars(
            select(PersonaMembership.persona_id).where(PersonaMembership.user_id == subject.user_id)
        )
    )
    if left:
        s.execute(
            update(StrategicPersona)
            .where(StrategicPersona.id.in_(left))
            .values(
                member_count=case(
                    (StrategicPersona.member_count > 0, StrategicPersona.member_count - 1),
                    else_=0,
                )
            )
            .execution_options(synchronize_session=False)
        )
    counts: dict[str, int] = {}
    for label, model in (
        ("memberships_deleted", PersonaMembership),
        ("activity_deleted", CustomerActivity),
        ("personas_deleted", CustomerPersona),
        ("profiles_deleted", CustomerProfile),
    ):
        result = s.execute(delete(model).where(model.user_id == subject.user_id))
        counts[label] = int(getattr(result, "rowcount", 0) or 0)
    s.flush()
    return counts


registry.register(
    "personas",
    export=export_personas,
    erase=erase_personas,
    tables=["customer_profiles", "customer_personas", "customer_activity", "persona_memberships"],
    not_personal={
        "strategic_personas": "a merchant's segment definitions; `name` names a target group",
    },
)
