"""HTTP endpoints of the inventory context."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from plaza.catalog import service as catalog
from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import not_found
from plaza.idempotency import fingerprint, idempotency_key, idempotent_write
from plaza.identity.auth import MerchantAccess, Principal, Public
from plaza.identity.models import MerchantRole
from plaza.inventory import service
from plaza.inventory.models import LocationKind, MovementReason, ReservationStatus
from plaza.inventory.schemas import (
    AdjustmentIn,
    AdjustmentOut,
    AvailabilityOut,
    LocationIn,
    LocationOut,
    LocationPatch,
    MovementOut,
    ReservationOut,
    StockLevelOut,
    StockSetIn,
    StoreAvailabilityOut,
)
from plaza.pagination import (
    Page,
    PageParams,
    cursor_id,
    id_page,
)

router = APIRouter(tags=["inventory"])
can_read = MerchantAccess(MerchantRole.STAFF, "inventory:read")
can_write = MerchantAccess(MerchantRole.STAFF, "inventory:write")


def _merchant_variant(s: Session, merchant_id: uuid.UUID, variant_id: uuid.UUID) -> None:
    """A variant named under a merchant's path must be that merchant's (else 404)."""
    if catalog.variant_merchant(s, variant_id) != merchant_id:
        raise not_found("variant", variant_id)


# --- locations ---------------------------------------------------------------------------


@router.get("/merchants/{merchant_id}/locations", response_model=Page[LocationOut])
def list_locations(
    merchant_id: uuid.UUID,
    kind: LocationKind | None = None,
    is_active: bool | None = None,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> Page[LocationOut]:
    """The merchant's warehouses and stores, oldest first."""
    listing = f"locations:{merchant_id}"
    with db.reading() as s:
        rows = service.list_locations(
            s,
            merchant_id,
            limit=page.limit + 1,
            after=cursor_id(listing, page),
            kind=kind,
            is_active=is_active,
        )
        return id_page(listing, rows, page.limit, LocationOut.of)


@router.post("/merchants/{merchant_id}/locations", status_code=201, response_model=LocationOut)
def create_location(
    merchant_id: uuid.UUID,
    body: LocationIn,
    request: Request,
    key: str | None = Depends(idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(can_write),
) -> JSONResponse:
    """Add a warehouse or store. `code` is unique per merchant (409 `location-code-taken`)."""
    return idempotent_write(
        db,
        scope=p.actor,
        key=key,
        fp=fingerprint("POST", request.url.path, body),
        action=lambda s: LocationOut.of(service.create_location(s, merchant_id, **body.columns())),
    )


@router.get("/merchants/{merchant_id}/locations/{location_id}", response_model=LocationOut)
def get_location(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> LocationOut:
    """One location of the merchant."""
    with db.reading() as s:
        return LocationOut.of(service.get_location(s, merchant_id, location_id))


@router.patch("/merchants/{merchant_id}/locations/{location_id}", response_model=LocationOut)
def patch_location(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    body: LocationPatch,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> LocationOut:
    """Change a location; `is_active: false` stops it from being allocated new holds."""
    with db.transaction() as s:
        return LocationOut.of(service.update_location(s, merchant_id, location_id, body.changes()))


# --- stock -------------------------------------------------------------------------------


@router.get("/merchants/{merchant_id}/stock", response_model=Page[StockLevelOut])
def list_stock(
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    low_stock: bool = Query(
        False, description="Only levels at or below their location's low_stock_threshold."
    ),
    threshold: int | None = Query(
        None, ge=0, le=service.MAX_QUANTITY, description="Only levels with available ≤ this."
    ),
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> Page[StockLevelOut]:
    """Stock levels per variant and location."""
    listing = f"stock:{merchant_id}"
    with db.reading() as s:
        rows = service.list_stock(
            s,
            merchant_id,
            limit=page.limit + 1,
            after=cursor_id(listing, page),
            variant_id=variant_id,
            location_id=location_id,
            low_stock=low_stock,
            threshold=threshold,
        )
        return id_page(listing, rows, page.limit, StockLevelOut.model_validate)


@router.get("/merchants/{merchant_id}/stock/movements", response_model=Page[MovementOut])
def list_movements(
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    reason: MovementReason | None = None,
    reference: str | None = Query(None, max_length=100),
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> Page[MovementOut]:
    """The stock ledger, newest first: every change, its reason, reference and actor."""
    listing = f"movements:{merchant_id}"
    with db.reading() as s:
        rows = service.list_movements(
            s,
            merchant_id,
            limit=page.limit + 1,
            before=cursor_id(listing, page),
            variant_id=variant_id,
            location_id=location_id,
            reason=reason,
            reference=reference,
        )
        return id_page(listing, rows, page.limit, MovementOut.model_validate)


@router.post(
    "/merchants/{merchant_id}/stock/adjustments", status_code=201, response_model=AdjustmentOut
)
def adjust_stock(
    merchant_id: uuid.UUID,
    body: AdjustmentIn,
    request: Request,
    key: str | None = Depends(idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(can_write),
) -> JSONResponse:
    """Add or remove units relative to the current count (send an `Idempotency-Key`, so a
    retried receipt is not booked twice). 409 `stock-below-reserved` if it would remove
    held units."""

    def action(s: Session) -> AdjustmentOut:
        _merchant_variant(s, merchant_id, body.variant_id)
        level, movement = service.adjust_stock(
            s,
            merchant_id=merchant_id,
            variant_id=body.variant_id,
            location_id=body.location_id,
            delta=body.delta,
            reason=MovementReason(body.reason),
            reference=body.reference,
            actor=p.actor,
        )
        return AdjustmentOut(
            stock=StockLevelOut.model_validate(level),
            movement=MovementOut.model_validate(movement),
        )

    return idempotent_write(
        db,
        scope=p.actor,
        key=key,
        fp=fingerprint("POST", request.url.path, body),
        action=action,
    )


@router.get(
    "/merchants/{merchant_id}/stock/{variant_id}/{location_id}", response_model=StockLevelOut
)
def get_stock(
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    location_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> StockLevelOut:
    """One stock level (404 until stock was first recorded there)."""
    with db.reading() as s:
        level = service.get_level(s, merchant_id, variant_id, location_id)
        if level is None:
            raise not_found("stock level", f"{variant_id}@{location_id}")
        return StockLevelOut.model_validate(level)


@router.put(
    "/merchants/{merchant_id}/stock/{variant_id}/{location_id}", response_model=StockLevelOut
)
def set_stock(
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    location_id: uuid.UUID,
    body: StockSetIn,
    db: Database = Depends(get_db),
    p: Principal = Depends(can_write),
) -> StockLevelOut:
    """Set on-hand units absolutely (a stock count). With `expected_on_hand`, 409
    `stock-version-mismatch` if the count changed meanwhile; 409 `stock-below-reserved` if
    fewer than the reserved units."""
    with db.transaction() as s:
        _merchant_variant(s, merchant_id, variant_id)
        level = service.set_stock(
            s,
            merchant_id=merchant_id,
            variant_id=variant_id,
            location_id=location_id,
            on_hand=body.on_hand,
            expected_on_hand=body.expected_on_hand,
            reference=body.reference,
            actor=p.actor,
        )
        return StockLevelOut.model_validate(level)


# --- reservations ------------------------------------------------------------------------


@router.get("/merchants/{merchant_id}/reservations", response_model=Page[ReservationOut])
def list_reservations(
    merchant_id: uuid.UUID,
    reference: str | None = Query(None, max_length=100),
    status: ReservationStatus | None = None,
    variant_id: uuid.UUID | None = None,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> Page[ReservationOut]:
    """Stock holds (by order or checkout reference), oldest first."""
    listing = f"reservations:{merchant_id}"
    with db.reading() as s:
        rows = service.list_reservations(
            s,
            merchant_id,
            limit=page.limit + 1,
            after=cursor_id(listing, page),
            reference=reference,
            status=status,
            variant_id=variant_id,
        )
        return id_page(listing, rows, page.limit, ReservationOut.model_validate)


# --- public ------------------------------------------------------------------------------


@router.get("/variants/{variant_id}/availability", response_model=AvailabilityOut)
def availability(
    variant_id: uuid.UUID, db: Database = Depends(get_db), _: Principal = Depends(Public())
) -> AvailabilityOut:
    """Is it in stock online, and in which stores? Counts only; never on-hand internals."""
    with db.reading() as s:
        if catalog.variant_merchant(s, variant_id) is None:
            raise not_found("variant", variant_id)
        a = service.variant_availability(s, variant_id)
    return AvailabilityOut(
        variant_id=variant_id,
        available=a.total,
        online_available=a.online,
        in_stock_online=a.online > 0,
        stores=[
            StoreAvailabilityOut(
                location_id=st.location.id,
                code=st.location.code,
                name=st.location.name,
                city=st.location.city,
                country=st.location.country,
                latitude=st.location.latitude,
                longitude=st.location.longitude,
                available=st.available,
            )
            for st in a.stores
        ],
    )
