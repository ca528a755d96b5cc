"""The personas context's front door for other contexts: read-only lookups of who is in
which of a merchant's strategic personas. Callers decide about consent (a persona
membership is personalisation: check ``personalisation`` or the purpose they serve)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from plaza.personas.models import PersonaMembership, PersonaStatus, StrategicPersona


def member_personas(
    s: Session, merchant_id: uuid.UUID, user_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    """For each user, the ids of the merchant's *active* strategic personas they are in
    (users in none are absent from the answer)."""
    ids = list(set(user_ids))
    out: dict[uuid.UUID, set[uuid.UUID]] = {}
    if not ids:
        return out
    rows = s.execute(
        select(PersonaMembership.user_id, PersonaMembership.persona_id)
        .join(StrategicPersona, StrategicPersona.id == PersonaMembership.persona_id)
        .where(
            PersonaMembership.merchant_id == merchant_id,
            PersonaMembership.user_id.in_(ids),
            StrategicPersona.status == PersonaStatus.ACTIVE,
        )
    )
    for user_id, persona_id in rows:
        out.setdefault(user_id, set()).add(persona_id)
    return out


def persona_ids(s: Session, merchant_id: uuid.UUID) -> set[uuid.UUID]:
    """Ids of all the merchant's strategic personas (any status): to validate references."""
    return set(
        s.scalars(select(StrategicPersona.id).where(StrategicPersona.merchant_id == merchant_id))
    )
