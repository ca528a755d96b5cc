"""Stores' part of data rights: the stores a person was assigned to work in.

Export lists the assignments; erasure removes them (they only say where someone works).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plaza.o2o.stores.models import StoreStaff
from plaza.privacy import registry
from plaza.privacy.registry import Subject


def export_stores(s: Session, subject: Subject) -> dict[str, Any]:
    rows = s.scalars(
        select(StoreStaff).where(StoreStaff.user_id == subject.user_id).order_by(StoreStaff.since)
    )
    return {
        "store_assignments": [
            {
                "store_id": r.location_id,
                "merchant_id": r.merchant_id,
                "role": r.role.value,
                "since": r.since,
            }
            for r in rows
        ]
    }


def erase_stores(s: Session, subject: Subject) -> dict[str, int]:
    result = s.execute(delete(StoreStaff).where(StoreStaff.user_id == subject.user_id))
    return {"store_assignments_deleted": int(getattr(result, "rowcount", 0) or 0)}


registry.register(
    "o2o-stores",
    export=export_stores,
    erase=erase_stores,
    tables=["store_staff"],
    not_personal={
        "store_profiles": "`phone` is the store's public business number",
        "store_zones": "`name` names an area of a shop floor",
    },
)
