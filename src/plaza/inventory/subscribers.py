"""Inventory's periodic work: releasing stock held by reservations that expired."""

from __future__ import annotations

from plaza.db import Database
from plaza.inventory import service
from plaza.subscribers import HOUSEKEEPING


def expire_reservations_job(db: Database) -> None:
    """Release lapsed holds in batches; an idle tick is one indexed read, no write lock."""
    for _ in range(20):  # bounded per tick, so a backlog cannot starve the dispatcher
        with db.reading() as s:
            if not service.has_due(s):
                return
        with db.transaction() as s:
            if not service.expire_due(s):
                return


if expire_reservations_job not in HOUSEKEEPING:
    HOUSEKEEPING.append(expire_reservations_job)
