"""Back-office screens and playlists: screens per store zone, content items (images,
videos, product cards, offers, tagged for personas), playlists with their schedules,
issuing a screen's token (shown once, with the player URL) and a preview of what a
screen shows now."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from plaza.db import utcnow
from plaza.errors import ProblemError
from plaza.identity.auth import MerchantAccess, Principal
from plaza.identity.models import MerchantRole
from plaza.o2o.beacons import offers as offer_service
from plaza.o2o.screens import service
from plaza.o2o.screens.models import ContentKind
from plaza.o2o.screens.schemas import (
    ContentIn,
    ContentOut,
    PlaylistIn,
    PlaylistOut,
    ScreenIn,
    ScreenOut,
    ScreenPatch,
    ScreenWithToken,
)
from plaza.o2o.stores.schemas import WEEKDAYS
from plaza.web.backoffice.beacons import persona_choices
from plaza.web.backoffice.common import office_page
from plaza.web.backoffice.crud import Errors, act, attempt, submit
from plaza.web.backoffice.stores import DAY_NAMES, zone_choices
from plaza.web.forms import field_errors, form_data, problem_errors, text
from plaza.web.render import public_base

router = APIRouter(prefix="/back-office/{merchant_id}")
staff = MerchantAccess(MerchantRole.STAFF)  # narrowcasting is run by people, as in the API
MAX_ROWS = 200
MIN_ITEM_SLOTS = 5
NO_STORE = {"Cache-Control": "no-store"}  # a page showing a secret


def _base(merchant_id: uuid.UUID) -> str:
    return f"/back-office/{merchant_id}/screens"


def _problem(exc: ValidationError | ProblemError, zone_field: str = "zone_id") -> Errors:
    if isinstance(exc, ValidationError):
        return field_errors(exc)
    if exc.status == 404 and exc.extensions.get("resource") == "zone":
        return {zone_field: exc.detail}
    if exc.status not in (409, 422):
        raise exc
    return problem_errors(exc)


# --- overview and screens -------------------------------------------------------------------


def _overview(
    request: Request,
    merchant_id: uuid.UUID,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with request.app.state.db.reading() as s:
        zones = zone_choices(s, merchant_id)
        screens = [
            service.screen_view(x) for x in service.list_screens(s, merchant_id, limit=MAX_ROWS)
        ]
        playlists = [
            service.playlist_view(p) for p in service.list_playlists(s, merchant_id, limit=MAX_ROWS)
        ]
        content = [
            service.content_view(c) for c in service.list_content(s, merchant_id, limit=MAX_ROWS)
        ]
    return office_page(
        request,
        merchant_id,
        "screens",
        "office/screens.html",
        {
            "screens": screens,
            "playlists": playlists,
            "content": content,
            "zones": zones,
            "zone_names": dict(zones),
            "values": values or {"is_active": True},
            "errors": errors or {},
            "base": _base(merchant_id),
        },
        status=status,
    )


@router.get("/screens")
def screens_overview(
    request: Request, merchant_id: uuid.UUID, _: Principal = Depends(staff)
) -> Response:
    """Screens (by store zone), playlists and content items."""
    return _overview(request, merchant_id)


def _screen_values(form: FormData) -> dict[str, Any]:
    return {
        "zone_id": text(form, "zone_id"),
        "name": text(form, "name"),
        "is_active": bool(form.get("is_active")),
    }


def _token_page(request: Request, merchant_id: uuid.UUID, shown: ScreenWithToken) -> Response:
    return office_page(
        request,
        merchant_id,
        "screens",
        "office/screen_token.html",
        {
            "screen": shown,
            "player_url": public_base(request) + shown.player_url,
            "base": _base(merchant_id),
        },
        headers=NO_STORE,
    )


@router.post("/screens")
def register_screen(
    request: Request,
    merchant_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    """Register a screen; the answer shows its token once, with the player URL (a page,
    not a redirect: the secret is never stored to be shown again)."""
    values = _screen_values(form)
    shown: list[ScreenWithToken] = []
    errors = attempt(
        request,
        ScreenIn,
        values,
        lambda s, data: shown.append(
            service.with_token(*service.create_screen(s, merchant_id, data))
        ),
        _problem,
    )
    if errors is not None:
        return _overview(request, merchant_id, values, errors, 422)
    return _token_page(request, merchant_id, shown[0])


def _screen_page(
    request: Request,
    merchant_id: uuid.UUID,
    screen_id: uuid.UUID,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with request.app.state.db.reading() as s:
        screen_row = service.get_screen(s, merchant_id, screen_id)
        screen = service.screen_view(screen_row)
        now = service.now_showing(s, screen_row, utcnow())
        zones = zone_choices(s, merchant_id)
    return office_page(
        request,
        merchant_id,
        "screens",
        "office/screen.html",
        {
            "screen": screen,
            "now": now,
            "zones": zones,
            "values": values
            or {
                "zone_id": str(screen.zone_id),
                "name": screen.name,
                "is_active": screen.is_active,
            },
            "errors": errors or {},
            "base": _base(merchant_id),
        },
        status=status,
    )


@router.get("/screens/{screen_id:uuid}")
def screen_detail(
    request: Request,
    merchant_id: uuid.UUID,
    screen_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    """One screen: edit form, issue a token, and a preview of what it shows now."""
    return _screen_page(request, merchant_id, screen_id)


@router.post("/screens/{screen_id:uuid}")
def save_screen(
    request: Request,
    merchant_id: uuid.UUID,
    screen_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    values = _screen_values(form)
    return submit(
        request,
        ScreenPatch,
        values,
        lambda s, data: service.update_screen(s, merchant_id, screen_id, data),
        _problem,
        again=lambda errors: _screen_page(request, merchant_id, screen_id, values, errors, 422),
        to=f"{_base(merchant_id)}/{screen_id}",
        flash="Screen saved.",
    )


@router.post("/screens/{screen_id:uuid}/token")
def issue_token(
    request: Request,
    merchant_id: uuid.UUID,
    screen_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    """A new secret for the screen, shown once; the old one stops working."""
    with request.app.state.db.transaction() as s:
        shown = service.with_token(*service.rotate_token(s, merchant_id, screen_id))
    return _token_page(request, merchant_id, shown)


@router.post("/screens/{screen_id:uuid}/delete")
def delete_screen(
    request: Request,
    merchant_id: uuid.UUID,
    screen_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    return act(
        request,
        lambda s: service.delete_screen(s, merchant_id, screen_id),
        _base(merchant_id),
        "Screen removed.",
    )


# --- content items ----------------------------------------------------------------------------


def _offer_choices(request: Request, merchant_id: uuid.UUID) -> list[tuple[str, str]]:
    with request.app.state.db.reading() as s:
        return [
            (str(o.id), o.title) for o in offer_service.list_offers(s, merchant_id, limit=MAX_ROWS)
        ]


def content_values(c: ContentOut) -> dict[str, Any]:
    return {
        "kind": c.kind.value,
        "title": c.title,
        "url": c.url or "",
        "product_id": str(c.product_id or ""),
        "offer_id": str(c.offer_id or ""),
        "duration_seconds": str(c.duration_seconds),
        "persona_ids": [str(p) for p in c.persona_ids],
    }


def content_body(form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    names = ("kind", "title", "url", "product_id", "offer_id", "duration_seconds")
    values: dict[str, Any] = {n: text(form, n) for n in names}
    values["persona_ids"] = [str(p) for p in form.getlist("persona_ids") if str(p).strip()]
    kind = values["kind"]
    body: dict[str, Any] = {
        "kind": kind,
        "title": values["title"],
        "duration_seconds": values["duration_seconds"] or 10,
        "persona_ids": values["persona_ids"],
    }
    # Only the field the kind takes travels (the form shows all three).
    need = {"image": "url", "video": "url", "product": "product_id", "offer": "offer_id"}
    if kind in need:
        body[need[kind]] = values[need[kind]] or None
    return values, body


def _content_page(
    request: Request,
    merchant_id: uuid.UUID,
    content: ContentOut | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return office_page(
        request,
        merchant_id,
        "screens",
        "office/screen_content.html",
        {
            "content": content,
            "kinds": [(k.value, k.value.title()) for k in ContentKind],
            "offers": _offer_choices(request, merchant_id),
            "personas": persona_choices(request, merchant_id),
            "values": values,
            "errors": errors or {},
            "base": _base(merchant_id),
        },
        status=status,
    )


@router.get("/screens/content/new")
def new_content(
    request: Request, merchant_id: uuid.UUID, _: Principal = Depends(staff)
) -> Response:
    values = {"kind": "image", "duration_seconds": "10", "persona_ids": []}
    return _content_page(request, merchant_id, None, values)


@router.post("/screens/content")
def create_content(
    request: Request,
    merchant_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    values, body = content_body(form)
    return submit(
        request,
        ContentIn,
        body,
        lambda s, data: service.create_content(s, merchant_id, data),
        _problem,
        again=lambda errors: _content_page(request, merchant_id, None, values, errors, 422),
        to=_base(merchant_id),
        flash="Content item added.",
    )


def _get_content(request: Request, merchant_id: uuid.UUID, content_id: uuid.UUID) -> ContentOut:
    with request.app.state.db.reading() as s:
        return service.content_view(service.get_content(s, merchant_id, content_id))


@router.get("/screens/content/{content_id:uuid}")
def content_form(
    request: Request,
    merchant_id: uuid.UUID,
    content_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    content = _get_content(request, merchant_id, content_id)
    return _content_page(request, merchant_id, content, content_values(content))


@router.post("/screens/content/{content_id:uuid}")
def save_content(
    request: Request,
    merchant_id: uuid.UUID,
    content_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    values, body = content_body(form)
    return submit(
        request,
        ContentIn,
        body,
        lambda s, data: service.replace_content(s, merchant_id, content_id, data),
        _problem,
        again=lambda errors: _content_page(
            request,
            merchant_id,
            _get_content(request, merchant_id, content_id),
            values,
            errors,
            422,
        ),
        to=_base(merchant_id),
        flash="Content item saved.",
    )


@router.post("/screens/content/{content_id:uuid}/delete")
def delete_content(
    request: Request,
    merchant_id: uuid.UUID,
    content_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    return act(
        request,
        lambda s: service.delete_content(s, merchant_id, content_id),
        _base(merchant_id),
        "Content item removed.",
    )


# --- playlists --------------------------------------------------------------------------------


def playlist_values(p: PlaylistOut) -> dict[str, Any]:
    return {
        "name": p.name,
        "priority": str(p.priority),
        "days": list(p.days),
        "daily_from": p.daily_from or "",
        "daily_to": p.daily_to or "",
        "start_date": str(p.start_date or ""),
        "end_date": str(p.end_date or ""),
        "screen_ids": [str(x) for x in p.screen_ids],
        "items": [str(x) for x in p.items],
        "is_active": p.is_active,
    }


def playlist_body(form: FormData) -> tuple[dict[str, Any], dict[str, Any]]:
    names = ("name", "priority", "daily_from", "daily_to", "start_date", "end_date")
    values: dict[str, Any] = {n: text(form, n) for n in names}
    for many in ("days", "screen_ids", "items"):
        values[many] = [str(v).strip() for v in form.getlist(many) if str(v).strip()]
    values["is_active"] = bool(form.get("is_active"))
    body: dict[str, Any] = {
        "name": values["name"],
        "priority": values["priority"] or 0,
        "days": values["days"],
        "daily_from": values["daily_from"] or None,
        "daily_to": values["daily_to"] or None,
        "start_date": values["start_date"] or None,
        "end_date": values["end_date"] or None,
        "screen_ids": values["screen_ids"],
        "items": values["items"],
        "is_active": values["is_active"],
    }
    return values, body


def content_label(title: str, kind: str, personas: int) -> str:
    tagged = f", {personas} persona(s)" if personas else ""
    return f"{title} ({kind}{tagged})"


def _playlist_field(loc: tuple[Any, ...]) -> str:
    return str(loc[0]) if loc else "_form"


def _playlist_page(
    request: Request,
    merchant_id: uuid.UUID,
    playlist: PlaylistOut | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with request.app.state.db.reading() as s:
        screens: list[ScreenOut] = [
            service.screen_view(x) for x in service.list_screens(s, merchant_id, limit=MAX_ROWS)
        ]
        content = [
            (str(c.id), content_label(c.title, c.kind.value, len(c.persona_ids)))
            for c in service.list_content(s, merchant_id, limit=MAX_ROWS)
        ]
    slots = max(MIN_ITEM_SLOTS, len(values.get("items", [])) + 2)
    return office_page(
        request,
        merchant_id,
        "screens",
        "office/screen_playlist.html",
        {
            "playlist": playlist,
            "screens": [(str(x.id), x.name) for x in screens],
            "content": content,
            "slots": slots,
            "weekdays": [(d, DAY_NAMES[d]) for d in WEEKDAYS],
            "values": values,
            "errors": errors or {},
            "base": _base(merchant_id),
        },
        status=status,
    )


def _playlist_errors(exc: ValidationError | ProblemError) -> Errors:
    if isinstance(exc, ValidationError):
        return field_errors(exc, _playlist_field)
    return _problem(exc)


@router.get("/screens/playlists/new")
def new_playlist(
    request: Request, merchant_id: uuid.UUID, _: Principal = Depends(staff)
) -> Response:
    values = {"priority": "0", "days": [], "screen_ids": [], "items": [], "is_active": True}
    return _playlist_page(request, merchant_id, None, values)


@router.post("/screens/playlists")
def create_playlist(
    request: Request,
    merchant_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    values, body = playlist_body(form)
    return submit(
        request,
        PlaylistIn,
        body,
        lambda s, data: service.create_playlist(s, merchant_id, data),
        _playlist_errors,
        again=lambda errors: _playlist_page(request, merchant_id, None, values, errors, 422),
        to=_base(merchant_id),
        flash="Playlist created.",
    )


def _get_playlist(request: Request, merchant_id: uuid.UUID, playlist_id: uuid.UUID) -> PlaylistOut:
    with request.app.state.db.reading() as s:
        return service.playlist_view(service.get_playlist(s, merchant_id, playlist_id))


@router.get("/screens/playlists/{playlist_id:uuid}")
def playlist_form(
    request: Request,
    merchant_id: uuid.UUID,
    playlist_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    playlist = _get_playlist(request, merchant_id, playlist_id)
    return _playlist_page(request, merchant_id, playlist, playlist_values(playlist))


@router.post("/screens/playlists/{playlist_id:uuid}")
def save_playlist(
    request: Request,
    merchant_id: uuid.UUID,
    playlist_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(staff),
) -> Response:
    values, body = playlist_body(form)
    return submit(
        request,
        PlaylistIn,
        body,
        lambda s, data: service.replace_playlist(s, merchant_id, playlist_id, data),
        _playlist_errors,
        again=lambda errors: _playlist_page(
            request,
            merchant_id,
            _get_playlist(request, merchant_id, playlist_id),
            values,
            errors,
            422,
        ),
        to=_base(merchant_id),
        flash="Playlist saved.",
    )


@router.post("/screens/playlists/{playlist_id:uuid}/delete")
def delete_playlist(
    request: Request,
    merchant_id: uuid.UUID,
    playlist_id: uuid.UUID,
    _: Principal = Depends(staff),
) -> Response:
    return act(
        request,
        lambda s: service.delete_playlist(s, merchant_id, playlist_id),
        _base(merchant_id),
        "Playlist removed.",
    )
