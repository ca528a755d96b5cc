"""Helper E's test data: a merchant with store locations (coordinates, timezone), zones,
beacons; made through the services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from plaza.db import Database
from plaza.inventory import service as inventory
from plaza.inventory.models import LocationKind
from plaza.o2o.stores import service as stores
from plaza.o2o.stores.models import ZoneKind
from plaza.o2o.stores.schemas import ZoneIn
from plaza.personas.models import PersonaMembership, StrategicPersona
from plaza.privacy.models import ConsentState
from plaza.privacy.service import set_consent
from tests.factories import Factory, MerchantCtx, unique

# Known points: Amsterdam Centraal, Rotterdam Centraal, Paris (Notre-Dame), London.
AMSTERDAM = (52.3791, 4.9003)
ROTTERDAM = (51.9244, 4.4690)
PARIS = (48.8530, 2.3499)
LONDON = (51.5074, -0.1278)
ALL_WEEK = {d: [{"open": "00:00", "close": "24:00"}] for d in stores.WEEKDAYS}


@dataclass
class StoreWorld:
    merchant: MerchantCtx
    stores: dict[str, uuid.UUID] = field(default_factory=dict)
    zones: dict[str, uuid.UUID] = field(default_factory=dict)


def add_store(
    db: Database,
    merchant_id: uuid.UUID,
    point: tuple[float, float],
    *,
    name: str = "Store",
    timezone: str = "Europe/Amsterdam",
    kind: LocationKind = LocationKind.STORE,
) -> uuid.UUID:
    with db.transaction() as s:
        loc = inventory.create_location(
            s,
            merchant_id,
            code=unique("ST"),
            name=name,
            kind=kind,
            address_line1="1 Main Street",
            city="Amsterdam",
            country="NL",
            latitude=point[0],
            longitude=point[1],
            timezone=timezone,
        )
        return loc.id


def add_zone(
    db: Database,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    code: str = "ENTRANCE",
    kind: ZoneKind = ZoneKind.ENTRANCE,
) -> uuid.UUID:
    with db.transaction() as s:
        return stores.create_zone(
            s, merchant_id, store_id, ZoneIn(code=code, name=code.title(), kind=kind)
        ).id


def store_world(db: Database, factory: Factory) -> StoreWorld:
    m = factory.merchant()
    world = StoreWorld(m)
    world.stores["ams"] = add_store(db, m.id, AMSTERDAM, name="Amsterdam")
    world.zones["entrance"] = add_zone(db, m.id, world.stores["ams"], "ENTRANCE")
    world.zones["mens"] = add_zone(db, m.id, world.stores["ams"], "MENS", ZoneKind.MENSWEAR)
    return world


def consent(db: Database, user_id: uuid.UUID, *purposes: str) -> None:
    with db.transaction() as s:
        for purpose in purposes:
            set_consent(s, user_id, purpose, ConsentState.GRANTED)


def persona_with(db: Database, merchant_id: uuid.UUID, *user_ids: uuid.UUID) -> uuid.UUID:
    """A strategic persona of the merchant with these members (rows written directly:
    the segments engine is another helper's, and only membership matters here)."""
    with db.transaction() as s:
        persona = StrategicPersona(merchant_id=merchant_id, name=unique("persona"), rule={})
        s.add(persona)
        s.flush()
        for u in user_ids:
            s.add(PersonaMembership(persona_id=persona.id, user_id=u, merchant_id=merchant_id))
        return persona.id
