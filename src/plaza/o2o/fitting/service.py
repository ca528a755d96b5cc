"""Smart fitting rooms: rooms, sessions opened by scanning garments, size requests worked
by store staff, and what was tried versus bought.

Who sees a session: the shopper who opened it on their phone and the store's staff
(members of its merchant); anyone else gets 404, as if it did not exist. Staff may open
a session for a walk-in shopper (no account): it then has no customer, and only staff
record what was bought.

Tried vs bought: every item scanned (or brought for a size request) was tried. Bought is
taken from ordering's facts (``ordering.queries.paid_lines``): a paid order of the
session's customer that contains a tried variant, paid between the session's opening and
``PURCHASE_WINDOW`` after it closed. At close, staff may add sales ordering cannot know
of (a till sale to a walk-in, cash); purchases paid after the close are matched by the
``order.paid`` subscriber and announced as ``o2o.fitting_item_bought``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plaza.catalog import lookup as catalog
from plaza.db import utcnow
from plaza.errors import FORBIDDEN, ProblemError, not_found, problem_type
from plaza.events import emit, event_type
from plaza.identity.auth import Principal
from plaza.inventory import service as inventory
from plaza.o2o import codes
from plaza.o2o.fitting.models import (
    BoughtVia,
    FittingItem,
    FittingRoom,
    FittingSession,
    ItemSource,
    RequestStatus,
    SessionStatus,
    SizeRequest,
)
from plaza.o2o.stores import service as stores
from plaza.ordering import queries as ordering

MAX_ITEMS_PER_SESSION = 30  # a fitting room holds a handful of garments, not a rail
MAX_OPEN_REQUESTS = 10
PURCHASE_WINDOW = dt.timedelta(hours=24)
# Sessions nobody closed (the shopper walked out) are closed by housekeeping after this.
STALE_AFTER = dt.timedelta(hours=4)

ROOM_CODE_TAKEN = problem_type(
    "fitting-room-code-taken",
    "Fitting room code taken",
    409,
    "The store already has a fitting room with this code; codes are unique per store.",
)
ROOM_UNAVAILABLE = problem_type(
    "fitting-room-unavailable",
    "Fitting room not available",
    409,
    "The fitting room is switched off (`is_active: false`) or another shopper's session is "
    "open in it; staff close that session first.",
)
ZONE_NOT_IN_STORE = problem_type(
    "zone-not-in-store",
    "Zone belongs to another store",
    422,
    "A fitting room is registered to a zone of its own store.",
)
SESSION_CLOSED = problem_type(
    "fitting-session-closed",
    "Fitting session closed",
    409,
    "The fitting session is closed; open a new one to scan more items or ask for sizes.",
)
CODE_UNKNOWN = problem_type(
    "code-unknown",
    "No such item in this store's catalogue",
    422,
    "The scanned code decodes to a GTIN that no variant of the store's merchant carries; "
    "`code` and `gtin` name it.",
)
TOO_MANY_ITEMS = problem_type(
    "fitting-session-full",
    "Too many items in the fitting session",
    422,
    f"A fitting session holds at most {MAX_ITEMS_PER_SESSION} items and "
    f"{MAX_OPEN_REQUESTS} open size requests.",
)
REQUEST_TRANSITION = problem_type(
    "size-request-transition",
    "Size request cannot move to that state",
    409,
    "Size requests move requested → picking → delivered, and requested or picking → "
    "unavailable or cancelled; shoppers may only cancel. `from` and `to` name the move.",
)
BOUGHT_NOT_TRIED = problem_type(
    "bought-not-tried",
    "Bought item was not tried",
    422,
    "`bought_variant_ids` names only variants tried in this session.",
)

SESSION_OPENED = event_type(
    "o2o.fitting_session_opened",
    "A fitting-room session opened; payload: session_id, store_id, room_id, zone_id, user_id "
    "(null for a walk-in), opened_by_staff.",
)
ITEM_ADDED = event_type(
    "o2o.fitting_item_added",
    "A garment was scanned into a fitting session (or brought for a size request); "
    "payload: session_id, item_id, store_id, user_id, variant_id, product_id, source.",
)
SIZE_REQUESTED = event_type(
    "o2o.size_requested",
    "A shopper asked staff for another size or colour; payload: request_id, session_id, "
    "store_id, room_id, variant_id.",
)
SIZE_REQUEST_CHANGED = event_type(
    "o2o.size_request_changed",
    "A size request moved; payload: request_id, session_id, store_id, variant_id, from, to.",
)
SESSION_CLOSED_EVENT = event_type(
    "o2o.fitting_session_closed",
    "A fitting session closed; payload: session_id, store_id, room_id, zone_id, user_id, "
    "tried and bought (lists of {variant_id, product_id}), tried_count, bought_count, "
    "duration_seconds, closed_by (customer | staff | system).",
)
ITEM_BOUGHT = event_type(
    "o2o.fitting_item_bought",
    "A garment tried in a closed fitting session was bought within the purchase window; "
    "payload: session_id, item_id, store_id, user_id, variant_id, order_id.",
)

TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.REQUESTED: frozenset(
        {RequestStatus.PICKING, RequestStatus.UNAVAILABLE, RequestStatus.CANCELLED}
    ),
    RequestStatus.PICKING: frozenset(
        {RequestStatus.DELIVERED, RequestStatus.UNAVAILABLE, RequestStatus.CANCELLED}
    ),
    RequestStatus.DELIVERED: frozenset(),
    RequestStatus.UNAVAILABLE: frozenset(),
    RequestStatus.CANCELLED: frozenset(),
}
OPEN_REQUEST_STATES = (RequestStatus.REQUESTED, RequestStatus.PICKING)


# --- rooms -------------------------------------------------------------------------------


def _check_zone(
    s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID, zone_id: uuid.UUID
) -> None:
    zone = stores.get_zone(s, zone_id, merchant_id)
    if zone.location_id != location_id:
        raise ProblemError(ZONE_NOT_IN_STORE, f"zone {zone_id} is in another store")


def _flush_room(s: Session, code: str) -> None:
    try:
        with s.begin_nested():
            s.flush()
    except IntegrityError as exc:
        raise ProblemError(ROOM_CODE_TAKEN, code=code) from exc


def create_room(
    s: Session,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    *,
    zone_id: uuid.UUID,
    code: str,
    name: str,
    is_active: bool = True,
) -> FittingRoom:
    stores.get_store(s, merchant_id, location_id)
    _check_zone(s, merchant_id, location_id, zone_id)
    taken = s.scalar(
        select(FittingRoom.id).where(
            FittingRoom.location_id == location_id, FittingRoom.code == code
        )
    )
    if taken is not None:
        raise ProblemError(ROOM_CODE_TAKEN, code=code)
    room = FittingRoom(
        merchant_id=merchant_id,
        location_id=location_id,
        zone_id=zone_id,
        code=code,
        name=name,
        is_active=is_active,
    )
    s.add(room)
    _flush_room(s, code)
    return room


def get_room(
    s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID, room_id: uuid.UUID
) -> FittingRoom:
    room = s.scalar(
        select(FittingRoom).where(
            FittingRoom.id == room_id,
            FittingRoom.merchant_id == merchant_id,
            FittingRoom.location_id == location_id,
        )
    )
    if room is None:
        raise not_found("fitting room", room_id)
    return room


def update_room(
    s: Session,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    room_id: uuid.UUID,
    changes: dict[str, object],
) -> FittingRoom:
    room = get_room(s, merchant_id, location_id, room_id)
    if changes.get("zone_id") is not None:
        _check_zone(s, merchant_id, location_id, changes["zone_id"])  # type: ignore[arg-type]
    if "code" in changes and changes["code"] != room.code:
        taken = s.scalar(
            select(FittingRoom.id).where(
                FittingRoom.location_id == location_id, FittingRoom.code == changes["code"]
            )
        )
        if taken is not None:
            raise ProblemError(ROOM_CODE_TAKEN, code=str(changes["code"]))
    for name, value in changes.items():
        setattr(room, name, value)
    _flush_room(s, room.code)
    return room


def list_rooms(
    s: Session,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    *,
    limit: int,
    after: uuid.UUID | None = None,
) -> Sequence[FittingRoom]:
    stores.get_store(s, merchant_id, location_id)
    q = select(FittingRoom).where(
        FittingRoom.merchant_id == merchant_id, FittingRoom.location_id == location_id
    )
    if after is not None:
        q = q.where(FittingRoom.id > after)
    return list(s.scalars(q.order_by(FittingRoom.id).limit(limit)))


def _any_room(s: Session, room_id: uuid.UUID) -> FittingRoom:
    room = s.get(FittingRoom, room_id)
    if room is None:
        raise not_found("fitting room", room_id)
    return room


# --- who may see a session -----------------------------------------------------------------


def is_staff(principal: Principal, merchant_id: uuid.UUID) -> bool:
    """Store staff = members (staff or admin) of the store's merchant; platform admins."""
    return principal.is_platform_admin or (
        principal.kind == "user" and merchant_id in principal.memberships
    )


def get_session(
    s: Session, principal: Principal, session_id: uuid.UUID, *, lock: bool = False
) -> FittingSession:
    q = select(FittingSession).where(FittingSession.id == session_id)
    if lock:
        q = q.with_for_update()
    fs = s.scalar(q)
    if fs is None or not (
        (fs.customer_id is not None and fs.customer_id == principal.user_id)
        or is_staff(principal, fs.merchant_id)
    ):
        raise not_found("fitting session", session_id)
    return fs


def _open(fs: FittingSession) -> None:
    if fs.status != SessionStatus.OPEN:
        raise ProblemError(SESSION_CLOSED, f"fitting session {fs.id} is closed")


# --- items ------------------------------------------------------------------------------


def _resolve(
    s: Session, merchant_id: uuid.UUID, raw: str
) -> tuple[codes.ScannedCode, catalog.VariantRef]:
    scanned = codes.parse_code(raw)
    found = catalog.variants_by_gtin(s, scanned.gtin, merchant_id)
    if not found:
        raise ProblemError(
            CODE_UNKNOWN,
            f"no item of this store carries GTIN {scanned.gtin}",
            code=raw[:100],
            gtin=scanned.gtin,
        )
    return scanned, found[0]


def _item_payload(fs: FittingSession, item: FittingItem) -> dict[str, object]:
    return {
        "session_id": str(fs.id),
        "item_id": str(item.id),
        "store_id": str(fs.location_id),
        "user_id": str(fs.customer_id) if fs.customer_id else None,
        "variant_id": str(item.variant_id),
        "product_id": str(item.product_id),
        "source": item.source.value,
    }


def _items(s: Session, session_id: uuid.UUID) -> list[FittingItem]:
    return list(
        s.scalars(
            select(FittingItem)
            .where(FittingItem.session_id == session_id)
            .order_by(FittingItem.added_at, FittingItem.id)
        )
    )


def _add_item(
    s: Session,
    fs: FittingSession,
    existing: list[FittingItem],
    ref: catalog.VariantRef,
    *,
    serial: str,
    code_kind: str,
    source: ItemSource,
) -> FittingItem:
    """Add a garment once: a tag read again (same variant and serial) is the same item."""
    for item in existing:
        if item.variant_id == ref.variant_id and item.serial == serial:
            return item
    if len(existing) >= MAX_ITEMS_PER_SESSION:
        raise ProblemError(TOO_MANY_ITEMS, f"at most {MAX_ITEMS_PER_SESSION} items")
    item = FittingItem(
        session_id=fs.id,
        merchant_id=fs.merchant_id,
        variant_id=ref.variant_id,
        product_id=ref.product_id,
        gtin=ref.gtin,
        serial=serial,
        code_kind=code_kind,
        source=source,
    )
    s.add(item)
    s.flush()
    existing.append(item)
    emit(
        s,
        ITEM_ADDED,
        aggregate_type="fitting_session",
        aggregate_id=fs.id,
        merchant_id=fs.merchant_id,
        payload=_item_payload(fs, item),
    )
    return item


def add_items(s: Session, fs: FittingSession, raw_codes: Iterable[str]) -> list[FittingItem]:
    """Decode every code first (one bad tag fails the whole scan, naming it), then add."""
    _open(fs)
    resolved = [_resolve(s, fs.merchant_id, raw) for raw in raw_codes]
    existing = _items(s, fs.id)
    for scanned, ref in resolved:
        _add_item(
            s,
            fs,
            existing,
            ref,
            serial=scanned.serial or "",
            code_kind=scanned.kind,
            source=ItemSource.SCAN,
        )
    return existing


# --- sessions -----------------------------------------------------------------------------


def open_session(
    s: Session, principal: Principal, room_id: uuid.UUID, raw_codes: list[str]
) -> FittingSession:
    """Open a session in a room (or continue the caller's own open one there)."""
    room = _any_room(s, room_id)
    staff = is_staff(principal, room.merchant_id)
    if not room.is_active:
        raise ProblemError(ROOM_UNAVAILABLE, f"fitting room {room.code} is not in use")
    current = s.scalar(
        select(FittingSession)
        .where(FittingSession.room_id == room.id, FittingSession.status == SessionStatus.OPEN)
        .with_for_update()
    )
    if current is not None:
        if current.customer_id is not None and current.customer_id == principal.user_id:
            add_items(s, current, raw_codes)  # the same shopper scanning the door QR again
            return current
        raise ProblemError(ROOM_UNAVAILABLE, f"fitting room {room.code} is occupied")
    fs = FittingSession(
        merchant_id=room.merchant_id,
        location_id=room.location_id,
        room_id=room.id,
        zone_id=room.zone_id,
        customer_id=None if staff else principal.user_id,
        opened_by=principal.actor,
    )
    s.add(fs)
    s.flush()
    emit(
        s,
        SESSION_OPENED,
        aggregate_type="fitting_session",
        aggregate_id=fs.id,
        merchant_id=fs.merchant_id,
        payload={
            "session_id": str(fs.id),
            "store_id": str(fs.location_id),
            "room_id": str(room.id),
            "zone_id": str(room.zone_id) if room.zone_id else None,
            "user_id": str(fs.customer_id) if fs.customer_id else None,
            "opened_by_staff": staff,
        },
    )
    add_items(s, fs, raw_codes)
    return fs


def list_sessions(
    s: Session,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    *,
    status: SessionStatus | None,
    limit: int,
    before: uuid.UUID | None = None,
) -> Sequence[FittingSession]:
    """A store's sessions, newest first."""
    stores.get_store(s, merchant_id, location_id)
    q = select(FittingSession).where(
        FittingSession.merchant_id == merchant_id, FittingSession.location_id == location_id
    )
    if status is not None:
        q = q.where(FittingSession.status == status)
    if before is not None:
        q = q.where(FittingSession.id < before)
    return list(s.scalars(q.order_by(FittingSession.id.desc()).limit(limit)))


def _tried_payload(items: Iterable[FittingItem]) -> list[dict[str, str]]:
    seen: dict[uuid.UUID, dict[str, str]] = {}
    for item in items:
        seen.setdefault(
            item.variant_id,
            {"variant_id": str(item.variant_id), "product_id": str(item.product_id)},
        )
    return list(seen.values())


def _mark_bought_from_orders(
    s: Session, fs: FittingSession, items: list[FittingItem], until: dt.datetime
) -> None:
    if fs.customer_id is None:
        return
    wanted = {i.variant_id for i in items if not i.bought}
    if not wanted:
        return
    for line in ordering.paid_lines(s, since=fs.opened_at):
        if (
            line.customer_id == fs.customer_id
            and line.variant_id in wanted
            and line.paid_at <= until
        ):
            for item in items:
                if item.variant_id == line.variant_id and not item.bought:
                    item.bought, item.bought_via, item.order_id = (
                        True,
                        BoughtVia.ORDER,
                        line.order_id,
                    )


def close_session(
    s: Session,
    principal: Principal | None,
    fs: FittingSession,
    bought_variant_ids: list[uuid.UUID],
) -> FittingSession:
    """Close (closing a closed session again is a no-op). ``principal`` None: housekeeping."""
    if fs.status == SessionStatus.CLOSED:
        return fs
    staff = principal is not None and is_staff(principal, fs.merchant_id)
    if bought_variant_ids and not staff:
        raise ProblemError(FORBIDDEN, "only store staff record what was bought at close")
    items = _items(s, fs.id)
    tried = {i.variant_id for i in items}
    stray = [v for v in bought_variant_ids if v not in tried]
    if stray:
        raise ProblemError(
            BOUGHT_NOT_TRIED,
            f"variant {stray[0]} was not tried",
            variant_ids=[str(v) for v in stray],
        )
    now = utcnow()
    for item in items:
        if item.variant_id in bought_variant_ids and not item.bought:
            item.bought, item.bought_via = True, BoughtVia.STAFF
    _mark_bought_from_orders(s, fs, items, now)
    for req in s.scalars(
        select(SizeRequest).where(
            SizeRequest.session_id == fs.id, SizeRequest.status.in_(OPEN_REQUEST_STATES)
        )
    ):
        _move(s, fs, req, RequestStatus.CANCELLED, principal.actor if principal else "system")
    fs.status = SessionStatus.CLOSED
    fs.closed_at = now
    fs.closed_by = principal.actor if principal else "system"
    s.flush()
    opened = fs.opened_at if fs.opened_at.tzinfo else fs.opened_at.replace(tzinfo=dt.UTC)
    emit(
        s,
        SESSION_CLOSED_EVENT,
        aggregate_type="fitting_session",
        aggregate_id=fs.id,
        merchant_id=fs.merchant_id,
        payload={
            "session_id": str(fs.id),
            "store_id": str(fs.location_id),
            "room_id": str(fs.room_id),
            "zone_id": str(fs.zone_id) if fs.zone_id else None,
            "user_id": str(fs.customer_id) if fs.customer_id else None,
            "tried": _tried_payload(items),
            "bought": _tried_payload(i for i in items if i.bought),
            "tried_count": len(tried),
            "bought_count": len({i.variant_id for i in items if i.bought}),
            "duration_seconds": int((now - opened).total_seconds()),
            "closed_by": "system" if principal is None else ("staff" if staff else "customer"),
        },
    )
    return fs


def close_stale(s: Session, now: dt.datetime | None = None, limit: int = 100) -> int:
    """Close sessions left open longer than ``STALE_AFTER`` (housekeeping)."""
    cutoff = (now or utcnow()) - STALE_AFTER
    stale = list(
        s.scalars(
            select(FittingSession)
            .where(FittingSession.status == SessionStatus.OPEN, FittingSession.opened_at < cutoff)
            .order_by(FittingSession.id)
            .limit(limit)
            .with_for_update()
        )
    )
    for fs in stale:
        close_session(s, None, fs, [])
    return len(stale)


def record_purchase(
    s: Session,
    customer_id: uuid.UUID,
    order_id: uuid.UUID,
    variant_ids: set[uuid.UUID],
    paid_at: dt.datetime,
) -> int:
    """A paid order of ``customer_id``: mark the variants tried in their sessions that were
    open at ``paid_at`` or closed within ``PURCHASE_WINDOW`` before it. Idempotent (only
    items not yet bought change); returns how many items it marked."""
    sessions = list(
        s.scalars(
            select(FittingSession).where(
                FittingSession.customer_id == customer_id,
                FittingSession.opened_at <= paid_at,
                or_(
                    FittingSession.status == SessionStatus.OPEN,
                    FittingSession.closed_at >= paid_at - PURCHASE_WINDOW,
                ),
            )
        )
    )
    marked = 0
    for fs in sessions:
        for item in _items(s, fs.id):
            if item.variant_id in variant_ids and not item.bought:
                item.bought, item.bought_via, item.order_id = True, BoughtVia.ORDER, order_id
                marked += 1
                if fs.status == SessionStatus.CLOSED:
                    emit(
                        s,
                        ITEM_BOUGHT,
                        aggregate_type="fitting_session",
                        aggregate_id=fs.id,
                        merchant_id=fs.merchant_id,
                        payload={**_item_payload(fs, item), "order_id": str(order_id)},
                    )
    return marked


# --- size requests ---------------------------------------------------------------------------


def _request_payload(fs: FittingSession, req: SizeRequest) -> dict[str, object]:
    return {
        "request_id": str(req.id),
        "session_id": str(fs.id),
        "store_id": str(fs.location_id),
        "room_id": str(req.room_id),
        "variant_id": str(req.variant_id),
    }


def request_size(
    s: Session,
    principal: Principal,
    fs: FittingSession,
    variant_id: uuid.UUID,
    item_id: uuid.UUID | None,
    note: str,
) -> SizeRequest:
    """Ask for ``variant_id`` (a variant of the store's merchant); the same open request
    asked twice is the same request."""
    _open(fs)
    ref = catalog.variant_refs(s, [variant_id]).get(variant_id)
    if ref is None or ref.merchant_id != fs.merchant_id or not ref.live:
        raise not_found("variant", variant_id)
    if item_id is not None and not any(i.id == item_id for i in _items(s, fs.id)):
        raise not_found("fitting item", item_id)
    open_requests = list(
        s.scalars(
            select(SizeRequest).where(
                SizeRequest.session_id == fs.id, SizeRequest.status.in_(OPEN_REQUEST_STATES)
            )
        )
    )
    for req in open_requests:
        if req.variant_id == variant_id:
            return req
    if len(open_requests) >= MAX_OPEN_REQUESTS:
        raise ProblemError(TOO_MANY_ITEMS, f"at most {MAX_OPEN_REQUESTS} open size requests")
    req = SizeRequest(
        merchant_id=fs.merchant_id,
        location_id=fs.location_id,
        session_id=fs.id,
        room_id=fs.room_id,
        variant_id=variant_id,
        item_id=item_id,
        note=note,
        requested_by=principal.actor,
    )
    s.add(req)
    s.flush()
    emit(
        s,
        SIZE_REQUESTED,
        aggregate_type="fitting_session",
        aggregate_id=fs.id,
        merchant_id=fs.merchant_id,
        payload=_request_payload(fs, req),
    )
    return req


def _move(
    s: Session, fs: FittingSession, req: SizeRequest, to: RequestStatus, actor: str, note: str = ""
) -> bool:
    if req.status == to:
        return False  # a retried transition is harmless
    if to not in TRANSITIONS[req.status]:
        raise ProblemError(
            REQUEST_TRANSITION,
            f"a {req.status.value} size request cannot become {to.value}",
            from_status=req.status.value,
            to_status=to.value,
        )
    previous = req.status
    # Claimed with a conditional UPDATE so two staff taking the same request move it once.
    claimed = s.execute(
        update(SizeRequest)
        .where(SizeRequest.id == req.id, SizeRequest.status == previous)
        .values(status=to, handled_by=actor, note=note or req.note, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not getattr(claimed, "rowcount", 1):
        s.refresh(req)
        raise ProblemError(
            REQUEST_TRANSITION,
            "the size request changed meanwhile; read it again",
            from_status=req.status.value,
            to_status=to.value,
        )
    s.refresh(req)
    emit(
        s,
        SIZE_REQUEST_CHANGED,
        aggregate_type="fitting_session",
        aggregate_id=fs.id,
        merchant_id=fs.merchant_id,
        payload={**_request_payload(fs, req), "from": previous.value, "to": to.value},
    )
    if to == RequestStatus.DELIVERED and fs.status == SessionStatus.OPEN:
        ref = catalog.variant_refs(s, [req.variant_id]).get(req.variant_id)
        if ref is not None:  # the garment is in the room now: it is tried like a scanned one
            _add_item(
                s,
                fs,
                _items(s, fs.id),
                ref,
                serial=f"request:{req.id}",
                code_kind="request",
                source=ItemSource.REQUEST,
            )
    return True


def _store_request(
    s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID, request_id: uuid.UUID
) -> SizeRequest:
    req = s.scalar(
        select(SizeRequest)
        .where(
            SizeRequest.id == request_id,
            SizeRequest.merchant_id == merchant_id,
            SizeRequest.location_id == location_id,
        )
        .with_for_update()
    )
    if req is None:
        raise not_found("size request", request_id)
    return req


def staff_move(
    s: Session,
    principal: Principal,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    request_id: uuid.UUID,
    to: RequestStatus,
    note: str = "",
) -> SizeRequest:
    req = _store_request(s, merchant_id, location_id, request_id)
    fs = s.get(FittingSession, req.session_id)
    assert fs is not None  # cascade: a request never outlives its session
    _move(s, fs, req, to, principal.actor, note)
    return req


def cancel_request(
    s: Session, principal: Principal, fs: FittingSession, request_id: uuid.UUID
) -> SizeRequest:
    """The shopper (or staff, from the session) withdraws a request."""
    req = s.scalar(
        select(SizeRequest).where(SizeRequest.id == request_id, SizeRequest.session_id == fs.id)
    )
    if req is None:
        raise not_found("size request", request_id)
    _move(s, fs, req, RequestStatus.CANCELLED, principal.actor)
    return req


def list_requests(
    s: Session,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID,
    *,
    statuses: Sequence[RequestStatus],
    limit: int,
    after: uuid.UUID | None = None,
) -> Sequence[SizeRequest]:
    """The store's queue, oldest first (first asked, first served)."""
    stores.get_store(s, merchant_id, location_id)
    q = select(SizeRequest).where(
        SizeRequest.merchant_id == merchant_id, SizeRequest.location_id == location_id
    )
    if statuses:
        q = q.where(SizeRequest.status.in_(list(statuses)))
    if after is not None:
        q = q.where(SizeRequest.id > after)
    return list(s.scalars(q.order_by(SizeRequest.id).limit(limit)))


def session_requests(s: Session, session_id: uuid.UUID) -> list[SizeRequest]:
    return list(
        s.scalars(
            select(SizeRequest).where(SizeRequest.session_id == session_id).order_by(SizeRequest.id)
        )
    )


# --- views ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stocked:
    ref: catalog.VariantRef
    in_store: int


def stock_at(
    s: Session, location_id: uuid.UUID, variant_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Units that can be taken off the shelf in the store now, per variant."""
    return {v: inventory.available(s, v, location_id) for v in dict.fromkeys(variant_ids)}


def session_items(s: Session, session_id: uuid.UUID) -> list[FittingItem]:
    return _items(s, session_id)


def room_of(s: Session, room_id: uuid.UUID) -> FittingRoom | None:
    return s.get(FittingRoom, room_id)
