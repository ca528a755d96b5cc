"""HTTP endpoints of stores: the back-office profile, zones and staff of a store, and the
public store finder and "find in store"."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import VALIDATION, ProblemError
from plaza.idempotency import fingerprint, idempotency_key, idempotent_write
from plaza.identity.auth import MerchantAccess, Principal, Public
from plaza.identity.models import MerchantRole
from plaza.o2o.stores import service
from plaza.o2o.stores.schemas import (
    NearbyStores,
    StaffIn,
    StaffList,
    StaffOut,
    StoreDetailOut,
    StoreProfileIn,
    StoreProfileOut,
    VariantStores,
    ZoneIn,
    ZoneList,
    ZoneOut,
    ZonePatch,
)

router = APIRouter(tags=["o2o: stores"])
can_read = MerchantAccess(MerchantRole.STAFF, "inventory:read")
can_write = MerchantAccess(MerchantRole.STAFF, "inventory:write")
admin_only = MerchantAccess(MerchantRole.ADMIN)
STORE = "/merchants/{merchant_id}/stores/{location_id}"
Lat = Query(None, ge=-90, le=90, allow_inf_nan=False, description="Latitude, decimal degrees.")
Lon = Query(None, ge=-180, le=180, allow_inf_nan=False, description="Longitude, decimal degrees.")
MAX_RADIUS_KM = 500.0


def _point(lat: float | None, lon: float | None) -> None:
    if (lat is None) != (lon is None):
        raise ProblemError(
            VALIDATION,
            "lat and lon are given together",
            errors=[{"loc": ["query", "lat" if lat is None else "lon"], "msg": "missing"}],
        )


# --- back office ------------------------------------------------------------------------------


@router.get(STORE, response_model=StoreProfileOut)
def get_profile(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> StoreProfileOut:
    """The store's profile (empty until saved): hours, exceptions, phone, services, and
    whether it is open now in its own timezone."""
    with db.reading() as s:
        return service.profile_view(service.get_store(s, merchant_id, location_id))


@router.put(STORE, response_model=StoreProfileOut)
def put_profile(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    body: StoreProfileIn,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> StoreProfileOut:
    """Replace the store's profile. Hours are local times in the store's timezone
    (`timezone`, default the location's); overlapping intervals, a close not after its
    open, or an unknown timezone are `422 validation-error`. 409 `not-a-store` for a
    warehouse."""
    with db.transaction() as s:
        return service.profile_view(service.save_profile(s, merchant_id, location_id, body))


@router.get(f"{STORE}/zones", response_model=ZoneList)
def list_zones(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> ZoneList:
    """The store's zones, by code (a store has at most 200)."""
    with db.reading() as s:
        service.get_store(s, merchant_id, location_id)
        return ZoneList(
            items=[ZoneOut.model_validate(z) for z in service.list_zones(s, location_id)]
        )


@router.post(f"{STORE}/zones", status_code=201, response_model=ZoneOut)
def create_zone(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    body: ZoneIn,
    request: Request,
    key: str | None = Depends(idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(can_write),
) -> JSONResponse:
    """Add a zone (entrance, menswear, fitting rooms…). `code` is unique in the store
    (409 `zone-code-taken`)."""
    return idempotent_write(
        db,
        scope=p.actor,
        key=key,
        fp=fingerprint("POST", request.url.path, body),
        action=lambda s: ZoneOut.model_validate(
            service.create_zone(s, merchant_id, location_id, body)
        ),
    )


@router.get(f"{STORE}/zones/{{zone_id}}", response_model=ZoneOut)
def get_zone(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    zone_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> ZoneOut:
    """One zone of the store."""
    with db.reading() as s:
        zone = service.store_zone(s, merchant_id, location_id, zone_id)
        return ZoneOut.model_validate(zone)


@router.patch(f"{STORE}/zones/{{zone_id}}", response_model=ZoneOut)
def patch_zone(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    zone_id: uuid.UUID,
    body: ZonePatch,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> ZoneOut:
    """Rename, re-code or re-kind a zone."""
    with db.transaction() as s:
        return ZoneOut.model_validate(
            service.update_zone(s, merchant_id, location_id, zone_id, body)
        )


@router.delete(f"{STORE}/zones/{{zone_id}}", status_code=204)
def delete_zone(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    zone_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> Response:
    """Remove a zone with its beacons, screens and proximity offers."""
    with db.transaction() as s:
        service.delete_zone(s, merchant_id, location_id, zone_id)
    return Response(status_code=204)


@router.get(f"{STORE}/staff", response_model=StaffList)
def list_staff(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> StaffList:
    """Merchant members assigned to this store."""
    with db.reading() as s:
        rows = service.list_staff(s, merchant_id, location_id)
        return StaffList(items=[StaffOut.model_validate(r) for r in rows])


@router.put(f"{STORE}/staff/{{user_id}}", response_model=StaffOut)
def put_staff(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    user_id: uuid.UUID,
    body: StaffIn,
    db: Database = Depends(get_db),
    _: Principal = Depends(admin_only),
) -> StaffOut:
    """Assign a member of the merchant to the store (422 `not-a-merchant-member` for
    anyone else)."""
    with db.transaction() as s:
        return StaffOut.model_validate(
            service.set_staff(s, merchant_id, location_id, user_id, body)
        )


@router.delete(f"{STORE}/staff/{{user_id}}", status_code=204)
def delete_staff(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    user_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(admin_only),
) -> Response:
    """Unassign a member from the store."""
    with db.transaction() as s:
        service.remove_staff(s, merchant_id, location_id, user_id)
    return Response(status_code=204)


# --- public -----------------------------------------------------------------------------------


@router.get("/stores", response_model=NearbyStores)
def nearby_stores(
    lat: float | None = Lat,
    lon: float | None = Lon,
    radius_km: float = Query(10.0, gt=0, le=MAX_RADIUS_KM, allow_inf_nan=False),
    limit: int = Query(20, ge=1, le=100),
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> NearbyStores:
    """Stores of open merchants. With `lat` and `lon`: those within `radius_km`, nearest
    first (great-circle distance), with `distance_km`; without: all, by name. `open_now`
    is computed in each store's own timezone."""
    _point(lat, lon)
    with db.reading() as s:
        return NearbyStores(
            items=service.nearby_stores(s, lat=lat, lon=lon, radius_km=radius_km, limit=limit)
        )


@router.get("/stores/{location_id}", response_model=StoreDetailOut)
def get_public_store(
    location_id: uuid.UUID, db: Database = Depends(get_db), _: Principal = Depends(Public())
) -> StoreDetailOut:
    """One store: address, hours and exceptions, services, zones, open now."""
    with db.reading() as s:
        return service.public_store(s, location_id)


@router.get("/variants/{variant_id}/stores", response_model=VariantStores)
def find_in_store(
    variant_id: uuid.UUID,
    lat: float = Query(ge=-90, le=90, allow_inf_nan=False, description="Latitude."),
    lon: float = Query(ge=-180, le=180, allow_inf_nan=False, description="Longitude."),
    radius_km: float = Query(25.0, gt=0, le=MAX_RADIUS_KM, allow_inf_nan=False),
    limit: int = Query(10, ge=1, le=50),
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> VariantStores:
    """Find in store: stores near the point with units of this variant available now
    (on hand minus active reservations), nearest first. `stock` is `low` (with the
    exact `quantity`, at most `quantity_exact_up_to`) or `in_stock`."""
    with db.reading() as s:
        return service.variant_stores(
            s, variant_id, lat=lat, lon=lon, radius_km=radius_km, limit=limit
        )
