"""The periodic job that releases lapsed reservations, as the dispatcher runs it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from plaza.db import utcnow
from plaza.inventory import service
from plaza.inventory.models import Reservation, ReservationStatus
from plaza.inventory.subscribers import expire_reservations_job
from plaza.worker import housekeeping_hooks

from .conftest import level, stock


def test_job_is_registered_with_the_dispatcher():
    assert expire_reservations_job in housekeeping_hooks()


def test_job_releases_expired_holds_and_leaves_live_ones(db, merchant_id, warehouse, variant_id):
    stock(db, merchant_id, variant_id, warehouse.id, 5)
    with db.transaction() as s:
        for ref, qty in (("gone-1", 2), ("gone-2", 1), ("live", 1)):
            service.reserve(
                s,
                merchant_id=merchant_id,
                variant_id=variant_id,
                quantity=qty,
                reference=ref,
                ttl_seconds=600,
            )
        s.execute(
            update(Reservation)
            .where(Reservation.reference.in_(["gone-1", "gone-2"]))
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    assert level(db, merchant_id, variant_id, warehouse.id) == (5, 4)

    expire_reservations_job(db)

    assert level(db, merchant_id, variant_id, warehouse.id) == (5, 1)
    with db.reading() as s:
        assert {r: service.reservations_for(s, r)[0].status for r in ("gone-1", "live")} == {
            "gone-1": ReservationStatus.EXPIRED,
            "live": ReservationStatus.ACTIVE,
        }
        assert not service.has_due(s)
    expire_reservations_job(db)  # an idle tick changes nothing
    assert level(db, merchant_id, variant_id, warehouse.id) == (5, 1)
