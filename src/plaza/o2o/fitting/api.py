"""HTTP endpoints of smart fitting rooms.

Staff side under ``/merchants/{merchant_id}/stores/{location_id}/…`` (rooms, the size
request queue, sessions in the store); shopper side under ``/fitting-sessions`` for any
signed-in account, where the service lets in only the session's shopper and the store's
staff (others get 404).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from plaza.db import Database
from plaza.deps import get_db
from plaza.idempotency import fingerprint, idempotency_key, idempotent_write, scope_for
from plaza.identity.auth import Customer, MerchantAccess, Principal
from plaza.identity.models import MerchantRole
from plaza.o2o.fitting import service, views
from plaza.o2o.fitting.models import RequestStatus, SessionStatus
from plaza.o2o.fitting.schemas import (
    CloseIn,
    FittingRoomIn,
    FittingRoomOut,
    FittingRoomPatch,
    FittingSessionOut,
    FittingSessionSummary,
    ItemsIn,
    SessionOpenIn,
    SizeRequestIn,
    SizeRequestOut,
    SizeRequestPatch,
)
from plaza.pagination import (
    Page,
    PageParams,
    cursor_id,
    id_page,
    next_id_cursor,
)

router = APIRouter(tags=["o2o: fitting rooms"])
rooms_read = MerchantAccess(MerchantRole.STAFF, "inventory:read")
rooms_write = MerchantAccess(MerchantRole.STAFF, "inventory:write")
store_staff = MerchantAccess(MerchantRole.STAFF)  # people on the shop floor, not API keys
shopper = Customer()
STORE = "/merchants/{merchant_id}/stores/{location_id}"


# --- rooms (staff) -----------------------------------------------------------------------


@router.get(f"{STORE}/fitting-rooms", response_model=Page[FittingRoomOut])
def list_rooms(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(rooms_read),
) -> Page[FittingRoomOut]:
    """The store's fitting rooms, oldest first."""
    listing = f"fitting-rooms:{location_id}"
    with db.reading() as s:
        rows = service.list_rooms(
            s, merchant_id, location_id, limit=page.limit + 1, after=cursor_id(listing, page)
        )
        return id_page(listing, rows, page.limit, FittingRoomOut.of)


@router.post(f"{STORE}/fitting-rooms", status_code=201, response_model=FittingRoomOut)
def create_room(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    body: FittingRoomIn,
    request: Request,
    key: str | None = Depends(idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(rooms_write),
) -> JSONResponse:
    """Register a fitting room in a zone of the store (`code` unique per store, 409
    `fitting-room-code-taken`; a zone of another store is 422 `zone-not-in-store`). Print
    the room id as a QR code on the door: the shopper's app opens sessions with it."""
    return idempotent_write(
        db,
        scope=p.actor,
        key=key,
        fp=fingerprint("POST", request.url.path, body),
        action=lambda s: FittingRoomOut.of(
            service.create_room(s, merchant_id, location_id, **body.model_dump())
        ),
    )


@router.patch(f"{STORE}/fitting-rooms/{{room_id}}", response_model=FittingRoomOut)
def patch_room(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    room_id: uuid.UUID,
    body: FittingRoomPatch,
    db: Database = Depends(get_db),
    _: Principal = Depends(rooms_write),
) -> FittingRoomOut:
    """Rename, move to another zone, or take a room out of use (`is_active: false`)."""
    with db.transaction() as s:
        room = service.update_room(s, merchant_id, location_id, room_id, body.changes())
        return FittingRoomOut.of(room)


# --- the staff queue -----------------------------------------------------------------------


@router.get(f"{STORE}/fitting-requests", response_model=Page[SizeRequestOut])
def list_requests(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    status: list[RequestStatus] | None = Query(
        None,
        max_length=5,
        description="States to list; default the open ones (requested, picking).",
    ),
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(store_staff),
) -> Page[SizeRequestOut]:
    """The store's size-request queue, oldest first: what to fetch for which room."""
    states = sorted(set(status or service.OPEN_REQUEST_STATES))
    listing = f"fitting-requests:{location_id}:{','.join(states)}"
    with db.reading() as s:
        rows = service.list_requests(
            s,
            merchant_id,
            location_id,
            statuses=states,
            limit=page.limit + 1,
            after=cursor_id(listing, page),
        )
        # One batch read of the requests' items and variants, not one per request.
        return Page(
            items=views.requests_out(s, rows[: page.limit]),
            next_cursor=next_id_cursor(listing, rows, page.limit),
        )


@router.patch(f"{STORE}/fitting-requests/{{request_id}}", response_model=SizeRequestOut)
def move_request(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    request_id: uuid.UUID,
    body: SizeRequestPatch,
    db: Database = Depends(get_db),
    p: Principal = Depends(store_staff),
) -> SizeRequestOut:
    """Work a request: requested → picking → delivered, or → unavailable / cancelled (409
    `size-request-transition` otherwise; repeating the current state is a no-op). A
    delivered garment joins the session's items."""
    with db.transaction() as s:
        req = service.staff_move(
            s, p, merchant_id, location_id, request_id, RequestStatus(body.status), body.note
        )
        return views.requests_out(s, [req])[0]


@router.get(f"{STORE}/fitting-sessions", response_model=Page[FittingSessionSummary])
def list_sessions(
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    status: SessionStatus | None = None,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(store_staff),
) -> Page[FittingSessionSummary]:
    """The store's fitting sessions, newest first (`status=open`: rooms in use)."""
    listing = f"fitting-sessions:{location_id}:{status or ''}"
    with db.reading() as s:
        rows = service.list_sessions(
            s,
            merchant_id,
            location_id,
            status=status,
            limit=page.limit + 1,
            before=cursor_id(listing, page),
        )
        return id_page(
            listing,
            rows,
            page.limit,
            lambda r: FittingSessionSummary(
                id=r.id,
                store_id=r.location_id,
                room_id=r.room_id,
                customer_id=r.customer_id,
                status=r.status,
                opened_at=r.opened_at,
                closed_at=r.closed_at,
            ),
        )


# --- sessions (shopper and staff) ------------------------------------------------------------


@router.post("/fitting-sessions", status_code=201, response_model=FittingSessionOut)
def open_session(
    body: SessionOpenIn,
    request: Request,
    key: str | None = Depends(idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> JSONResponse:
    """Open a session by scanning the garments brought into a room (codes: SGTIN-96 EPC hex,
    EPC URI, GS1 Digital Link or GTIN; 422 `epc-invalid`, `digital-link-invalid`,
    `code-invalid` or `code-unknown` name a bad one). The caller's own open session in the
    room is continued; another shopper's is 409 `fitting-room-unavailable`. Staff of the
    store open sessions for walk-in shoppers."""
    return idempotent_write(
        db,
        scope=scope_for(p.actor, "fitting-sessions"),
        key=key,
        fp=fingerprint("POST", request.url.path, body),
        action=lambda s: views.session_out(s, service.open_session(s, p, body.room_id, body.codes)),
    )


@router.get("/fitting-sessions/{session_id}", response_model=FittingSessionOut)
def get_session(
    session_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> FittingSessionOut:
    """The session: each item with its other sizes and colours and the store's stock."""
    with db.reading() as s:
        return views.session_out(s, service.get_session(s, p, session_id))


@router.post("/fitting-sessions/{session_id}/items", response_model=FittingSessionOut)
def add_items(
    session_id: uuid.UUID,
    body: ItemsIn,
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> FittingSessionOut:
    """Scan more garments in. A tag read again is the same item, so retrying is safe."""
    with db.transaction() as s:
        fs = service.get_session(s, p, session_id, lock=True)
        service.add_items(s, fs, body.codes)
        return views.session_out(s, fs)


@router.post(
    "/fitting-sessions/{session_id}/requests", status_code=201, response_model=SizeRequestOut
)
def request_size(
    session_id: uuid.UUID,
    body: SizeRequestIn,
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> SizeRequestOut:
    """Ask staff to bring another size or colour (a variant of the store's merchant). The
    same open request asked again is answered with the existing one."""
    with db.transaction() as s:
        fs = service.get_session(s, p, session_id, lock=True)
        req = service.request_size(s, p, fs, body.variant_id, body.item_id, body.note)
        return views.requests_out(s, [req])[0]


@router.post(
    "/fitting-sessions/{session_id}/requests/{request_id}/cancel", response_model=SizeRequestOut
)
def cancel_request(
    session_id: uuid.UUID,
    request_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> SizeRequestOut:
    """Withdraw a size request that staff have not delivered yet."""
    with db.transaction() as s:
        fs = service.get_session(s, p, session_id, lock=True)
        return views.requests_out(s, [service.cancel_request(s, p, fs, request_id)])[0]


@router.post("/fitting-sessions/{session_id}/close", response_model=FittingSessionOut)
def close_session(
    session_id: uuid.UUID,
    body: CloseIn,
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> FittingSessionOut:
    """Leave the room. Bought items come from the shopper's paid orders; staff may add till
    sales (`bought_variant_ids`, staff only, tried variants only). Open size requests are
    cancelled. Closing twice is harmless."""
    with db.transaction() as s:
        fs = service.get_session(s, p, session_id, lock=True)
        service.close_session(s, p, fs, body.bought_variant_ids)
        return views.session_out(s, fs)
