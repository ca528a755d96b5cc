"""Back-office fitting-room setup: rooms per store (create, rename, move, take out of
use), the QR code customers scan on the door (``/shop/fitting?room=<id>``, rendered with
segno as inline SVG), and the store's recent sessions with what was tried and bought."""

from __future__ import annotations

import io
import uuid
from typing import Any

import segno
from fastapi import APIRouter, Depends, Request, Response
from markupsafe import Markup
from pydantic import ValidationError
from starlette.datastructures import FormData

from plaza.errors import ProblemError
from plaza.identity.auth import MerchantAccess, Principal
from plaza.identity.models import MerchantRole
from plaza.o2o.fitting import service
from plaza.o2o.fitting.schemas import FittingRoomIn, FittingRoomOut, FittingRoomPatch
from plaza.o2o.stores import service as stores
from plaza.web.backoffice.common import office_page
from plaza.web.backoffice.crud import Errors, submit
from plaza.web.backoffice.stores import store_rows
from plaza.web.forms import field_errors, form_data, text
from plaza.web.render import public_base

router = APIRouter(prefix="/back-office/{merchant_id}")
staff = MerchantAccess(MerchantRole.STAFF)
MAX_ROOMS = 200
RECENT_SESSIONS = 20


def _base(merchant_id: uuid.UUID) -> str:
    return f"/back-office/{merchant_id}/fitting-rooms"


def customer_link(request: Request, room_id: uuid.UUID) -> str:
    """What the QR code on the door opens: the storefront's fitting-room page."""
    return f"{public_base(request)}/shop/fitting?room={room_id}"


def qr_svg(data: str, title: str) -> Markup:
    """``data`` as an inline SVG QR code (no XML declaration; a title for screen readers)."""
    out = io.BytesIO()
    segno.make(data, error="m").save(
        out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True, title=title, light="#fff",
        svgclass="qr", lineclass=None, omitsize=False,
    )  # fmt: skip
    svg = out.getvalue().decode()
    labelled = svg.replace("<svg ", '<svg role="img" aria-label="' + _attr(title) + '" ', 1)
    return Markup(labelled)  # noqa: S704 - segno's own SVG; the title is escaped (_attr)


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _zones(request: Request, merchant_id: uuid.UUID, store_id: uuid.UUID) -> list[Any]:
    with request.app.state.db.reading() as s:
        return [(str(z.id), f"{z.name} ({z.code})") for z in stores.list_zones(s, store_id)]


def _sessions(s: Any, merchant_id: uuid.UUID, store_id: uuid.UUID) -> list[dict[str, Any]]:
    rooms = {r.id: r.code for r in service.list_rooms(s, merchant_id, store_id, limit=MAX_ROOMS)}
    rows = []
    for fs in service.list_sessions(s, merchant_id, store_id, status=None, limit=RECENT_SESSIONS):
        items = service.session_items(s, fs.id)
        rows.append(
            {
                "id": fs.id,
                "room": rooms.get(fs.room_id, "—"),
                "status": fs.status.value,
                "opened_at": fs.opened_at,
                "closed_at": fs.closed_at,
                "tried": len(items),
                "bought": sum(1 for i in items if i.bought),
            }
        )
    return rows


def _store_name(request: Request, merchant_id: uuid.UUID, store_id: uuid.UUID) -> str:
    with request.app.state.db.reading() as s:
        return stores.get_store(s, merchant_id, store_id).location.name


@router.get("/fitting-rooms")
def fitting_overview(
    request: Request,
    merchant_id: uuid.UUID,
    store: uuid.UUID | None = None,
    _: Principal = Depends(staff),
) -> Response:
    """Rooms of one store (the first by default), a store picker, recent sessions."""
    return _rooms_page(request, merchant_id, store)


def _rooms_page(
    request: Request,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID | None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with request.app.state.db.reading() as s:
        locations = [(str(loc.id), loc.name) for loc in store_rows(s, merchant_id)]
        if store_id is None and locations:
            store_id = uuid.UUID(locations[0][0])
        rooms: list[dict[str, Any]] = []
        sessions: list[dict[str, Any]] = []
        zones: list[tuple[str, str]] = []
        if store_id is not None:
            stores.get_store(s, merchant_id, store_id)  # 404/409 for others
            zone_names = {}
            for z in stores.list_zones(s, store_id):
                zones.append((str(z.id), f"{z.name} ({z.code})"))
                zone_names[z.id] = z.name
            for r in service.list_rooms(s, merchant_id, store_id, limit=MAX_ROOMS):
                room = FittingRoomOut.of(r)
                link = customer_link(request, room.id)
                rooms.append(
                    {
                        "room": room,
                        "zone": zone_names.get(room.zone_id, "—") if room.zone_id else "—",
                        "link": link,
                        "qr": qr_svg(link, f"QR code for fitting room {room.code}"),
                    }
                )
            sessions = _sessions(s, merchant_id, store_id)
    return office_page(
        request,
        merchant_id,
        "fitting",
        "office/fitting_rooms.html",
        {
            "stores": locations,
            "store_id": str(store_id) if store_id else "",
            "rooms": rooms,
            "sessions": sessions,
            "zones": zones,
            "values": values or {"is_active": True},
            "errors": errors or {},
            "base": _base(merchant_id),
        },
        status=status,
    )


def _room_values(form: FormData) -> dict[str, Any]:
    return {
        "zone_id": text(form, "zone_id"),
        "code": text(form, "code"),
        "name": text(form, "name"),
        "is_active": bool(form.get("is_active")),
    }


def _room_errors(exc: ValidationError | ProblemError) -> Errors:
    if isinstance(exc, ValidationError):
        return field_errors(exc)
    if exc.status == 409 and "code" in exc.kind.slug:
        return {"code": exc.detail if exc.detail != exc.kind.title else "This code is taken."}
    if exc.status == 404 and exc.extensions.get("resource") == "zone":
        return {"zone_id": exc.detail}
    if exc.status == 422:
        return {"zone_id": exc.detail}
    raise exc


@router.post("/fitting-rooms/{store_id:uuid}")
def create_room(
    request: Request,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    """Add a room to the store (POST of the API)."""
    values = _room_values(form)
    return submit(
        request,
        FittingRoomIn,
        values,
        lambda s, data: service.create_room(s, merchant_id, store_id, **data.model_dump()),
        _room_errors,
        again=lambda errors: _rooms_page(request, merchant_id, store_id, values, errors, 422),
        to=f"{_base(merchant_id)}?store={store_id}",
        flash="Fitting room added.",
    )


def _room_page(
    request: Request,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    room: FittingRoomOut,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    link = customer_link(request, room.id)
    return office_page(
        request,
        merchant_id,
        "fitting",
        "office/fitting_room.html",
        {
            "store": {"id": store_id, "name": _store_name(request, merchant_id, store_id)},
            "room": room,
            "link": link,
            "qr": qr_svg(link, f"QR code for fitting room {room.code}"),
            "zones": _zones(request, merchant_id, store_id),
            "values": values
            or {
                "zone_id": str(room.zone_id or ""),
                "code": room.code,
                "name": room.name,
                "is_active": room.is_active,
            },
            "errors": errors or {},
            "base": _base(merchant_id),
        },
        status=status,
    )


def _get_room(
    request: Request, merchant_id: uuid.UUID, store_id: uuid.UUID, room_id: uuid.UUID
) -> FittingRoomOut:
    with request.app.state.db.reading() as s:
        return FittingRoomOut.of(service.get_room(s, merchant_id, store_id, room_id))


@router.get("/fitting-rooms/{store_id:uuid}/{room_id:uuid}")
def room_form(
    request: Request,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    room_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    """One room: edit form and its printable QR code."""
    room = _get_room(request, merchant_id, store_id, room_id)
    return _room_page(request, merchant_id, store_id, room)


@router.post("/fitting-rooms/{store_id:uuid}/{room_id:uuid}")
def save_room(
    request: Request,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    room_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    """Rename, re-code, move, or take out of use (PATCH of the API)."""
    values = _room_values(form)
    return submit(
        request,
        FittingRoomPatch,
        values,
        lambda s, data: service.update_room(s, merchant_id, store_id, room_id, data.changes()),
        _room_errors,
        again=lambda errors: _room_page(
            request,
            merchant_id,
            store_id,
            _get_room(request, merchant_id, store_id, room_id),
            values,
            errors,
            422,
        ),
        to=f"{_base(merchant_id)}?store={store_id}",
        flash="Fitting room saved.",
    )
