"""The fitting-room queue for staff on the floor: open size requests of the chosen store
(newest first, with room, garment, size/colour and waiting time) with a button per move
the fitting service allows, refreshed by htmx polling (a reload without JS); the rooms in
use, with a button to close a forgotten session; recent sessions' tried versus bought.
Same services and access rule as the fitting-room API's staff endpoints."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from pydantic import ValidationError

from plaza.db import Database, utcnow
from plaza.deps import get_db
from plaza.errors import ProblemError, not_found
from plaza.identity.auth import MerchantAccess, Principal
from plaza.identity.models import MerchantRole
from plaza.o2o.fitting import service as fitting
from plaza.o2o.fitting import views
from plaza.o2o.fitting.models import RequestStatus, SessionStatus
from plaza.o2o.fitting.schemas import SizeRequestOut, SizeRequestPatch
from plaza.web.render import is_htmx, page, redirect
from plaza.web.staff.common import staff_context
from plaza.web.staff.counter import chosen_store

router = APIRouter(prefix="/staff/{merchant_id}")
store_staff = MerchantAccess(MerchantRole.STAFF)  # as the API: people on the shop floor
QUEUE_LIMIT = 100
RECENT_CLOSED = 5

# Button words per target state: each accessible name starts with its action.
ACTIONS: dict[RequestStatus, str] = {
    RequestStatus.PICKING: "Pick",
    RequestStatus.DELIVERED: "Deliver",
    RequestStatus.UNAVAILABLE: "Mark unavailable",
    RequestStatus.CANCELLED: "Cancel",
}
ACTION_ORDER = (
    RequestStatus.PICKING,
    RequestStatus.DELIVERED,
    RequestStatus.UNAVAILABLE,
    RequestStatus.CANCELLED,
)
STATUS_WORDS = {
    RequestStatus.REQUESTED: "Requested",
    RequestStatus.PICKING: "Being picked",
    RequestStatus.DELIVERED: "Delivered",
    RequestStatus.UNAVAILABLE: "Unavailable",
    RequestStatus.CANCELLED: "Cancelled",
}


def _waiting(minutes: int) -> str:
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def _request_row(req: SizeRequestOut, now: Any) -> dict[str, Any]:
    minutes = max(0, int((now - req.created_at).total_seconds() // 60))
    return {
        "id": req.id,
        "room_code": req.room_code,
        "title": req.title,
        "label": req.label,
        "note": req.note,
        "in_store": req.in_store,
        "status": req.status.value,
        "status_word": STATUS_WORDS[req.status],
        "created_at": req.created_at,
        "waiting": _waiting(minutes),
        "actions": [
            (to.value, ACTIONS[to]) for to in ACTION_ORDER if to in fitting.TRANSITIONS[req.status]
        ],
    }


def _queue(db: Database, merchant_id: uuid.UUID, store_id: uuid.UUID) -> dict[str, Any]:
    now = utcnow()
    with db.reading() as s:
        reqs = fitting.list_requests(
            s,
            merchant_id,
            store_id,
            statuses=list(fitting.OPEN_REQUEST_STATES),
            limit=QUEUE_LIMIT,
        )
        out = views.requests_out(s, reqs)
        rooms = {r.id: r for r in fitting.list_rooms(s, merchant_id, store_id, limit=QUEUE_LIMIT)}
        open_sessions = fitting.list_sessions(
            s, merchant_id, store_id, status=SessionStatus.OPEN, limit=QUEUE_LIMIT
        )
        closed = fitting.list_sessions(
            s, merchant_id, store_id, status=SessionStatus.CLOSED, limit=RECENT_CLOSED
        )
        recent = [views.session_out(s, fs) for fs in closed]
        sessions = [
            {
                "id": fs.id,
                "room": rooms[fs.room_id].name if fs.room_id in rooms else "",
                "room_code": rooms[fs.room_id].code if fs.room_id in rooms else "",
                "opened_at": fs.opened_at,
                "minutes": max(0, int((now - fs.opened_at).total_seconds() // 60)),
                "walk_in": fs.customer_id is None,
            }
            for fs in open_sessions
        ]
    return {
        "requests": [_request_row(r, now) for r in sorted(out, key=lambda r: r.id, reverse=True)],
        "sessions": sessions,
        "recent": [
            {
                "room_code": r.room_code,
                "closed_at": r.closed_at,
                "tried": r.tried_count,
                "bought": r.bought_count,
            }
            for r in recent
        ],
    }


def _render(
    request: Request,
    merchant_id: uuid.UUID,
    store: uuid.UUID | None,
    *,
    status: int = 200,
    message: str | None = None,
) -> Response:
    options, current = chosen_store(request, merchant_id, store)
    context: dict[str, Any] = {
        **staff_context(request, merchant_id, "fitting"),
        "stores": options,
        "store": current,
        "message": message,
        "requests": [],
        "sessions": [],
        "recent": [],
    }
    if current is not None:
        context.update(_queue(request.app.state.db, merchant_id, current["id"]))
    name = "staff/_fitting_queue.html" if is_htmx(request) else "staff/fitting.html"
    return page(request, name, context, status=status)


def _back(merchant_id: uuid.UUID, store: uuid.UUID) -> str:
    return f"/staff/{merchant_id}/fitting?store={store}"


@router.get("/fitting")
def fitting_queue(
    request: Request,
    merchant_id: uuid.UUID,
    store: uuid.UUID | None = None,
    _: Principal = Depends(store_staff),
) -> Response:
    """The whole page; htmx polling (``HX-Request``) gets only the queue region."""
    return _render(request, merchant_id, store)


@router.post("/fitting/requests/{request_id}")
def move_request(
    request: Request,
    merchant_id: uuid.UUID,
    request_id: uuid.UUID,
    store: uuid.UUID = Query(),
    status: str = Form("", max_length=20),
    db: Database = Depends(get_db),
    p: Principal = Depends(store_staff),
) -> Response:
    """Work a request (the API's PATCH): requested → picking → delivered, or unavailable /
    cancelled. A move someone else made first is shown as a message."""
    try:
        body = SizeRequestPatch.model_validate({"status": status})
    except ValidationError:
        return _render(request, merchant_id, store, status=422, message="Choose an action.")
    try:
        with db.transaction() as s:
            req = fitting.staff_move(
                s, p, merchant_id, store, request_id, RequestStatus(body.status), body.note
            )
            done = views.requests_out(s, [req])[0]
    except ProblemError as exc:
        if exc.kind is not fitting.REQUEST_TRANSITION:
            raise
        message = "This request has already moved on (someone else took it). The list is fresh."
        return _render(request, merchant_id, store, status=409, message=message)
    text = f"{done.title} {done.label} for room {done.room_code}: {STATUS_WORDS[done.status]}."
    if is_htmx(request):
        return _render(request, merchant_id, store, message=text)
    return redirect(_back(merchant_id, store), flash=text)


@router.post("/fitting/sessions/{session_id}/close")
def close_session(
    request: Request,
    merchant_id: uuid.UUID,
    session_id: uuid.UUID,
    store: uuid.UUID = Query(),
    db: Database = Depends(get_db),
    p: Principal = Depends(store_staff),
) -> Response:
    """Close a session of this store (a shopper who left without closing it)."""
    with db.transaction() as s:
        fs = fitting.get_session(s, p, session_id, lock=True)
        if fs.merchant_id != merchant_id or fs.location_id != store:
            raise not_found("fitting session", session_id)
        fitting.close_session(s, p, fs, [])
    text = "The fitting session is closed; the room is free."
    if is_htmx(request):
        return _render(request, merchant_id, store, message=text)
    return redirect(_back(merchant_id, store), flash=text)
