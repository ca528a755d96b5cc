"""Demo: an iBeacon per store zone (one Eddystone-UID at each entrance too), and a few
proximity offers: coffee at the counter for everyone, and one for a strategic persona
when the demo has any."""

from __future__ import annotations

import datetime as dt
import random
import uuid

from sqlalchemy import select

from plaza.db import Database, utcnow
from plaza.o2o.beacons import offers, service
from plaza.o2o.beacons.models import Beacon
from plaza.o2o.beacons.schemas import BeaconIn, OfferIn
from plaza.o2o.stores.demo import demo_zones
from plaza.o2o.stores.models import ZoneKind
from plaza.personas.models import PersonaStatus, StrategicPersona

# One proximity UUID for the whole demo street; major = store, minor = zone.
DEMO_UUID = uuid.UUID("5a1a2a00-0000-4000-8000-00000000d3e0")


def seed(db: Database, rng: random.Random) -> dict[str, int]:
    zones = demo_zones(db)
    beacons = made_offers = 0
    stores = sorted({z.location_id for z in zones})
    now = utcnow()
    with db.transaction() as s:
        if s.scalar(select(Beacon.id).where(Beacon.identifier.like(f"ibeacon:{DEMO_UUID}:%"))):
            return {"beacons": 0, "proximity_offers": 0}  # seeded already
        for zone in zones:
            major = stores.index(zone.location_id) + 1
            minor = (
                sorted(z.code for z in zones if z.location_id == zone.location_id).index(zone.code)
                + 1
            )
            ids = [{"kind": "ibeacon", "uuid": str(DEMO_UUID), "major": major, "minor": minor}]
            if zone.kind == ZoneKind.ENTRANCE:
                ids.append(
                    {
                        "kind": "eddystone_uid",
                        "namespace": DEMO_UUID.hex[:20],
                        "instance": f"{major:012x}",
                    }
                )
            for beacon in ids:
                service.create_beacon(
                    s,
                    zone.merchant_id,
                    BeaconIn.model_validate(
                        {"beacon": beacon, "zone_id": str(zone.id), "label": zone.name}
                    ),
                )
                beacons += 1
        window = {
            "starts_at": now - dt.timedelta(days=1),
            "ends_at": now + dt.timedelta(days=90),
        }
        for zone in zones:
            if zone.kind == ZoneKind.COUNTER:
                offers.create_offer(
                    s,
                    zone.merchant_id,
                    OfferIn.model_validate(
                        {
                            "zone_id": str(zone.id),
                            "title": "Coffee on us",
                            "message": "Show this at the counter for a free coffee.",
                            "cap_per_customer": 1,
                            **window,
                        }
                    ),
                )
                made_offers += 1
            elif zone.kind == ZoneKind.ENTRANCE:
                persona = s.scalar(
                    select(StrategicPersona.id)
                    .where(
                        StrategicPersona.merchant_id == zone.merchant_id,
                        StrategicPersona.status == PersonaStatus.ACTIVE,
                    )
                    .order_by(StrategicPersona.created_at)
                    .limit(1)
                )
                if persona is None:
                    continue
                offers.create_offer(
                    s,
                    zone.merchant_id,
                    OfferIn.model_validate(
                        {
                            "zone_id": str(zone.id),
                            "title": "Welcome back",
                            "message": "10% off today's first purchase, just for you.",
                            "audience": "personas",
                            "persona_ids": [str(persona)],
                            "cap_per_customer": 2,
                            "daily_from": "10:00",
                            "daily_to": "18:00",
                            **window,
                        }
                    ),
                )
                made_offers += 1
    _ = rng
    return {"beacons": beacons, "proximity_offers": made_offers}
