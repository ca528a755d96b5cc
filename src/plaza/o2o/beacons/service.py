"""Beacons: registration to store zones, with identifiers unique platform-wide.

Front door of the area: visits (``visits.py``) and proximity offers (``offers.py``) are
re-exported here for the API and for other areas.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plaza.errors import ProblemError, problem_type
from plaza.o2o.beacons.models import Beacon, BeaconKind
from plaza.o2o.beacons.schemas import BeaconIn, BeaconOut, BeaconPatch, EddystoneUidId, IBeaconId
from plaza.o2o.stores import service as stores
from plaza.tenancy import get_owned

BEACON_TAKEN = problem_type(
    "beacon-identifier-taken",
    "Beacon identifier taken",
    409,
    "Another beacon (of any merchant) already broadcasts this iBeacon UUID/major/minor or "
    "Eddystone-UID namespace/instance; identifiers are unique platform-wide.",
)


def parse_identifier(beacon: Beacon) -> IBeaconId | EddystoneUidId:
    """The structured identifier back from its canonical string."""
    parts = beacon.identifier.split(":")
    if beacon.kind == BeaconKind.IBEACON:
        return IBeaconId(
            kind="ibeacon", uuid=uuid.UUID(parts[1]), major=int(parts[2]), minor=int(parts[3])
        )
    return EddystoneUidId(kind="eddystone_uid", namespace=parts[1], instance=parts[2])


def beacon_view(b: Beacon) -> BeaconOut:
    return BeaconOut(
        id=b.id,
        kind=b.kind,
        identifier=b.identifier,
        beacon=parse_identifier(b),
        store_id=b.location_id,
        zone_id=b.zone_id,
        label=b.label,
        is_active=b.is_active,
        created_at=b.created_at,
    )


def _taken(s: Session, identifier: str, own: uuid.UUID | None = None) -> bool:
    q = select(Beacon.id).where(Beacon.identifier == identifier)
    if own is not None:
        q = q.where(Beacon.id != own)
    return s.scalar(q) is not None


def create_beacon(s: Session, merchant_id: uuid.UUID, data: BeaconIn) -> Beacon:
    zone = stores.get_zone(s, data.zone_id, merchant_id)
    identifier = data.beacon.identifier()
    if _taken(s, identifier):
        raise ProblemError(BEACON_TAKEN, identifier=identifier)
    beacon = Beacon(
        merchant_id=merchant_id,
        location_id=zone.location_id,
        zone_id=zone.id,
        kind=BeaconKind(data.beacon.kind),
        identifier=identifier,
        label=data.label,
        is_active=data.is_active,
    )
    try:
        with s.begin_nested():
            s.add(beacon)
            s.flush()
    except IntegrityError as exc:  # registered concurrently
        raise ProblemError(BEACON_TAKEN, identifier=identifier) from exc
    return beacon


def get_beacon(s: Session, merchant_id: uuid.UUID, beacon_id: uuid.UUID) -> Beacon:
    return get_owned(s, Beacon, merchant_id, beacon_id, "beacon")


def list_beacons(
    s: Session,
    merchant_id: uuid.UUID,
    *,
    limit: int,
    after: uuid.UUID | None = None,
    store_id: uuid.UUID | None = None,
    zone_id: uuid.UUID | None = None,
) -> list[Beacon]:
    q = select(Beacon).where(Beacon.merchant_id == merchant_id)
    if store_id is not None:
        q = q.where(Beacon.location_id == store_id)
    if zone_id is not None:
        q = q.where(Beacon.zone_id == zone_id)
    if after is not None:
        q = q.where(Beacon.id > after)
    return list(s.scalars(q.order_by(Beacon.id).limit(limit)))


def update_beacon(
    s: Session, merchant_id: uuid.UUID, beacon_id: uuid.UUID, data: BeaconPatch
) -> Beacon:
    b = get_beacon(s, merchant_id, beacon_id)
    if data.zone_id is not None:
        zone = stores.get_zone(s, data.zone_id, merchant_id)
        b.zone_id, b.location_id = zone.id, zone.location_id
    if data.label is not None:
        b.label = data.label
    if data.is_active is not None:
        b.is_active = data.is_active
    s.flush()
    return b


def delete_beacon(s: Session, merchant_id: uuid.UUID, beacon_id: uuid.UUID) -> None:
    s.delete(get_beacon(s, merchant_id, beacon_id))
    s.flush()


def beacons_by_identifier(s: Session, identifiers: list[str]) -> dict[str, Beacon]:
    """Active beacons among ``identifiers`` (any merchant): what sightings resolve to."""
    if not identifiers:
        return {}
    rows = s.scalars(
        select(Beacon).where(Beacon.identifier.in_(set(identifiers)), Beacon.is_active.is_(True))
    )
    return {b.identifier: b for b in rows}
