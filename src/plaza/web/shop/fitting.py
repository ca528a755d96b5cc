"""The shopper's fitting room: come in through the QR code on the door
(``/shop/fitting?room=<id>``) or choose the store and room, scan (or type) the garments'
tags, see the other sizes and colours with what the store has on its shelves, and ask
staff to bring one ("Request size"); the requests' states refresh by htmx polling.
Same services as the fitting-room API; only the session's shopper sees it (404 otherwise)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Form, Request, Response
from pydantic import ValidationError

from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import ProblemError
from plaza.identity.auth import Customer, Principal
from plaza.o2o.codes import MAX_CODE_LENGTH
from plaza.o2o.fitting import service as fitting
from plaza.o2o.fitting import views
from plaza.o2o.fitting.models import RequestStatus, SessionStatus
from plaza.o2o.fitting.schemas import (
    CloseIn,
    FittingSessionOut,
    ItemsIn,
    SessionOpenIn,
    SizeRequestIn,
)
from plaza.o2o.stores import service as stores
from plaza.o2o.stores.models import StoreService
from plaza.web.render import is_htmx, page, redirect
from plaza.web.shop.catalog import image_src

router = APIRouter(prefix="/shop/fitting")
shopper = Customer()

# What the shopper reads for each problem of a scan or a request (next to the field).
MESSAGES = {
    "epc-invalid": "That tag could not be read. Scan it again, or type the number under the "
    "barcode.",
    "digital-link-invalid": "That QR code is not a product label we can read.",
    "code-invalid": "That is not a product code. Scan the label's barcode or QR code.",
    "code-unknown": "This store does not sell an item with that code.",
    "fitting-session-full": "You have as many items (or size requests) as a fitting room allows.",
    "fitting-session-closed": "This fitting session is closed.",
    "fitting-room-unavailable": "This fitting room is in use or closed. Please ask staff.",
    "size-request-transition": "Staff are already on it: this request can't be changed now.",
    "validation-error": "Scan or type the code on the garment's label.",
}
STATUS_WORDS = {
    RequestStatus.REQUESTED: "Requested: staff will pick it",
    RequestStatus.PICKING: "On its way: staff are getting it",
    RequestStatus.DELIVERED: "Brought to your room",
    RequestStatus.UNAVAILABLE: "Not available, sorry",
    RequestStatus.CANCELLED: "Cancelled",
}
GROUPS = (("size", "Other sizes"), ("colour", "Other colours"), ("color", "Other colours"))


def _message(exc: ProblemError) -> str | None:
    return MESSAGES.get(exc.kind.slug)


# --- start: choose the store and room, or come in through the door's QR code ---------------


def _fitting_stores(db: Database) -> list[dict[str, Any]]:
    with db.reading() as s:
        found = stores.nearby_stores(s, lat=None, lon=None, radius_km=10, limit=200)
    return [
        {"id": st.id, "merchant_id": st.merchant_id, "name": st.name, "city": st.city}
        for st in found
        if StoreService.FITTING_ROOMS in st.services
    ]


def _start(
    request: Request,
    db: Database,
    p: Principal,
    *,
    room_id: uuid.UUID | None,
    store_id: uuid.UUID | None,
    code: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {"room": None, "store": None, "rooms": [], "stores": []}
    context.update(code=code, error=error, code_max=MAX_CODE_LENGTH)
    if room_id is not None:
        with db.reading() as s:
            room = fitting.room_of(s, room_id)
            if room is None:
                context["error"] = error or "We don't know this fitting room: scan the door's "
                "QR code again or choose the room below."
                room_id = None
            else:
                store = stores.get_store(s, room.merchant_id, room.location_id)
                context["room"] = {"id": room.id, "name": room.name, "code": room.code}
                context["room_active"] = room.is_active
                context["store"] = {"id": store.id, "name": store.location.name}
    if room_id is None:
        choices = _fitting_stores(db)
        context["stores"] = choices
        chosen = next((st for st in choices if st["id"] == store_id), None)
        if chosen is not None:
            context["store"] = chosen
            with db.reading() as s:
                rooms = fitting.list_rooms(s, chosen["merchant_id"], chosen["id"], limit=100)
            context["rooms"] = [
                {"id": r.id, "name": r.name, "code": r.code} for r in rooms if r.is_active
            ]
    return page(request, "shop/fitting_start.html", context, status=status)


def _own_open_session(db: Database, p: Principal, room_id: uuid.UUID) -> uuid.UUID | None:
    """The shopper's open session in this room, to resume it."""
    if p.user_id is None:
        return None
    with db.reading() as s:
        room = fitting.room_of(s, room_id)
        if room is None:
            return None
        for fs in fitting.list_sessions(
            s, room.merchant_id, room.location_id, status=SessionStatus.OPEN, limit=200
        ):
            if fs.room_id == room_id and fs.customer_id == p.user_id:
                return fs.id
    return None


@router.get("")
def fitting_start(
    request: Request,
    room: uuid.UUID | None = None,
    store: uuid.UUID | None = None,
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> Response:
    """Start (or resume) a session: the room from the door's QR code, else choose one."""
    if room is not None and (current := _own_open_session(db, p, room)) is not None:
        return redirect(f"/shop/fitting/{current}")
    return _start(request, db, p, room_id=room, store_id=store)


@router.post("/start")
def start_session(
    request: Request,
    room_id: uuid.UUID = Form(),
    code: str = Form("", max_length=MAX_CODE_LENGTH),
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> Response:
    """Open the session with the first scanned garment (or continue one's own)."""
    try:
        body = SessionOpenIn.model_validate({"room_id": str(room_id), "codes": [code]})
    except ValidationError:
        return _start(
            request,
            db,
            p,
            room_id=room_id,
            store_id=None,
            code=code,
            error=MESSAGES["validation-error"],
            status=422,
        )
    try:
        with db.transaction() as s:
            fs = fitting.open_session(s, p, body.room_id, body.codes)
            session_id = fs.id
    except ProblemError as exc:
        if (message := _message(exc)) is None:
            raise
        return _start(
            request,
            db,
            p,
            room_id=room_id,
            store_id=None,
            code=code,
            error=message,
            status=exc.status,
        )
    return redirect(f"/shop/fitting/{session_id}", flash="Your fitting room is ready.")


# --- the session ------------------------------------------------------------------------------


def _grouped(item: Any) -> list[tuple[str, list[Any]]]:
    """The item's alternatives as "Other sizes", "Other colours", then the rest."""
    groups: dict[str, list[Any]] = {}
    for alt in item.alternatives:
        title = "Other options"
        if len(alt.differs_in) == 1:
            title = next((t for key, t in GROUPS if alt.differs_in[0].lower() == key), title)
        groups.setdefault(title, []).append(alt)
    order = ["Other sizes", "Other colours", "Other options"]
    return [(t, groups[t]) for t in order if t in groups]


def _session_view(db: Database, p: Principal, session_id: uuid.UUID) -> FittingSessionOut:
    with db.reading() as s:
        return views.session_out(s, fitting.get_session(s, p, session_id))


def _session(
    request: Request,
    db: Database,
    p: Principal,
    session_id: uuid.UUID,
    *,
    code: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    view = _session_view(db, p, session_id)
    with db.reading() as s:
        room = fitting.room_of(s, view.room_id)
        store = stores.get_store(s, view.merchant_id, view.store_id)
    open_variants = {
        r.variant_id: r
        for r in view.requests
        if r.status in (RequestStatus.REQUESTED, RequestStatus.PICKING)
    }
    context = {
        "fs": view,
        "room_name": room.name if room else view.room_code,
        "store_name": store.location.name,
        "items": [
            {"item": i, "groups": _grouped(i), "image": image_src(request, i.image_url)}
            for i in view.items
        ],
        "requests": _requests(view),
        "open_variants": open_variants,
        "code": code,
        "error": error,
        "code_max": MAX_CODE_LENGTH,
        "is_open": view.status == SessionStatus.OPEN,
    }
    return page(request, "shop/fitting_session.html", context, status=status)


def _requests(view: FittingSessionOut) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "title": r.title,
            "label": r.label,
            "status": r.status.value,
            "status_word": STATUS_WORDS[r.status],
            "open": r.status in (RequestStatus.REQUESTED, RequestStatus.PICKING),
        }
        for r in sorted(view.requests, key=lambda r: r.id, reverse=True)
    ]


@router.get("/{session_id}")
def fitting_session(
    request: Request,
    session_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> Response:
    return _session(request, db, p, session_id)


@router.get("/{session_id}/requests")
def fitting_requests(
    request: Request,
    session_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> Response:
    """The size requests' region (htmx polls it); a browser without JS gets the page."""
    if not is_htmx(request):
        return redirect(f"/shop/fitting/{session_id}")
    view = _session_view(db, p, session_id)
    context = {"fs": view, "requests": _requests(view), "is_open": view.status == "open"}
    return page(request, "shop/_fitting_requests.html", context)


@router.post("/{session_id}/items")
def add_items(
    request: Request,
    session_id: uuid.UUID,
    code: str = Form("", max_length=MAX_CODE_LENGTH),
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> Response:
    try:
        body = ItemsIn.model_validate({"codes": [code]})
    except ValidationError:
        error = MESSAGES["validation-error"]
        return _session(request, db, p, session_id, code=code, error=error, status=422)
    try:
        with db.transaction() as s:
            fs = fitting.get_session(s, p, session_id, lock=True)
            fitting.add_items(s, fs, body.codes)
    except ProblemError as exc:
        if (message := _message(exc)) is None:
            raise
        return _session(request, db, p, session_id, code=code, error=message, status=exc.status)
    return redirect(f"/shop/fitting/{session_id}", flash="Item added.")


@router.post("/{session_id}/requests")
def request_size(
    request: Request,
    session_id: uuid.UUID,
    variant_id: uuid.UUID = Form(),
    item_id: uuid.UUID | None = Form(None),
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> Response:
    body = SizeRequestIn(variant_id=variant_id, item_id=item_id)
    try:
        with db.transaction() as s:
            fs = fitting.get_session(s, p, session_id, lock=True)
            req = fitting.request_size(s, p, fs, body.variant_id, body.item_id, body.note)
            out = views.requests_out(s, [req])[0]
    except ProblemError as exc:
        if (message := _message(exc)) is None:
            raise
        return _session(request, db, p, session_id, error=message, status=exc.status)
    return redirect(
        f"/shop/fitting/{session_id}",
        flash=f"Size requested: staff will bring {out.title} {out.label} to your room.",
    )


@router.post("/{session_id}/requests/{request_id}/cancel")
def cancel_request(
    request: Request,
    session_id: uuid.UUID,
    request_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> Response:
    try:
        with db.transaction() as s:
            fs = fitting.get_session(s, p, session_id, lock=True)
            fitting.cancel_request(s, p, fs, request_id)
    except ProblemError as exc:
        if (message := _message(exc)) is None:
            raise
        return _session(request, db, p, session_id, error=message, status=exc.status)
    return redirect(f"/shop/fitting/{session_id}", flash="Request cancelled.")


@router.post("/{session_id}/close")
def close_session(
    request: Request,
    session_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(shopper),
) -> Response:
    """Leave the room; open size requests are cancelled."""
    body = CloseIn()
    with db.transaction() as s:
        fs = fitting.get_session(s, p, session_id, lock=True)
        fitting.close_session(s, p, fs, body.bought_variant_ids)
    return redirect(f"/shop/fitting/{session_id}", flash="Thanks for visiting the fitting room.")
