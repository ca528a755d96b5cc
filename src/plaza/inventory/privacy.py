"""Inventory's part of data rights: stock movements name the staff member who made them.

Locations hold business addresses, not people's, and reservations point at orders, so
the only personal reference is ``stock_movements.actor`` (``user:<id>``). Export lists
the movements a person made; erasure rewrites their actor to ``erased`` (the audit log
keeps the pseudonymous account id for accountability).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plaza.inventory.models import StockMovement
from plaza.privacy import registry
from plaza.privacy.registry import ERASED, Subject


def export_inventory(s: Session, subject: Subject) -> dict[str, Any]:
    rows = s.scalars(
        select(StockMovement).where(StockMovement.actor == subject.actor).order_by(StockMovement.id)
    )
    return {
        "stock_movements_made": [
            {
                "at": m.at,
                "merchant_id": m.merchant_id,
                "variant_id": m.variant_id,
                "location_id": m.location_id,
                "delta_on_hand": m.delta_on_hand,
                "delta_reserved": m.delta_reserved,
                "reason": m.reason.value,
                "reference": m.reference,
            }
            for m in rows
        ]
    }


def erase_inventory(s: Session, subject: Subject) -> dict[str, int]:
    result = s.execute(
        update(StockMovement).where(StockMovement.actor == subject.actor).values(actor=ERASED)
    )
    return {"stock_movements_pseudonymised": int(getattr(result, "rowcount", 0) or 0)}


registry.register(
    "inventory",
    export=export_inventory,
    erase=erase_inventory,
    tables=["stock_movements"],
    not_personal={"locations": "warehouses and stores: business premises, not homes"},
)
