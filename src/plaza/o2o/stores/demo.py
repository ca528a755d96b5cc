"""Demo: store profiles (hours, a holiday exception, services) and zones for every store
location of the loaded demo world (the shops on the Haarlemmerstraat)."""

from __future__ import annotations

import datetime as dt
import random

from plaza.db import Database
from plaza.inventory import queries as inventory_queries
from plaza.o2o.stores import service
from plaza.o2o.stores.models import StoreZone, ZoneKind
from plaza.o2o.stores.schemas import StoreProfileIn, ZoneIn

WEEKDAY_HOURS = [{"open": "10:00", "close": "18:00"}]
ZONES = (
    ("ENTRANCE", "Entrance", ZoneKind.ENTRANCE),
    ("WOMEN", "Womenswear", ZoneKind.WOMENSWEAR),
    ("MEN", "Menswear", ZoneKind.MENSWEAR),
    ("FIT", "Fitting rooms", ZoneKind.FITTING),
    ("COUNTER", "Counter", ZoneKind.COUNTER),
)


def seed(db: Database, rng: random.Random) -> dict[str, int]:
    """Idempotent: stores that already have a profile are left alone."""
    profiles = zones = 0
    with db.transaction() as s:
        for loc in inventory_queries.public_stores(s):
            store = service.get_store(s, loc.merchant_id, loc.id)
            if store.profile is not None:
                continue
            late = rng.choice(["20:00", "21:00"])
            hours = {d: WEEKDAY_HOURS for d in ("mon", "tue", "wed", "fri", "sat")}
            hours["thu"] = [{"open": "10:00", "close": late}]  # koopavond
            hours["sun"] = [{"open": "12:00", "close": "17:00"}]
            christmas = dt.date(dt.date.today().year, 12, 25)
            data = StoreProfileIn.model_validate(
                {
                    "phone": f"+31 20 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                    "services": ["click_collect", "fitting_rooms", "returns"],
                    "hours": hours,
                    "exceptions": [
                        {"date": christmas.isoformat(), "closed": True, "note": "Christmas"}
                    ],
                }
            )
            service.save_profile(s, loc.merchant_id, loc.id, data)
            profiles += 1
            existing = {z.code for z in service.list_zones(s, loc.id)}
            for code, name, kind in ZONES:
                if code not in existing:
                    service.create_zone(
                        s, loc.merchant_id, loc.id, ZoneIn(code=code, name=name, kind=kind)
                    )
                    zones += 1
    return {"store_profiles": profiles, "store_zones": zones}


def demo_zones(db: Database) -> list[StoreZone]:
    """Every zone of the demo stores (for the beacon and screen seeds)."""
    with db.reading() as s:
        out: list[StoreZone] = []
        for loc in inventory_queries.public_stores(s):
            out.extend(service.list_zones(s, loc.id))
        s.expunge_all()
        return out
