"""The fitting-room demo seed: rooms in stores with a fitting zone, sample sessions, and
nothing twice."""

from __future__ import annotations

import random

from sqlalchemy import select

from plaza.o2o.fitting import demo
from plaza.o2o.fitting.models import FittingRoom, FittingSession
from tests.o2o.fitting_helpers import make_store


def test_seed_adds_rooms_and_sessions_once(db, factory):
    store = make_store(db, factory)
    factory.user()  # a shopper
    first = demo.seed(db, random.Random(7))
    assert first["fitting_rooms"] >= demo.ROOMS_PER_ZONE
    with db.reading() as s:
        rooms = list(s.scalars(select(FittingRoom).where(FittingRoom.zone_id == store.zone_id)))
        sessions = list(
            s.scalars(select(FittingSession).where(FittingSession.location_id == store.location_id))
        )
    assert sorted(r.code for r in rooms) == ["FIT-1", "FIT-2", "FIT-3"]
    assert {fs.status.value for fs in sessions} == {"open", "closed"}
    again = demo.seed(db, random.Random(7))
    assert again == {"fitting_rooms": 0, "fitting_sessions": 0, "size_requests": 0}
