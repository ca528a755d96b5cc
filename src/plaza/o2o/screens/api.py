"""HTTP endpoints of digital screens: back-office screens, content and playlists; the
screen-facing `now` (authenticated by the screen's token) and the HTML player."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from plaza.db import Database, utcnow
from plaza.deps import get_db
from plaza.errors import not_found
from plaza.idempotency import fingerprint, idempotency_key, idempotent_write
from plaza.identity.auth import MerchantAccess, Principal, Public
from plaza.identity.models import MerchantRole
from plaza.o2o.screens import service
from plaza.o2o.screens.player import player_csp, player_html
from plaza.o2o.screens.schemas import (
    ContentIn,
    ContentOut,
    NowOut,
    PlaylistIn,
    PlaylistOut,
    ScreenIn,
    ScreenOut,
    ScreenPatch,
    ScreenWithToken,
)
from plaza.pagination import (
    Page,
    PageParams,
    cursor_id,
    id_page,
)

router = APIRouter(tags=["o2o: screens"])
# Narrowcasting is run by people (store and marketing staff); no API-key scope covers it.
staff = MerchantAccess(MerchantRole.STAFF)
SCREENS = "/merchants/{merchant_id}/screens"
CONTENT = "/merchants/{merchant_id}/screen-content"
PLAYLISTS = "/merchants/{merchant_id}/playlists"


# --- screens ----------------------------------------------------------------------------------


@router.get(SCREENS, response_model=Page[ScreenOut])
def list_screens(
    merchant_id: uuid.UUID,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> Page[ScreenOut]:
    """The merchant's screens, oldest first, with when each last asked what to show."""
    listing = f"screens:{merchant_id}"
    with db.reading() as s:
        rows = service.list_screens(
            s, merchant_id, limit=page.limit + 1, after=cursor_id(listing, page)
        )
        return id_page(listing, rows, page.limit, service.screen_view)


@router.post(SCREENS, status_code=201, response_model=ScreenWithToken)
def create_screen(
    merchant_id: uuid.UUID,
    body: ScreenIn,
    request: Request,
    key: str | None = Depends(idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(staff),
) -> JSONResponse:
    """Register a screen in a store zone. The answer carries the screen's secret `token`
    once (Plaza keeps a digest) and the `player_url` to open on the screen."""
    return idempotent_write(
        db,
        scope=p.actor,
        key=key,
        fp=fingerprint("POST", request.url.path, body),
        action=lambda s: service.with_token(*service.create_screen(s, merchant_id, body)),
    )


@router.get(f"{SCREENS}/{{screen_id}}", response_model=ScreenOut)
def get_screen(
    merchant_id: uuid.UUID,
    screen_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> ScreenOut:
    """One screen (never its token)."""
    with db.reading() as s:
        return service.screen_view(service.get_screen(s, merchant_id, screen_id))


@router.patch(f"{SCREENS}/{{screen_id}}", response_model=ScreenOut)
def patch_screen(
    merchant_id: uuid.UUID,
    screen_id: uuid.UUID,
    body: ScreenPatch,
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> ScreenOut:
    """Move, rename or switch off a screen (a switched-off screen's token is refused)."""
    with db.transaction() as s:
        return service.screen_view(service.update_screen(s, merchant_id, screen_id, body))


@router.post(f"{SCREENS}/{{screen_id}}/token", response_model=ScreenWithToken)
def rotate_token(
    merchant_id: uuid.UUID,
    screen_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> ScreenWithToken:
    """Issue a new secret for the screen (shown once); the old one stops working."""
    with db.transaction() as s:
        return service.with_token(*service.rotate_token(s, merchant_id, screen_id))


@router.delete(f"{SCREENS}/{{screen_id}}", status_code=204)
def delete_screen(
    merchant_id: uuid.UUID,
    screen_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> Response:
    """Unregister a screen."""
    with db.transaction() as s:
        service.delete_screen(s, merchant_id, screen_id)
    return Response(status_code=204)


# --- content ----------------------------------------------------------------------------------


@router.get(CONTENT, response_model=Page[ContentOut])
def list_content(
    merchant_id: uuid.UUID,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> Page[ContentOut]:
    """The merchant's content items, oldest first."""
    listing = f"screen-content:{merchant_id}"
    with db.reading() as s:
        rows = service.list_content(
            s, merchant_id, limit=page.limit + 1, after=cursor_id(listing, page)
        )
        return id_page(listing, rows, page.limit, service.content_view)


@router.post(CONTENT, status_code=201, response_model=ContentOut)
def create_content(
    merchant_id: uuid.UUID,
    body: ContentIn,
    request: Request,
    key: str | None = Depends(idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(staff),
) -> JSONResponse:
    """An image or video (`url`), a product card (`product_id`) or an offer (`offer_id`),
    shown for `duration_seconds`; `persona_ids` tag it for strategic personas."""
    return idempotent_write(
        db,
        scope=p.actor,
        key=key,
        fp=fingerprint("POST", request.url.path, body),
        action=lambda s: service.content_view(service.create_content(s, merchant_id, body)),
    )


@router.get(f"{CONTENT}/{{content_id}}", response_model=ContentOut)
def get_content(
    merchant_id: uuid.UUID,
    content_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> ContentOut:
    """One content item."""
    with db.reading() as s:
        return service.content_view(service.get_content(s, merchant_id, content_id))


@router.put(f"{CONTENT}/{{content_id}}", response_model=ContentOut)
def put_content(
    merchant_id: uuid.UUID,
    content_id: uuid.UUID,
    body: ContentIn,
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> ContentOut:
    """Replace a content item."""
    with db.transaction() as s:
        return service.content_view(service.replace_content(s, merchant_id, content_id, body))


@router.delete(f"{CONTENT}/{{content_id}}", status_code=204)
def delete_content(
    merchant_id: uuid.UUID,
    content_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> Response:
    """Remove a content item (playlists skip it from then on)."""
    with db.transaction() as s:
        service.delete_content(s, merchant_id, content_id)
    return Response(status_code=204)


# --- playlists --------------------------------------------------------------------------------


@router.get(PLAYLISTS, response_model=Page[PlaylistOut])
def list_playlists(
    merchant_id: uuid.UUID,
    page: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> Page[PlaylistOut]:
    """The merchant's playlists, oldest first."""
    listing = f"playlists:{merchant_id}"
    with db.reading() as s:
        rows = service.list_playlists(
            s, merchant_id, limit=page.limit + 1, after=cursor_id(listing, page)
        )
        return id_page(listing, rows, page.limit, service.playlist_view)


@router.post(PLAYLISTS, status_code=201, response_model=PlaylistOut)
def create_playlist(
    merchant_id: uuid.UUID,
    body: PlaylistIn,
    request: Request,
    key: str | None = Depends(idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(staff),
) -> JSONResponse:
    """Content items in order, for some screens (or all), on some weekdays, between local
    times, within dates; the highest `priority` scheduled now is what a screen shows."""
    return idempotent_write(
        db,
        scope=p.actor,
        key=key,
        fp=fingerprint("POST", request.url.path, body),
        action=lambda s: service.playlist_view(service.create_playlist(s, merchant_id, body)),
    )


@router.get(f"{PLAYLISTS}/{{playlist_id}}", response_model=PlaylistOut)
def get_playlist(
    merchant_id: uuid.UUID,
    playlist_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> PlaylistOut:
    """One playlist."""
    with db.reading() as s:
        return service.playlist_view(service.get_playlist(s, merchant_id, playlist_id))


@router.put(f"{PLAYLISTS}/{{playlist_id}}", response_model=PlaylistOut)
def put_playlist(
    merchant_id: uuid.UUID,
    playlist_id: uuid.UUID,
    body: PlaylistIn,
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> PlaylistOut:
    """Replace a playlist."""
    with db.transaction() as s:
        return service.playlist_view(service.replace_playlist(s, merchant_id, playlist_id, body))


@router.delete(f"{PLAYLISTS}/{{playlist_id}}", status_code=204)
def delete_playlist(
    merchant_id: uuid.UUID,
    playlist_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> Response:
    """Remove a playlist."""
    with db.transaction() as s:
        service.delete_playlist(s, merchant_id, playlist_id)
    return Response(status_code=204)


# --- the screen itself --------------------------------------------------------------------------


@router.get("/screens/{screen_id}/now", response_model=NowOut)
def now_showing(
    screen_id: uuid.UUID,
    x_screen_token: str | None = Header(
        None, alias="X-Screen-Token", max_length=128, description="The screen's secret."
    ),
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> NowOut:
    """What the screen shows now. Not for people: the screen proves itself with its
    secret in `X-Screen-Token` (403 `screen-token-invalid` without it), so the access
    rule is `public`. Counts only, no personal data: when customers are present in the
    screen's zone, items tagged for their personas come first."""
    now = utcnow()
    with db.reading() as s:
        screen = service.authenticate(s, screen_id, x_screen_token)
        answer = service.now_showing(s, screen, now)
        stale = service.poll_is_stale(screen, now)
    if stale:  # throttled, so polling screens do not each take the write lock
        with db.transaction() as s:
            service.mark_polled(s, screen_id, now)
    return answer


@router.get("/screens/{screen_id}/player", response_class=HTMLResponse)
def player(
    screen_id: uuid.UUID, db: Database = Depends(get_db), _: Principal = Depends(Public())
) -> HTMLResponse:
    """A minimal HTML player for the screen: open `player_url` (the token travels in the
    URL fragment, never to the server's logs); it polls `now` and shows each item."""
    with db.reading() as s:
        if not service.screen_exists(s, screen_id):
            raise not_found("screen", screen_id)
    html = player_html(screen_id)
    return HTMLResponse(html, headers={"Content-Security-Policy": player_csp(html)})
