"""Click & collect's part of data rights. A pickup names no customer itself (the order
does, and ordering exports and erases orders); it names the staff who prepared and handed
it over (actor strings ``user:<id>``), rewritten to ``erased`` when that person is erased.
The code is never stored (only a keyed digest), so there is nothing of it to export."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plaza.o2o.collect.models import Pickup
from plaza.privacy import registry
from plaza.privacy.registry import ERASED, Subject


def export_pickups(s: Session, subject: Subject) -> dict[str, Any]:
    handled = s.scalars(
        select(Pickup)
        .where((Pickup.ready_by == subject.actor) | (Pickup.closed_by == subject.actor))
        .order_by(Pickup.order_id)
    )
    return {
        "pickups_handled": [
            {
                "order_id": p.order_id,
                "store_id": p.location_id,
                "state": p.state.value,
                "ready_at": p.ready_at,
                "closed_at": p.closed_at,
            }
            for p in handled
        ]
    }


def erase_pickups(s: Session, subject: Subject) -> dict[str, int]:
    n = 0
    for column in (Pickup.ready_by, Pickup.closed_by):
        done = s.execute(update(Pickup).where(column == subject.actor).values({column: ERASED}))
        n += int(getattr(done, "rowcount", 0) or 0)
    return {"pickup_actors_erased": n}


registry.register(
    "o2o.collect",
    export=export_pickups,
    erase=erase_pickups,
    tables=["o2o_pickups"],
)
