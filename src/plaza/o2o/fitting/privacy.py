"""Fitting rooms' part of data rights: a session names the shopper who opened it
(``customer_id``) and actors (``user:<id>``) who opened, closed or handled things.

Export lists the person's sessions with what they tried and bought. Erasure unlinks the
sessions from the account (tried/bought stay as anonymous store statistics) and rewrites
their actor strings to ``erased``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plaza.o2o.fitting.models import FittingItem, FittingSession, SizeRequest
from plaza.privacy import registry
from plaza.privacy.registry import ERASED, Subject


def export_fitting(s: Session, subject: Subject) -> dict[str, Any]:
    sessions = list(
        s.scalars(
            select(FittingSession)
            .where(FittingSession.customer_id == subject.user_id)
            .order_by(FittingSession.id)
        )
    )
    out = []
    for fs in sessions:
        items = s.scalars(select(FittingItem).where(FittingItem.session_id == fs.id))
        out.append(
            {
                "id": fs.id,
                "store_id": fs.location_id,
                "opened_at": fs.opened_at,
                "closed_at": fs.closed_at,
                "items": [
                    {"variant_id": i.variant_id, "added_at": i.added_at, "bought": i.bought}
                    for i in items
                ],
            }
        )
    return {"fitting_sessions": out}


def erase_fitting(s: Session, subject: Subject) -> dict[str, int]:
    unlinked = s.execute(
        update(FittingSession)
        .where(FittingSession.customer_id == subject.user_id)
        .values(customer_id=None)
    )
    n = int(getattr(unlinked, "rowcount", 0) or 0)
    for column in (FittingSession.opened_by, FittingSession.closed_by):
        s.execute(update(FittingSession).where(column == subject.actor).values({column: ERASED}))
    for column in (SizeRequest.requested_by, SizeRequest.handled_by):
        s.execute(update(SizeRequest).where(column == subject.actor).values({column: ERASED}))
    return {"fitting_sessions_unlinked": n}


registry.register(
    "o2o.fitting",
    export=export_fitting,
    erase=erase_fitting,
    tables=["fitting_sessions", "fitting_requests"],
    not_personal={"fitting_rooms": "a room's name is a label on a door, not a person's"},
)
