"""Demo data for smart fitting rooms: rooms in every demo store that has a fitting zone,
one finished session (tried vs bought) and one open session with a size request waiting
in the staff queue, so the flows can be tried right after ``plaza demo``.

Runs on the loaded demo world after the stores seed (which creates the zones); it adds
nothing where no store has a fitting zone and says so. Safe to run twice.
"""

from __future__ import annotations

import random
import uuid

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from plaza.catalog import lookup as catalog
from plaza.db import Database
from plaza.identity.auth import Principal
from plaza.identity.models import Membership, MerchantRole, User
from plaza.inventory import service as inventory
from plaza.inventory.models import Location, LocationKind
from plaza.o2o import codes
from plaza.o2o.fitting import service
from plaza.o2o.fitting.models import FittingRoom, FittingSession, RequestStatus
from plaza.o2o.stores import service as stores
from plaza.o2o.stores.models import ZoneKind

ROOMS_PER_ZONE = 3


def _shopper(s: Session, rng: random.Random) -> Principal | None:
    staff = select(Membership.user_id)
    ids = list(
        s.scalars(
            select(User.id)
            .where(User.is_active, ~User.is_platform_admin, User.id.not_in(staff))
            .order_by(User.id)
            .limit(200)
        )
    )
    if not ids:
        return None
    uid = rng.choice(ids)
    return Principal(kind="user", user_id=uid)


def _staff(s: Session, merchant_id: uuid.UUID) -> Principal:
    uid = s.scalar(select(Membership.user_id).where(Membership.merchant_id == merchant_id).limit(1))
    return Principal(kind="user", user_id=uid, memberships={merchant_id: MerchantRole.STAFF})


def _garments(
    s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID
) -> list[catalog.VariantRef]:
    """Live variants with a GTIN in stock at the store, of products with several variants
    (so there are other sizes and colours to show)."""
    levels = inventory.list_stock(s, merchant_id, location_id=location_id, limit=400)
    ids = [lv.variant_id for lv in levels if lv.on_hand - lv.reserved > 0]
    refs = catalog.variant_refs(s, ids)
    siblings = catalog.product_variants(s, {r.product_id for r in refs.values()})
    return [
        r for r in refs.values() if r.live and r.gtin and len(siblings.get(r.product_id, [])) > 1
    ]


def _sessions(
    s: Session, rng: random.Random, rooms: list[FittingRoom], counts: dict[str, int]
) -> None:
    room = rooms[0]
    garments = _garments(s, room.merchant_id, room.location_id)
    shopper = _shopper(s, rng)
    if len(garments) < 3 or shopper is None:
        return
    staff = _staff(s, room.merchant_id)
    serials = iter(rng.sample(range(1, 10**6), 8))

    def tag(ref: catalog.VariantRef) -> str:
        assert ref.gtin is not None
        return codes.sgtin96_hex(ref.gtin, next(serials))

    picked = rng.sample(garments, 3)
    # A finished visit: two garments tried, a size brought, one bought at the till.
    done = service.open_session(s, shopper, room.id, [tag(picked[0]), tag(picked[1])])
    sibling = next(
        (
            v
            for v in catalog.product_variants(s, [picked[0].product_id])[picked[0].product_id]
            if v.variant_id != picked[0].variant_id
        ),
        None,
    )
    if sibling is not None:
        req = service.request_size(s, shopper, done, sibling.variant_id, None, "one size up")
        service.staff_move(
            s, staff, room.merchant_id, room.location_id, req.id, RequestStatus.PICKING
        )
        service.staff_move(
            s, staff, room.merchant_id, room.location_id, req.id, RequestStatus.DELIVERED
        )
        counts["size_requests"] += 1
    service.close_session(s, staff, done, [picked[1].variant_id])
    counts["fitting_sessions"] += 1
    # Someone in room 2 now, waiting for another size: the staff queue has work.
    if len(rooms) > 1:
        now = service.open_session(s, shopper, rooms[1].id, [tag(picked[2])])
        other = next(
            (
                v
                for v in catalog.product_variants(s, [picked[2].product_id])[picked[2].product_id]
                if v.variant_id != picked[2].variant_id
            ),
            None,
        )
        if other is not None:
            service.request_size(s, shopper, now, other.variant_id, None, "")
            counts["size_requests"] += 1
        counts["fitting_sessions"] += 1


def seed(db: Database, rng: random.Random) -> dict[str, int]:
    counts = {"fitting_rooms": 0, "fitting_sessions": 0, "size_requests": 0}
    with db.transaction() as s:
        locations = list(
            s.scalars(
                select(Location)
                .where(Location.kind == LocationKind.STORE, Location.is_active)
                .order_by(Location.id)
            )
        )
        zoned = 0
        for loc in locations:
            zones = [z for z in stores.list_zones(s, loc.id) if z.kind == ZoneKind.FITTING]
            for zone in zones:
                zoned += 1
                rooms = list(
                    s.scalars(
                        select(FittingRoom)
                        .where(FittingRoom.zone_id == zone.id)
                        .order_by(FittingRoom.code)
                    )
                )
                taken = {r.code for r in rooms}
                for n in range(1, ROOMS_PER_ZONE + 1):
                    code = f"{zone.code}-{n}"[:32]
                    if code in taken:
                        continue
                    rooms.append(
                        service.create_room(
                            s,
                            loc.merchant_id,
                            loc.id,
                            zone_id=zone.id,
                            code=code,
                            name=f"Fitting room {n}",
                        )
                    )
                    counts["fitting_rooms"] += 1
                used = s.scalar(
                    select(FittingSession.id).where(FittingSession.location_id == loc.id).limit(1)
                )
                if used is None and rooms:
                    _sessions(s, rng, rooms, counts)
        if not zoned:
            Console(stderr=True).print(
                "[yellow]fitting rooms: no store has a fitting zone yet (seed the stores "
                "first); no rooms added[/]"
            )
    return counts
