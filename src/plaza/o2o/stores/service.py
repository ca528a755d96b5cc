"""Stores: profiles (hours in the store's timezone, exceptions, services), zones, staff,
and the public store finder and "find in store" (nearest first, by haversine).

The front door for other O2O areas: ``get_store``, ``list_zones``, ``get_zone``,
``store_timezone``, ``is_open``.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plaza.catalog import service as catalog
from plaza.db import utcnow
from plaza.errors import ProblemError, not_found, problem_type
from plaza.events import emit, event_type
from plaza.identity import service as identity
from plaza.identity.auth import Principal
from plaza.identity.models import MerchantRole
from plaza.inventory import queries as inventory_queries
from plaza.inventory import service as inventory
from plaza.inventory.models import Location, LocationKind
from plaza.o2o.stores.geo import bounding_box, haversine_km
from plaza.o2o.stores.models import StaffRole, StoreProfile, StoreStaff, StoreZone
from plaza.o2o.stores.schemas import (
    WEEKDAYS,
    HoursExceptionOut,
    IntervalOut,
    PublicStoreOut,
    PublicZoneOut,
    StaffIn,
    StoreDetailOut,
    StoreProfileIn,
    StoreProfileOut,
    VariantStoreOut,
    VariantStores,
    ZoneIn,
    ZonePatch,
    minutes,
)

# "Find in store" shows an exact count only for few units (urgency, and it hides how
# deep a store's stock is); above this it says "in_stock".
QUANTITY_EXACT_UP_TO = 5
MAX_ZONES_PER_STORE = 200

NOT_STORE_STAFF = problem_type(
    "not-store-staff",
    "Not staff of this store",
    403,
    "The store has staff assigned (`PUT /merchants/{m}/stores/{id}/staff/{user_id}`); only "
    "they and the merchant's admins act at its counter.",
)
NOT_A_STORE = problem_type(
    "not-a-store",
    "Location is not a store",
    409,
    "Store profiles, zones and staff belong to locations of kind `store`.",
)
ZONE_CODE_TAKEN = problem_type(
    "zone-code-taken", "Zone code taken", 409, "The store already has a zone with this code."
)
NOT_A_MEMBER = problem_type(
    "not-a-merchant-member",
    "Not a member of the merchant",
    422,
    "Store staff must first be staff or admins of the merchant (`PUT /merchants/{id}/members`).",
)

STORE_PROFILE_CHANGED = event_type(
    "o2o.store_profile_changed", "A store's hours, services or phone changed; payload: store_id."
)
ZONE_CHANGED = event_type(
    "o2o.zone_changed",
    "A store zone was created, changed or deleted; payload: store_id, zone_id, change.",
)


# --- the store itself ---------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    """A store location with its O2O profile (None until one is saved)."""

    location: Location
    profile: StoreProfile | None

    @property
    def id(self) -> uuid.UUID:
        return self.location.id

    @property
    def merchant_id(self) -> uuid.UUID:
        return self.location.merchant_id

    @property
    def timezone(self) -> str:
        return store_timezone(self.location, self.profile)


def store_timezone(location: Location, profile: StoreProfile | None) -> str:
    return (profile.timezone if profile is not None else None) or location.timezone or "UTC"


def tzinfo(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # validated on write; be safe
        return zoneinfo.ZoneInfo("UTC")


def local_now(timezone: str, now: dt.datetime | None = None) -> dt.datetime:
    return (now or utcnow()).astimezone(tzinfo(timezone))


def get_store(s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID) -> Store:
    """The merchant's store (404 for another merchant's or a missing location, 409
    ``not-a-store`` for a warehouse)."""
    loc = inventory.get_location(s, merchant_id, location_id)
    if loc.kind != LocationKind.STORE:
        raise ProblemError(NOT_A_STORE, f"location {location_id} is a {loc.kind.value}")
    return Store(loc, s.get(StoreProfile, location_id))


def save_profile(
    s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID, data: StoreProfileIn
) -> Store:
    store = get_store(s, merchant_id, location_id)
    profile = store.profile or StoreProfile(location_id=location_id, merchant_id=merchant_id)
    profile.timezone = data.timezone
    profile.phone = data.phone
    profile.services = sorted(v.value for v in data.services)
    hours: dict[str, Any] = {str(k): v for k, v in data.hours.items()}
    profile.hours = {
        day: [i.model_dump() for i in sorted(hours[day], key=lambda i: i.open)]
        for day in WEEKDAYS
        if hours.get(day)
    }
    profile.exceptions = [
        {**e.model_dump(mode="json"), "hours": [i.model_dump() for i in e.hours]}
        for e in sorted(data.exceptions, key=lambda e: e.date)
    ]
    s.add(profile)
    s.flush()
    emit(
        s,
        STORE_PROFILE_CHANGED,
        aggregate_type="store",
        aggregate_id=location_id,
        merchant_id=merchant_id,
        payload={"store_id": str(location_id)},
    )
    return Store(store.location, profile)


# --- hours ----------------------------------------------------------------------------------


def hours_on(profile: StoreProfile | None, day: dt.date) -> list[dict[str, str]] | None:
    """The opening intervals of a local date (exceptions first); None without hours."""
    if profile is None or (not profile.hours and not profile.exceptions):
        return None
    for exc in profile.exceptions or []:
        if exc.get("date") == day.isoformat():
            return [] if exc.get("closed") else list(exc.get("hours") or [])
    return list((profile.hours or {}).get(WEEKDAYS[day.weekday()], []))


def is_open(store: Store, now: dt.datetime | None = None) -> bool | None:
    """Open at ``now`` (default: this instant) in the store's own timezone; None when the
    store has no hours. Intervals are [open, close): closing time itself is closed."""
    local = local_now(store.timezone, now)
    intervals = hours_on(store.profile, local.date())
    if intervals is None:
        return None
    at = local.hour * 60 + local.minute
    return any(minutes(i["open"]) <= at < minutes(i["close"]) for i in intervals)


def _intervals(raw: Iterable[dict[str, str]]) -> list[IntervalOut]:
    return [IntervalOut(open=i["open"], close=i["close"]) for i in raw]


def _exceptions(profile: StoreProfile | None) -> list[HoursExceptionOut]:
    if profile is None:
        return []
    return [
        HoursExceptionOut(
            date=dt.date.fromisoformat(e["date"]),
            closed=bool(e.get("closed")),
            hours=_intervals(e.get("hours") or []),
            note=e.get("note", ""),
        )
        for e in profile.exceptions or []
    ]


def profile_view(store: Store, now: dt.datetime | None = None) -> StoreProfileOut:
    p = store.profile
    return StoreProfileOut(
        location_id=store.id,
        timezone=store.timezone,
        phone=p.phone if p else "",
        services=list(p.services) if p else [],
        hours={d: _intervals(v) for d, v in (p.hours if p else {}).items()},
        exceptions=_exceptions(p),
        open_now=is_open(store, now),
        updated_at=p.updated_at if p else None,
    )


def public_view(
    store: Store, now: dt.datetime | None = None, distance_km: float | None = None
) -> PublicStoreOut:
    loc, p = store.location, store.profile
    today = hours_on(p, local_now(store.timezone, now).date())
    return PublicStoreOut(
        id=loc.id,
        merchant_id=loc.merchant_id,
        name=loc.name,
        address_line1=loc.address_line1,
        postal_code=loc.postal_code,
        city=loc.city,
        country=loc.country,
        latitude=loc.latitude,
        longitude=loc.longitude,
        timezone=store.timezone,
        phone=p.phone if p else "",
        services=list(p.services) if p else [],
        hours={d: _intervals(v) for d, v in (p.hours if p else {}).items()},
        open_now=is_open(store, now),
        today=_intervals(today) if today is not None else None,
        distance_km=round(distance_km, 3) if distance_km is not None else None,
    )


def _profiles(s: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, StoreProfile]:
    ids = list(ids)
    if not ids:
        return {}
    rows = s.scalars(select(StoreProfile).where(StoreProfile.location_id.in_(ids)))
    return {p.location_id: p for p in rows}


def _distance(loc: Location, lat: float | None, lon: float | None) -> float | None:
    if lat is None or lon is None or loc.latitude is None or loc.longitude is None:
        return None
    return haversine_km(lat, lon, loc.latitude, loc.longitude)


def nearby_stores(
    s: Session,
    *,
    lat: float | None,
    lon: float | None,
    radius_km: float,
    limit: int,
    now: dt.datetime | None = None,
) -> list[PublicStoreOut]:
    """Public store finder: with a point, stores within ``radius_km`` nearest first;
    without one, every store by name."""
    box = bounding_box(lat, lon, radius_km) if lat is not None and lon is not None else None
    locations = inventory_queries.public_stores(s, box=box)
    found: list[tuple[float, Location]] = []
    for loc in locations:
        d = _distance(loc, lat, lon)
        if box is not None and (d is None or d > radius_km):
            continue
        found.append((d if d is not None else 0.0, loc))
    if box is not None:
        found.sort(key=lambda x: (x[0], str(x[1].id)))
    found = found[:limit]
    profiles = _profiles(s, [loc.id for _, loc in found])
    return [
        public_view(Store(loc, profiles.get(loc.id)), now, d if box is not None else None)
        for d, loc in found
    ]


def public_store(s: Session, location_id: uuid.UUID) -> StoreDetailOut:
    loc = inventory_queries.public_store(s, location_id)
    if loc is None:
        raise not_found("store", location_id)
    store = Store(loc, s.get(StoreProfile, loc.id))
    zones = list_zones(s, loc.id)
    return StoreDetailOut(
        **public_view(store).model_dump(),
        exceptions=_exceptions(store.profile),
        zones=[PublicZoneOut(code=z.code, name=z.name, kind=z.kind) for z in zones],
    )


def variant_stores(
    s: Session,
    variant_id: uuid.UUID,
    *,
    lat: float,
    lon: float,
    radius_km: float,
    limit: int,
    now: dt.datetime | None = None,
) -> VariantStores:
    """Stores near (lat, lon) with available units of the variant, nearest first."""
    if catalog.variant_merchant(s, variant_id) is None:
        raise not_found("variant", variant_id)
    rows = inventory_queries.store_stock(s, variant_id, box=bounding_box(lat, lon, radius_km))
    near: list[tuple[float, Location, int]] = []
    for loc, available in rows:
        d = _distance(loc, lat, lon)
        if d is not None and d <= radius_km:
            near.append((d, loc, available))
    near.sort(key=lambda x: (x[0], str(x[1].id)))
    near = near[:limit]
    profiles = _profiles(s, [loc.id for _, loc, _ in near])
    items = []
    for d, loc, available in near:
        low = available <= QUANTITY_EXACT_UP_TO
        items.append(
            VariantStoreOut(
                store=public_view(Store(loc, profiles.get(loc.id)), now, d),
                stock="low" if low else "in_stock",
                quantity=available if low else None,
            )
        )
    return VariantStores(
        variant_id=variant_id, quantity_exact_up_to=QUANTITY_EXACT_UP_TO, items=items
    )


# --- zones ------------------------------------------------------------------------------------


def list_zones(s: Session, location_id: uuid.UUID) -> list[StoreZone]:
    """The store's zones by code (callers have checked the store is theirs)."""
    return list(
        s.scalars(
            select(StoreZone)
            .where(StoreZone.location_id == location_id)
            .order_by(StoreZone.code, StoreZone.id)
        )
    )


def get_zone(s: Session, zone_id: uuid.UUID, merchant_id: uuid.UUID | None = None) -> StoreZone:
    """A zone by id; with ``merchant_id`` another merchant's zone is 404 too."""
    q = select(StoreZone).where(StoreZone.id == zone_id)
    if merchant_id is not None:
        q = q.where(StoreZone.merchant_id == merchant_id)
    zone = s.scalar(q)
    if zone is None:
        raise not_found("zone", zone_id)
    return zone


def zones_by_id(s: Session, zone_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, StoreZone]:
    ids = list(set(zone_ids))
    if not ids:
        return {}
    return {z.id: z for z in s.scalars(select(StoreZone).where(StoreZone.id.in_(ids)))}


def _zone_event(s: Session, zone: StoreZone, change: str) -> None:
    emit(
        s,
        ZONE_CHANGED,
        aggregate_type="store_zone",
        aggregate_id=zone.id,
        merchant_id=zone.merchant_id,
        payload={"store_id": str(zone.location_id), "zone_id": str(zone.id), "change": change},
    )


def _flush_zone(s: Session, code: str) -> None:
    try:
        with s.begin_nested():
            s.flush()
    except IntegrityError as exc:  # a concurrent create took the code
        raise ProblemError(ZONE_CODE_TAKEN, code=code) from exc


def _code_taken(s: Session, location_id: uuid.UUID, code: str, own: uuid.UUID | None) -> bool:
    q = select(StoreZone.id).where(StoreZone.location_id == location_id, StoreZone.code == code)
    if own is not None:
        q = q.where(StoreZone.id != own)
    return s.scalar(q) is not None


def create_zone(
    s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID, data: ZoneIn
) -> StoreZone:
    get_store(s, merchant_id, location_id)
    if _code_taken(s, location_id, data.code, None):
        raise ProblemError(ZONE_CODE_TAKEN, code=data.code)
    if len(list_zones(s, location_id)) >= MAX_ZONES_PER_STORE:
        raise ProblemError(ZONE_CODE_TAKEN, f"a store has at most {MAX_ZONES_PER_STORE} zones")
    zone = StoreZone(
        merchant_id=merchant_id,
        location_id=location_id,
        code=data.code,
        name=data.name,
        kind=data.kind,
    )
    s.add(zone)
    _flush_zone(s, data.code)
    _zone_event(s, zone, "created")
    return zone


def store_zone(
    s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID, zone_id: uuid.UUID
) -> StoreZone:
    get_store(s, merchant_id, location_id)
    zone = get_zone(s, zone_id, merchant_id)
    if zone.location_id != location_id:
        raise not_found("zone", zone_id)
    return zone


def update_zone(
    s: Session,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    zone_id: uuid.UUID,
    data: ZonePatch,
) -> StoreZone:
    zone = store_zone(s, merchant_id, location_id, zone_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "code" in changes and _code_taken(s, location_id, changes["code"], zone.id):
        raise ProblemError(ZONE_CODE_TAKEN, code=changes["code"])
    for key, value in changes.items():
        setattr(zone, key, value)
    _flush_zone(s, zone.code)
    _zone_event(s, zone, "updated")
    return zone


def delete_zone(
    s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID, zone_id: uuid.UUID
) -> None:
    """Remove a zone; its beacons, screens and offers go with it (foreign keys cascade)."""
    zone = store_zone(s, merchant_id, location_id, zone_id)
    _zone_event(s, zone, "deleted")
    s.delete(zone)
    s.flush()


# --- staff ------------------------------------------------------------------------------------


def list_staff(s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID) -> list[StoreStaff]:
    get_store(s, merchant_id, location_id)
    return list(
        s.scalars(
            select(StoreStaff)
            .where(StoreStaff.location_id == location_id)
            .order_by(StoreStaff.since, StoreStaff.user_id)
        )
    )


def set_staff(
    s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID, user_id: uuid.UUID, data: StaffIn
) -> StoreStaff:
    """Assign a merchant member to the store (or change their store role)."""
    get_store(s, merchant_id, location_id)
    members = {m.user_id: m.role for m, _ in identity.list_members(s, merchant_id)}
    if user_id not in members:
        raise ProblemError(NOT_A_MEMBER, f"user {user_id} is not a member of the merchant")
    row = s.get(StoreStaff, (location_id, user_id))
    if row is None:
        row = StoreStaff(location_id=location_id, user_id=user_id, merchant_id=merchant_id)
        s.add(row)
    row.role = StaffRole(data.role)
    s.flush()
    return row


def remove_staff(
    s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    get_store(s, merchant_id, location_id)
    done = s.execute(
        delete(StoreStaff).where(
            StoreStaff.location_id == location_id, StoreStaff.user_id == user_id
        )
    )
    if not getattr(done, "rowcount", 0):
        raise not_found("store staff member", user_id)


def is_store_staff(s: Session, location_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return s.get(StoreStaff, (location_id, user_id)) is not None


def require_store_staff(
    s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID, principal: Principal
) -> None:
    """Staff assigned to a store act at its counter; a store with no one assigned is open
    to all of the merchant's staff. Merchant admins, platform admins and the merchant's API
    keys (already scoped by the route's access rule) always pass."""
    if (
        principal.kind != "user"
        or principal.user_id is None
        or principal.is_platform_admin
        or principal.memberships.get(merchant_id) == MerchantRole.ADMIN
    ):
        return
    staffed = s.scalar(select(StoreStaff.user_id).where(StoreStaff.location_id == location_id))
    if staffed is not None and not is_store_staff(s, location_id, principal.user_id):
        raise ProblemError(
            NOT_STORE_STAFF, "you are not assigned to this store", store_id=str(location_id)
        )
