"""Screens, content, playlists, and what a screen shows now.

What to show: among the merchant's active playlists for this screen (named in
``screen_ids``, or for all screens), scheduled now in the store's local time (weekday,
daily hours, date range), the one with the highest priority (then the newest). When
customers are present in the screen's zone (open beacon visits) and grant
``personalisation`` consent, the items tagged for the strategic personas they are in go
first, most members present first; the rest keep the playlist's order. The answer
carries counts only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from collections import Counter

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plaza.catalog import service as catalog
from plaza.catalog.features import product_features
from plaza.db import utcnow
from plaza.errors import VALIDATION, ProblemError, not_found, problem_type
from plaza.identity import service as identity
from plaza.o2o.beacons import offers as offer_service
from plaza.o2o.beacons.models import ProximityOffer
from plaza.o2o.beacons.visits import open_visits_in_zone
from plaza.o2o.screens.models import ContentKind, Playlist, Screen, ScreenContent
from plaza.o2o.screens.schemas import (
    Audience,
    ContentIn,
    ContentOut,
    NowItem,
    NowOut,
    OfferCard,
    PlaylistIn,
    PlaylistOut,
    ProductCard,
    ScreenIn,
    ScreenOut,
    ScreenPatch,
    ScreenWithToken,
)
from plaza.o2o.stores import service as stores
from plaza.o2o.stores.schemas import WEEKDAYS, minutes
from plaza.personas import lookup as personas
from plaza.privacy.service import has_consent
from plaza.tenancy import get_owned

TOKEN_PREFIX = "scr_"
REFRESH_SECONDS = 30
POLL_RESOLUTION = dt.timedelta(minutes=1)

SCREEN_TOKEN_INVALID = problem_type(
    "screen-token-invalid",
    "Screen token missing or wrong",
    403,
    "Send the screen's secret (returned once when it was registered or its token rotated) "
    "in `X-Screen-Token`.",
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _invalid(field: str, msg: str) -> ProblemError:
    return ProblemError(VALIDATION, msg, errors=[{"loc": ["body", field], "msg": msg}])


# --- screens ----------------------------------------------------------------------------------


def screen_view(screen: Screen) -> ScreenOut:
    return ScreenOut(
        id=screen.id,
        store_id=screen.location_id,
        zone_id=screen.zone_id,
        name=screen.name,
        is_active=screen.is_active,
        last_polled_at=screen.last_polled_at,
        created_at=screen.created_at,
    )


def with_token(screen: Screen, token: str) -> ScreenWithToken:
    return ScreenWithToken(
        **screen_view(screen).model_dump(),
        token=token,
        player_url=f"/screens/{screen.id}/player#token={token}",
    )


def create_screen(s: Session, merchant_id: uuid.UUID, data: ScreenIn) -> tuple[Screen, str]:
    zone = stores.get_zone(s, data.zone_id, merchant_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    screen = Screen(
        merchant_id=merchant_id,
        location_id=zone.location_id,
        zone_id=zone.id,
        name=data.name,
        is_active=data.is_active,
        token_digest=_digest(token),
    )
    s.add(screen)
    s.flush()
    return screen, token


def get_screen(s: Session, merchant_id: uuid.UUID, screen_id: uuid.UUID) -> Screen:
    return get_owned(s, Screen, merchant_id, screen_id, "screen")


def list_screens(
    s: Session, merchant_id: uuid.UUID, *, limit: int, after: uuid.UUID | None = None
) -> list[Screen]:
    q = select(Screen).where(Screen.merchant_id == merchant_id)
    if after is not None:
        q = q.where(Screen.id > after)
    return list(s.scalars(q.order_by(Screen.id).limit(limit)))


def update_screen(
    s: Session, merchant_id: uuid.UUID, screen_id: uuid.UUID, data: ScreenPatch
) -> Screen:
    screen = get_screen(s, merchant_id, screen_id)
    if data.zone_id is not None:
        zone = stores.get_zone(s, data.zone_id, merchant_id)
        screen.zone_id, screen.location_id = zone.id, zone.location_id
    if data.name is not None:
        screen.name = data.name
    if data.is_active is not None:
        screen.is_active = data.is_active
    s.flush()
    return screen


def rotate_token(s: Session, merchant_id: uuid.UUID, screen_id: uuid.UUID) -> tuple[Screen, str]:
    """A new secret; the old one stops working at once."""
    screen = get_screen(s, merchant_id, screen_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    screen.token_digest = _digest(token)
    s.flush()
    return screen, token


def delete_screen(s: Session, merchant_id: uuid.UUID, screen_id: uuid.UUID) -> None:
    s.delete(get_screen(s, merchant_id, screen_id))
    s.flush()


def authenticate(s: Session, screen_id: uuid.UUID, token: str | None) -> Screen:
    """The screen if ``token`` is its secret; 404 for an unknown screen, 403
    ``screen-token-invalid`` for a missing or wrong token or a switched-off screen."""
    screen = s.get(Screen, screen_id)
    if screen is None:
        raise not_found("screen", screen_id)
    if (
        not token
        or not screen.is_active
        or not hmac.compare_digest(screen.token_digest, _digest(token))
    ):
        raise ProblemError(SCREEN_TOKEN_INVALID)
    return screen


def screen_exists(s: Session, screen_id: uuid.UUID) -> bool:
    return s.get(Screen, screen_id) is not None


def poll_is_stale(screen: Screen, now: dt.datetime) -> bool:
    return screen.last_polled_at is None or now - screen.last_polled_at > POLL_RESOLUTION


def mark_polled(s: Session, screen_id: uuid.UUID, now: dt.datetime) -> None:
    s.execute(update(Screen).where(Screen.id == screen_id).values(last_polled_at=now))


# --- content ----------------------------------------------------------------------------------


def content_view(c: ScreenContent) -> ContentOut:
    return ContentOut(
        id=c.id,
        kind=c.kind,
        title=c.title,
        url=c.url,
        product_id=c.product_id,
        offer_id=c.offer_id,
        duration_seconds=c.duration_seconds,
        persona_ids=[uuid.UUID(p) for p in c.persona_ids],
        created_at=c.created_at,
    )


def _check_content(s: Session, merchant_id: uuid.UUID, data: ContentIn) -> None:
    if data.product_id is not None and catalog.product_merchant(s, data.product_id) != merchant_id:
        raise _invalid("product_id", f"product {data.product_id} is not the merchant's")
    if data.offer_id is not None:
        try:
            offer_service.get_offer(s, merchant_id, data.offer_id)
        except ProblemError as exc:
            raise _invalid("offer_id", f"offer {data.offer_id} is not the merchant's") from exc
    if data.persona_ids:
        mine = personas.persona_ids(s, merchant_id)
        unknown = [str(p) for p in data.persona_ids if p not in mine]
        if unknown:
            raise _invalid("persona_ids", f"not the merchant's personas: {', '.join(unknown)}")


def _apply_content(c: ScreenContent, data: ContentIn) -> None:
    c.kind = data.kind
    c.title = data.title
    c.url = data.url
    c.product_id = data.product_id
    c.offer_id = data.offer_id
    c.duration_seconds = data.duration_seconds
    c.persona_ids = [str(p) for p in data.persona_ids]


def create_content(s: Session, merchant_id: uuid.UUID, data: ContentIn) -> ScreenContent:
    _check_content(s, merchant_id, data)
    c = ScreenContent(merchant_id=merchant_id)
    _apply_content(c, data)
    s.add(c)
    s.flush()
    return c


def get_content(s: Session, merchant_id: uuid.UUID, content_id: uuid.UUID) -> ScreenContent:
    return get_owned(s, ScreenContent, merchant_id, content_id, "content item")


def replace_content(
    s: Session, merchant_id: uuid.UUID, content_id: uuid.UUID, data: ContentIn
) -> ScreenContent:
    c = get_content(s, merchant_id, content_id)
    _check_content(s, merchant_id, data)
    _apply_content(c, data)
    s.flush()
    return c


def delete_content(s: Session, merchant_id: uuid.UUID, content_id: uuid.UUID) -> None:
    """Remove an item; playlists naming it skip it from now on."""
    s.delete(get_content(s, merchant_id, content_id))
    s.flush()


def list_content(
    s: Session, merchant_id: uuid.UUID, *, limit: int, after: uuid.UUID | None = None
) -> list[ScreenContent]:
    q = select(ScreenContent).where(ScreenContent.merchant_id == merchant_id)
    if after is not None:
        q = q.where(ScreenContent.id > after)
    return list(s.scalars(q.order_by(ScreenContent.id).limit(limit)))


# --- playlists --------------------------------------------------------------------------------


def playlist_view(p: Playlist) -> PlaylistOut:
    return PlaylistOut(
        id=p.id,
        name=p.name,
        priority=p.priority,
        days=list(p.days),
        daily_from=p.daily_from,
        daily_to=p.daily_to,
        start_date=p.start_date,
        end_date=p.end_date,
        screen_ids=[uuid.UUID(x) for x in p.screen_ids],
        items=[uuid.UUID(x) for x in p.items],
        is_active=p.is_active,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def _check_playlist(s: Session, merchant_id: uuid.UUID, data: PlaylistIn) -> None:
    if data.items:
        found = set(
            s.scalars(
                select(ScreenContent.id).where(
                    ScreenContent.merchant_id == merchant_id,
                    ScreenContent.id.in_(set(data.items)),
                )
            )
        )
        missing = [str(i) for i in data.items if i not in found]
        if missing:
            raise _invalid("items", f"not the merchant's content items: {', '.join(missing)}")
    if data.screen_ids:
        found = set(
            s.scalars(
                select(Screen.id).where(
                    Screen.merchant_id == merchant_id, Screen.id.in_(set(data.screen_ids))
                )
            )
        )
        missing = [str(i) for i in data.screen_ids if i not in found]
        if missing:
            raise _invalid("screen_ids", f"not the merchant's screens: {', '.join(missing)}")


def _apply_playlist(p: Playlist, data: PlaylistIn) -> None:
    p.name = data.name
    p.priority = data.priority
    p.days = [d for d in WEEKDAYS if d in data.days]
    p.daily_from = data.daily_from
    p.daily_to = data.daily_to
    p.start_date = data.start_date
    p.end_date = data.end_date
    p.screen_ids = [str(x) for x in data.screen_ids]
    p.items = [str(x) for x in data.items]
    p.is_active = data.is_active


def create_playlist(s: Session, merchant_id: uuid.UUID, data: PlaylistIn) -> Playlist:
    _check_playlist(s, merchant_id, data)
    p = Playlist(merchant_id=merchant_id)
    _apply_playlist(p, data)
    s.add(p)
    s.flush()
    return p


def get_playlist(s: Session, merchant_id: uuid.UUID, playlist_id: uuid.UUID) -> Playlist:
    return get_owned(s, Playlist, merchant_id, playlist_id, "playlist")


def replace_playlist(
    s: Session, merchant_id: uuid.UUID, playlist_id: uuid.UUID, data: PlaylistIn
) -> Playlist:
    p = get_playlist(s, merchant_id, playlist_id)
    _check_playlist(s, merchant_id, data)
    _apply_playlist(p, data)
    s.flush()
    return p


def delete_playlist(s: Session, merchant_id: uuid.UUID, playlist_id: uuid.UUID) -> None:
    s.delete(get_playlist(s, merchant_id, playlist_id))
    s.flush()


def list_playlists(
    s: Session, merchant_id: uuid.UUID, *, limit: int, after: uuid.UUID | None = None
) -> list[Playlist]:
    q = select(Playlist).where(Playlist.merchant_id == merchant_id)
    if after is not None:
        q = q.where(Playlist.id > after)
    return list(s.scalars(q.order_by(Playlist.id).limit(limit)))


# --- now ----------------------------------------------------------------------------------------


def scheduled(p: Playlist, local: dt.datetime) -> bool:
    """Whether playlist ``p`` runs at the store-local time ``local``."""
    day = local.date()
    if p.start_date is not None and day < p.start_date:
        return False
    if p.end_date is not None and day > p.end_date:
        return False
    if p.days and WEEKDAYS[day.weekday()] not in p.days:
        return False
    if p.daily_from is not None and p.daily_to is not None:
        at = local.hour * 60 + local.minute
        if not minutes(p.daily_from) <= at < minutes(p.daily_to):
            return False
    return True


def current_playlist(s: Session, screen: Screen, local: dt.datetime) -> Playlist | None:
    rows = s.scalars(
        select(Playlist)
        .where(Playlist.merchant_id == screen.merchant_id, Playlist.is_active.is_(True))
        .order_by(Playlist.priority.desc(), Playlist.id.desc())
    )
    for p in rows:
        if p.screen_ids and str(screen.id) not in p.screen_ids:
            continue
        if scheduled(p, local):
            return p
    return None


def _present_personas(
    s: Session, screen: Screen, now: dt.datetime
) -> tuple[int, dict[uuid.UUID, set[str]]]:
    """How many customers are in the screen's zone, and the personas of the ones who
    grant ``personalisation`` consent (kept in memory, never answered)."""
    present = {v.user_id for v in open_visits_in_zone(s, screen.zone_id, now=now)}
    consenting = [u for u in present if has_consent(s, u, "personalisation")]
    members = personas.member_personas(s, screen.merchant_id, consenting)
    return len(present), {u: {str(p) for p in ps} for u, ps in members.items()}


def _cards(
    s: Session, screen: Screen, items: list[ScreenContent]
) -> tuple[dict[uuid.UUID, ProductCard], dict[uuid.UUID, OfferCard]]:
    currency = identity.get_merchant(s, screen.merchant_id).default_currency
    product_ids = [c.product_id for c in items if c.product_id is not None]
    products: dict[uuid.UUID, ProductCard] = {}
    for pid, f in product_features(s, product_ids, currency=currency).items():
        if f.sellable:
            products[pid] = ProductCard(
                id=pid, title=f.title, brand=f.brand, price=f.min_price, currency=currency
            )
    offer_ids = [c.offer_id for c in items if c.offer_id is not None]
    offers: dict[uuid.UUID, OfferCard] = {}
    if offer_ids:
        now = utcnow()
        for o in s.scalars(select(ProximityOffer).where(ProximityOffer.id.in_(offer_ids))):
            if o.is_active and o.starts_at <= now < o.ends_at:  # only offers that run now
                offers[o.id] = OfferCard(id=o.id, title=o.title, message=o.message)
    return products, offers


def now_showing(s: Session, screen: Screen, now: dt.datetime | None = None) -> NowOut:
    now = now or utcnow()
    store = stores.get_store(s, screen.merchant_id, screen.location_id)
    local = stores.local_now(store.timezone, now)
    playlist = current_playlist(s, screen, local)
    present, members = _present_personas(s, screen, now)
    counts: Counter[str] = Counter(p for ps in members.values() for p in ps)
    items: list[NowItem] = []
    matched = 0
    if playlist is not None:
        by_id = {
            str(c.id): c
            for c in s.scalars(
                select(ScreenContent).where(
                    ScreenContent.merchant_id == screen.merchant_id,
                    ScreenContent.id.in_([uuid.UUID(x) for x in playlist.items]),
                )
            )
        }
        ordered = [by_id[x] for x in playlist.items if x in by_id]
        products, offers = _cards(s, screen, ordered)

        def weight(c: ScreenContent) -> int:
            return sum(counts.get(p, 0) for p in c.persona_ids)

        # Stable sort: items for the personas present first (most members first), the
        # rest in the playlist's order.
        ranked = sorted(enumerate(ordered), key=lambda ic: (-weight(ic[1]), ic[0]))
        targeted = {p for c in ordered if weight(c) > 0 for p in c.persona_ids}
        matched = sum(1 for ps in members.values() if ps & targeted)
        for _, c in ranked:
            if c.kind == ContentKind.PRODUCT and c.product_id not in products:
                continue  # sold out of the catalog, archived, or the merchant is closed
            if c.kind == ContentKind.OFFER and c.offer_id not in offers:
                continue
            items.append(
                NowItem(
                    content_id=c.id,
                    kind=c.kind,
                    title=c.title,
                    duration_seconds=c.duration_seconds,
                    url=c.url,
                    product=products.get(c.product_id) if c.product_id else None,
                    offer=offers.get(c.offer_id) if c.offer_id else None,
                    for_audience=weight(c) > 0,
                )
            )
    return NowOut(
        screen_id=screen.id,
        playlist_id=playlist.id if playlist else None,
        playlist_name=playlist.name if playlist else None,
        generated_at=now,
        refresh_seconds=REFRESH_SECONDS,
        audience=Audience(present=present, matched=matched),
        items=items,
    )
