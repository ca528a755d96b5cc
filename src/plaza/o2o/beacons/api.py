"""HTTP endpoints of beacons, sightings (from the phone) and proximity offers."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from plaza.db import Database
from plaza.deps import get_db
from plaza.idempotency import fingerprint, idempotency_key, idempotent_write, scope_for
from plaza.identity.auth import Customer, MerchantAccess, Principal
from plaza.identity.models import MerchantRole
from plaza.o2o.beacons import offers, service, visits
from plaza.o2o.beacons.schemas import (
    BeaconIn,
    BeaconOut,
    BeaconPatch,
    OfferIn,
    OfferOut,
    SightingsIn,
    SightingsOut,
)
from plaza.pagination import (
    Page,
    PageParams,
    cursor_id,
    id_page,
)

router = APIRouter(tags=["o2o: beacons"])
can_read = MerchantAccess(MerchantRole.STAFF, "inventory:read")
can_write = MerchantAccess(MerchantRole.STAFF, "inventory:write")
# Offers are marketing: people only (no API-key scope covers them).
marketer = MerchantAccess(MerchantRole.STAFF)
BEACONS = "/merchants/{merchant_id}/beacons"
OFFERS = "/merchants/{merchant_id}/offers"


# --- beacons ----------------------------------------------------------------------------------


@router.get(BEACONS, response_model=Page[BeaconOut])
def list_beacons(
    merchant_id: uuid.UUID,
    store_id: uuid.UUID | None = None,
    zone_id: uuid.UUID | None = None,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> Page[BeaconOut]:
    """The merchant's beacons, oldest first (filter by store or zone)."""
    listing = f"beacons:{merchant_id}:{store_id}:{zone_id}"
    with db.reading() as s:
        rows = service.list_beacons(
            s,
            merchant_id,
            limit=page.limit + 1,
            after=cursor_id(listing, page),
            store_id=store_id,
            zone_id=zone_id,
        )
        return id_page(listing, rows, page.limit, service.beacon_view)


@router.post(BEACONS, status_code=201, response_model=BeaconOut)
def create_beacon(
    merchant_id: uuid.UUID,
    body: BeaconIn,
    request: Request,
    key: str | None = Depends(idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(can_write),
) -> JSONResponse:
    """Register an iBeacon (proximity UUID, major, minor) or Eddystone-UID (namespace,
    instance) in a store zone. 409 `beacon-identifier-taken` if any merchant's beacon
    already broadcasts the same identifier."""
    return idempotent_write(
        db,
        scope=p.actor,
        key=key,
        fp=fingerprint("POST", request.url.path, body),
        action=lambda s: service.beacon_view(service.create_beacon(s, merchant_id, body)),
    )


@router.get(f"{BEACONS}/{{beacon_id}}", response_model=BeaconOut)
def get_beacon(
    merchant_id: uuid.UUID,
    beacon_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> BeaconOut:
    """One beacon."""
    with db.reading() as s:
        return service.beacon_view(service.get_beacon(s, merchant_id, beacon_id))


@router.patch(f"{BEACONS}/{{beacon_id}}", response_model=BeaconOut)
def patch_beacon(
    merchant_id: uuid.UUID,
    beacon_id: uuid.UUID,
    body: BeaconPatch,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> BeaconOut:
    """Move a beacon to another zone, relabel it, or switch it off (`is_active: false`:
    its sightings are then rejected as unknown)."""
    with db.transaction() as s:
        return service.beacon_view(service.update_beacon(s, merchant_id, beacon_id, body))


@router.delete(f"{BEACONS}/{{beacon_id}}", status_code=204)
def delete_beacon(
    merchant_id: uuid.UUID,
    beacon_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> Response:
    """Unregister a beacon (its identifier becomes free)."""
    with db.transaction() as s:
        service.delete_beacon(s, merchant_id, beacon_id)
    return Response(status_code=204)


# --- sightings (the phone) ----------------------------------------------------------------------


@router.post("/o2o/sightings", response_model=SightingsOut)
def post_sightings(
    body: SightingsIn,
    request: Request,
    key: str | None = Depends(idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> JSONResponse:
    """The signed-in customer's phone reports up to 50 beacon sightings. Each sighting gets
    its own result (`accepted`, `duplicate`, or `rejected` with a problem `type`:
    `sighting-unknown-beacon`, `sighting-stale`, `sighting-from-future`,
    `sighting-rssi-impossible`); a malformed body is `422 validation-error` as a whole.
    The answer lists the visits the batch opened, moved or ended, and the proximity
    offers for zones just entered (only with `marketing` consent). Safe to retry:
    repeated sightings are duplicates, and an `Idempotency-Key` replays the answer."""
    user_id = p.user_id
    assert user_id is not None  # Customer() guarantees a person
    return idempotent_write(
        db,
        scope=scope_for(p.actor),
        key=key,
        fp=fingerprint("POST", request.url.path, body),
        action=lambda s: visits.record_sightings(s, user_id, body.sightings),
        status_code=200,
    )


# --- proximity offers -----------------------------------------------------------------------------


@router.get(OFFERS, response_model=Page[OfferOut])
def list_offers(
    merchant_id: uuid.UUID,
    zone_id: uuid.UUID | None = None,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(marketer),
) -> Page[OfferOut]:
    """The merchant's proximity offers, oldest first, with delivery counts."""
    listing = f"offers:{merchant_id}:{zone_id}"
    with db.reading() as s:
        rows = offers.list_offers(
            s, merchant_id, limit=page.limit + 1, after=cursor_id(listing, page), zone_id=zone_id
        )
        return id_page(listing, rows, page.limit, lambda o: offers.offer_view(s, o))


@router.post(OFFERS, status_code=201, response_model=OfferOut)
def create_offer(
    merchant_id: uuid.UUID,
    body: OfferIn,
    request: Request,
    key: str | None = Depends(idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(marketer),
) -> JSONResponse:
    """A message for customers entering a zone: for everyone (`audience: any`) or for
    members of strategic personas (`audience: personas`), between `starts_at` and
    `ends_at`, optionally only between `daily_from` and `daily_to` local store time, at
    most `cap_per_customer` times per customer."""
    return idempotent_write(
        db,
        scope=p.actor,
        key=key,
        fp=fingerprint("POST", request.url.path, body),
        action=lambda s: offers.offer_view(s, offers.create_offer(s, merchant_id, body)),
    )


@router.get(f"{OFFERS}/{{offer_id}}", response_model=OfferOut)
def get_offer(
    merchant_id: uuid.UUID,
    offer_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(marketer),
) -> OfferOut:
    """One offer."""
    with db.reading() as s:
        return offers.offer_view(s, offers.get_offer(s, merchant_id, offer_id))


@router.put(f"{OFFERS}/{{offer_id}}", response_model=OfferOut)
def put_offer(
    merchant_id: uuid.UUID,
    offer_id: uuid.UUID,
    body: OfferIn,
    db: Database = Depends(get_db),
    _: Principal = Depends(marketer),
) -> OfferOut:
    """Replace an offer (deliveries so far still count towards the cap)."""
    with db.transaction() as s:
        return offers.offer_view(s, offers.replace_offer(s, merchant_id, offer_id, body))


@router.delete(f"{OFFERS}/{{offer_id}}", status_code=204)
def delete_offer(
    merchant_id: uuid.UUID,
    offer_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(marketer),
) -> Response:
    """Remove an offer and its delivery records."""
    with db.transaction() as s:
        offers.delete_offer(s, merchant_id, offer_id)
    return Response(status_code=204)
