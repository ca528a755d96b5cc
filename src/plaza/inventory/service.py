"""Inventory logic: locations, stock levels, reservations and the stock ledger.

Concurrency rule: a stock level is never changed by read-modify-write in Python. Every
change is one conditional ``UPDATE … SET x = x + :d WHERE id = :id AND <invariant holds>``
with ``RETURNING``; no row back means the condition failed (someone else took the stock).
That is atomic on SQLite (write transactions hold the database write lock from BEGIN
IMMEDIATE) and on PostgreSQL (READ COMMITTED re-checks the WHERE on the locked, newest row
version). Reservation status changes are claimed the same way (``WHERE status = 'active'``),
so a commit, a release and the expiry sweep racing on one hold apply exactly once.
Rows are locked in (variant_id, location_id) order to keep PostgreSQL free of deadlocks.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plaza.db import utcnow
from plaza.errors import VALIDATION, ProblemError, not_found, problem_type
from plaza.events import emit, event_type
from plaza.inventory.models import (
    Location,
    LocationKind,
    MovementReason,
    Reservation,
    ReservationStatus,
    StockLevel,
    StockMovement,
)

MAX_QUANTITY = 1_000_000_000  # units at one location; keeps sums inside a 32-bit column
MAX_TTL_SECONDS = 30 * 24 * 3600
MAX_REFERENCE_LENGTH = 100
SYSTEM_ACTOR = "system"
# Rounds of "read availability, try to take it" before giving up under heavy contention.
ALLOCATION_ATTEMPTS = 10

OUT_OF_STOCK = problem_type(
    "out-of-stock",
    "Not enough stock",
    409,
    "The requested quantity cannot be reserved. `available` is how many units could be; "
    "`requested` is what was asked for.",
)
RESERVATION_EXPIRED = problem_type(
    "reservation-expired",
    "Stock reservation expired",
    409,
    "The stock held for this reference expired or was released before it was committed; "
    "reserve again.",
)
RESERVATION_COMMITTED = problem_type(
    "reservation-committed",
    "Reservation already committed",
    409,
    "Stock for this reference and variant was already sold; use a new reference.",
)
LOCATION_CODE_TAKEN = problem_type(
    "location-code-taken",
    "Location code taken",
    409,
    "The merchant already has a location with this code; codes are unique per merchant.",
)
STOCK_VERSION_MISMATCH = problem_type(
    "stock-version-mismatch",
    "Stock changed since it was read",
    409,
    "`expected_on_hand` does not match the current on-hand count (`current_on_hand`); "
    "read the level again and retry.",
)
STOCK_BELOW_RESERVED = problem_type(
    "stock-below-reserved",
    "On-hand stock cannot go below reserved stock",
    409,
    "Units held by reservations cannot be removed; `reserved` says how many are held.",
)
STOCK_LIMIT = problem_type(
    "stock-limit-exceeded",
    "Stock limit exceeded",
    409,
    f"A stock level holds at most {MAX_QUANTITY} units.",
)

STOCK_CHANGED = event_type(
    "stock.changed",
    "A stock level changed; payload: variant_id, location_id, on_hand, reserved, available, "
    "reason.",
)
STOCK_LOW = event_type(
    "stock.low",
    "Available units of a variant at a location fell to or below the location's "
    "low_stock_threshold; payload: variant_id, location_id, available, threshold.",
)
RESERVATION_EXPIRED_EVENT = event_type(
    "inventory.reservation_expired",
    "A stock hold lapsed and its units were released; payload: reference, variant_id, quantity.",
)
LOCATION_CREATED = event_type("location.created", "A merchant added a warehouse or store.")
LOCATION_UPDATED = event_type("location.updated", "A location's details or status changed.")

RESTOCK_REASONS = frozenset(
    {MovementReason.RECEIPT, MovementReason.RETURN, MovementReason.ADJUSTMENT}
)
LOCATION_FIELDS = frozenset(
    {
        "code",
        "name",
        "kind",
        "address_line1",
        "address_line2",
        "city",
        "postal_code",
        "region",
        "country",
        "latitude",
        "longitude",
        "timezone",
        "is_active",
        "fulfils_online",
        "low_stock_threshold",
    }
)


def _invalid(detail: str) -> ProblemError:
    return ProblemError(VALIDATION, detail)


def _check_quantity(quantity: int, what: str = "quantity") -> None:
    if not 0 < quantity <= MAX_QUANTITY:
        raise _invalid(f"{what} must be between 1 and {MAX_QUANTITY}")


def _check_reference(reference: str) -> None:
    if not reference or len(reference) > MAX_REFERENCE_LENGTH:
        raise _invalid(f"reference must be 1 to {MAX_REFERENCE_LENGTH} characters")


def _check_ttl(ttl_seconds: int) -> None:
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise _invalid(f"ttl_seconds must be between 1 and {MAX_TTL_SECONDS}")


# --- locations ---------------------------------------------------------------------------


def get_location(s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID) -> Location:
    """The merchant's location; another merchant's id answers 404 like a missing one."""
    loc = s.scalar(
        select(Location).where(Location.id == location_id, Location.merchant_id == merchant_id)
    )
    if loc is None:
        raise not_found("location", location_id)
    return loc


def _code_taken(
    s: Session, merchant_id: uuid.UUID, code: str, except_id: uuid.UUID | None = None
) -> bool:
    q = select(Location.id).where(Location.merchant_id == merchant_id, Location.code == code)
    if except_id is not None:
        q = q.where(Location.id != except_id)
    return s.scalar(q) is not None


def _check_location(loc: Location) -> None:
    if (loc.latitude is None) != (loc.longitude is None):
        raise _invalid("latitude and longitude are given together or not at all")


def create_location(s: Session, merchant_id: uuid.UUID, **fields: Any) -> Location:
    unknown = set(fields) - LOCATION_FIELDS
    if unknown:
        raise ValueError(f"unknown location fields: {sorted(unknown)}")
    if _code_taken(s, merchant_id, fields["code"]):
        raise ProblemError(LOCATION_CODE_TAKEN, code=fields["code"])
    loc = Location(merchant_id=merchant_id, **{**fields, "kind": LocationKind(fields["kind"])})
    _check_location(loc)
    try:
        with s.begin_nested():
            s.add(loc)
            s.flush()
    except IntegrityError as exc:  # a concurrent create took the code
        raise ProblemError(LOCATION_CODE_TAKEN, code=fields["code"]) from exc
    emit(
        s,
        LOCATION_CREATED,
        aggregate_type="location",
        aggregate_id=loc.id,
        merchant_id=merchant_id,
        payload={"code": loc.code, "kind": loc.kind.value},
    )
    return loc


def update_location(
    s: Session, merchant_id: uuid.UUID, location_id: uuid.UUID, changes: dict[str, Any]
) -> Location:
    unknown = set(changes) - LOCATION_FIELDS
    if unknown:
        raise ValueError(f"unknown location fields: {sorted(unknown)}")
    loc = get_location(s, merchant_id, location_id)
    code = changes.get("code")
    if code is not None and code != loc.code and _code_taken(s, merchant_id, code, loc.id):
        raise ProblemError(LOCATION_CODE_TAKEN, code=code)
    for key, value in changes.items():
        setattr(loc, key, value)
    _check_location(loc)
    try:
        with s.begin_nested():
            s.flush()
    except IntegrityError as exc:
        raise ProblemError(LOCATION_CODE_TAKEN, code=code) from exc
    emit(
        s,
        LOCATION_UPDATED,
        aggregate_type="location",
        aggregate_id=loc.id,
        merchant_id=merchant_id,
        payload={"fields": sorted(changes)},
    )
    return loc


def list_locations(
    s: Session,
    merchant_id: uuid.UUID,
    *,
    limit: int,
    after: uuid.UUID | None = None,
    kind: LocationKind | None = None,
    is_active: bool | None = None,
) -> list[Location]:
    q = select(Location).where(Location.merchant_id == merchant_id)
    if kind is not None:
        q = q.where(Location.kind == kind)
    if is_active is not None:
        q = q.where(Location.is_active == is_active)
    if after is not None:
        q = q.where(Location.id > after)
    return list(s.scalars(q.order_by(Location.id).limit(limit)))


# --- stock levels: the one place that changes them ----------------------------------------


def _level_id(
    s: Session, merchant_id: uuid.UUID, variant_id: uuid.UUID, location_id: uuid.UUID
) -> uuid.UUID | None:
    return s.scalar(
        select(StockLevel.id).where(
            StockLevel.merchant_id == merchant_id,
            StockLevel.variant_id == variant_id,
            StockLevel.location_id == location_id,
        )
    )


def _ensure_level(
    s: Session, merchant_id: uuid.UUID, variant_id: uuid.UUID, location_id: uuid.UUID
) -> uuid.UUID:
    """The level's id, creating an empty level on first use (race-safe on both databases)."""
    found = _level_id(s, merchant_id, variant_id, location_id)
    if found is not None:
        return found
    level = StockLevel(merchant_id=merchant_id, variant_id=variant_id, location_id=location_id)
    try:
        with s.begin_nested():
            s.add(level)
            s.flush()
    except IntegrityError:
        # A concurrent writer created it first; PostgreSQL made us wait for its commit.
        found = _level_id(s, merchant_id, variant_id, location_id)
        if found is None:
            raise
        return found
    return level.id


@dataclass(frozen=True)
class LevelRef:
    merchant_id: uuid.UUID
    variant_id: uuid.UUID
    location_id: uuid.UUID
    level_id: uuid.UUID


def _change(
    s: Session,
    ref: LevelRef,
    *,
    d_on_hand: int,
    d_reserved: int,
    where: Sequence[ColumnElement[bool]],
    reason: MovementReason,
    reference: str | None,
    actor: str,
) -> StockMovement | None:
    """Apply a delta if ``where`` holds on the current row; record it; None if it did not."""
    stmt = (
        update(StockLevel)
        .where(StockLevel.id == ref.level_id, *where)
        .values(
            on_hand=StockLevel.on_hand + d_on_hand,
            reserved=StockLevel.reserved + d_reserved,
            updated_at=utcnow(),
        )
        .returning(StockLevel.on_hand, StockLevel.reserved)
        .execution_options(synchronize_session=False)
    )
    row = s.execute(stmt).first()
    if row is None:
        return None
    return _record(
        s, ref, int(row[0]), int(row[1]), d_on_hand, d_reserved, reason, reference, actor
    )


def _record(
    s: Session,
    ref: LevelRef,
    on_hand: int,
    reserved: int,
    d_on_hand: int,
    d_reserved: int,
    reason: MovementReason,
    reference: str | None,
    actor: str,
) -> StockMovement:
    movement = StockMovement(
        merchant_id=ref.merchant_id,
        variant_id=ref.variant_id,
        location_id=ref.location_id,
        delta_on_hand=d_on_hand,
        delta_reserved=d_reserved,
        reason=reason,
        reference=reference,
        actor=actor[:100],
    )
    s.add(movement)
    available_now = on_hand - reserved
    emit(
        s,
        STOCK_CHANGED,
        aggregate_type="stock_level",
        aggregate_id=ref.level_id,
        merchant_id=ref.merchant_id,
        payload={
            "variant_id": str(ref.variant_id),
            "location_id": str(ref.location_id),
            "on_hand": on_hand,
            "reserved": reserved,
            "available": available_now,
            "reason": reason.value,
        },
    )
    before = available_now - (d_on_hand - d_reserved)
    if available_now >= before:
        return movement
    threshold = s.scalar(select(Location.low_stock_threshold).where(Location.id == ref.location_id))
    # Only on crossing the threshold, so a busy low item does not flood subscribers.
    if threshold is not None and available_now <= threshold < before:
        emit(
            s,
            STOCK_LOW,
            aggregate_type="stock_level",
            aggregate_id=ref.level_id,
            merchant_id=ref.merchant_id,
            payload={
                "variant_id": str(ref.variant_id),
                "location_id": str(ref.location_id),
                "available": available_now,
                "threshold": threshold,
            },
        )
    return movement


def get_level(
    s: Session, merchant_id: uuid.UUID, variant_id: uuid.UUID, location_id: uuid.UUID
) -> StockLevel | None:
    return s.scalar(
        select(StockLevel)
        .where(
            StockLevel.merchant_id == merchant_id,
            StockLevel.variant_id == variant_id,
            StockLevel.location_id == location_id,
        )
        .execution_options(populate_existing=True)
    )


def _level_or_zero(
    s: Session, merchant_id: uuid.UUID, variant_id: uuid.UUID, location_id: uuid.UUID
) -> StockLevel:
    level = get_level(s, merchant_id, variant_id, location_id)
    if level is None:
        raise RuntimeError("stock level vanished inside its transaction")
    return level


def set_stock(
    s: Session,
    *,
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    location_id: uuid.UUID,
    on_hand: int,
    expected_on_hand: int | None = None,
    reason: MovementReason = MovementReason.ADJUSTMENT,
    reference: str | None = None,
    actor: str = SYSTEM_ACTOR,
) -> StockLevel:
    """Set on-hand units absolutely (a stock count). ``expected_on_hand`` makes it a
    compare-and-set: 409 ``stock-version-mismatch`` when the count moved meanwhile."""
    if not 0 <= on_hand <= MAX_QUANTITY:
        raise _invalid(f"on_hand must be between 0 and {MAX_QUANTITY}")
    get_location(s, merchant_id, location_id)
    ref = LevelRef(
        merchant_id,
        variant_id,
        location_id,
        _ensure_level(s, merchant_id, variant_id, location_id),
    )
    # Lock the row (PostgreSQL; SQLite already holds the write lock) so the checks below
    # and the write see the same counts.
    current, reserved = s.execute(
        select(StockLevel.on_hand, StockLevel.reserved)
        .where(StockLevel.id == ref.level_id)
        .with_for_update()
    ).one()
    if expected_on_hand is not None and current != expected_on_hand:
        raise ProblemError(
            STOCK_VERSION_MISMATCH,
            f"on_hand is {current}, not {expected_on_hand}",
            current_on_hand=current,
        )
    if on_hand < reserved:
        raise ProblemError(
            STOCK_BELOW_RESERVED,
            f"{reserved} units are reserved; on_hand cannot be {on_hand}",
            reserved=reserved,
        )
    if on_hand != current:
        done = _change(
            s,
            ref,
            d_on_hand=on_hand - current,
            d_reserved=0,
            where=[StockLevel.on_hand == current, StockLevel.reserved <= on_hand],
            reason=reason,
            reference=reference,
            actor=actor,
        )
        if done is None:  # pragma: no cover - the row is locked
            raise RuntimeError("locked stock level changed underneath")
    return _level_or_zero(s, merchant_id, variant_id, location_id)


def adjust_stock(
    s: Session,
    *,
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    location_id: uuid.UUID,
    delta: int,
    reason: MovementReason = MovementReason.ADJUSTMENT,
    reference: str | None = None,
    actor: str = SYSTEM_ACTOR,
) -> tuple[StockLevel, StockMovement]:
    """Add or remove on-hand units (a receipt, a count correction, damage); returns the new
    level and its ledger entry."""
    if delta == 0 or abs(delta) > MAX_QUANTITY:
        raise _invalid(f"delta must be non-zero and at most {MAX_QUANTITY} in size")
    if reason in (MovementReason.RESERVATION, MovementReason.RELEASE, MovementReason.EXPIRY):
        raise _invalid(f"reason {reason.value!r} is recorded by reservations only")
    get_location(s, merchant_id, location_id)
    ref = LevelRef(
        merchant_id,
        variant_id,
        location_id,
        _ensure_level(s, merchant_id, variant_id, location_id),
    )
    done = _change(
        s,
        ref,
        d_on_hand=delta,
        d_reserved=0,
        where=[
            StockLevel.on_hand + delta >= StockLevel.reserved,
            StockLevel.on_hand + delta <= MAX_QUANTITY,
        ],
        reason=reason,
        reference=reference,
        actor=actor,
    )
    if done is None:
        level = _level_or_zero(s, merchant_id, variant_id, location_id)
        if delta > 0:
            raise ProblemError(STOCK_LIMIT, on_hand=level.on_hand)
        raise ProblemError(
            STOCK_BELOW_RESERVED,
            f"on_hand {level.on_hand} with {level.reserved} reserved cannot drop by {-delta}",
            on_hand=level.on_hand,
            reserved=level.reserved,
        )
    s.flush()
    return _level_or_zero(s, merchant_id, variant_id, location_id), done


def restock(
    s: Session,
    *,
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    location_id: uuid.UUID,
    quantity: int,
    reason: str,
    reference: str | None = None,
) -> None:
    """Put units back on hand: a receipt from a supplier, a customer return, a correction.
    ``reason`` is ``receipt``, ``return`` or ``adjustment``."""
    _check_quantity(quantity)
    if reason not in RESTOCK_REASONS:
        raise _invalid("restock reason must be receipt, return or adjustment")
    adjust_stock(
        s,
        merchant_id=merchant_id,
        variant_id=variant_id,
        location_id=location_id,
        delta=quantity,
        reason=MovementReason(reason),
        reference=reference,
    )


def available(s: Session, variant_id: uuid.UUID, location_id: uuid.UUID | None = None) -> int:
    """Units that can be reserved now. With ``location_id``: at that location (0 when it is
    inactive). Without: across the active locations that fulfil online orders, which is
    exactly what ``reserve`` without a location can draw on."""
    q = (
        select(func.coalesce(func.sum(StockLevel.on_hand - StockLevel.reserved), 0))
        .join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.variant_id == variant_id, Location.is_active.is_(True))
    )
    if location_id is not None:
        q = q.where(StockLevel.location_id == location_id)
    else:
        q = q.where(Location.fulfils_online.is_(True))
    return int(s.scalar(q) or 0)


@dataclass(frozen=True)
class StoreAvailability:
    location: Location
    available: int


@dataclass(frozen=True)
class Availability:
    online: int
    total: int
    stores: list[StoreAvailability]


def variant_availability(s: Session, variant_id: uuid.UUID) -> Availability:
    """Public counts for a product page: units shippable online, units across all active
    locations, and units per active store (for "in stock in store")."""
    rows = s.execute(
        select(Location, (StockLevel.on_hand - StockLevel.reserved).label("available"))
        .join(StockLevel, StockLevel.location_id == Location.id)
        .where(StockLevel.variant_id == variant_id, Location.is_active.is_(True))
        .order_by(Location.code, Location.id)
    ).all()
    online = sum(int(a) for loc, a in rows if loc.fulfils_online)
    total = sum(int(a) for _, a in rows)
    stores = [StoreAvailability(loc, int(a)) for loc, a in rows if loc.kind == LocationKind.STORE]
    return Availability(online=online, total=total, stores=stores)


def list_stock(
    s: Session,
    merchant_id: uuid.UUID,
    *,
    limit: int,
    after: uuid.UUID | None = None,
    variant_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    low_stock: bool = False,
    threshold: int | None = None,
) -> list[StockLevel]:
    """The merchant's stock levels. ``threshold``: available at or below it; ``low_stock``
    without a threshold: at or below each location's own ``low_stock_threshold``."""
    q = select(StockLevel).where(StockLevel.merchant_id == merchant_id)
    if variant_id is not None:
        q = q.where(StockLevel.variant_id == variant_id)
    if location_id is not None:
        q = q.where(StockLevel.location_id == location_id)
    avail = StockLevel.on_hand - StockLevel.reserved
    if threshold is not None:
        q = q.where(avail <= threshold)
    elif low_stock:
        q = q.join(Location, Location.id == StockLevel.location_id).where(
            avail <= Location.low_stock_threshold
        )
    if after is not None:
        q = q.where(StockLevel.id > after)
    return list(
        s.scalars(q.order_by(StockLevel.id).limit(limit).execution_options(populate_existing=True))
    )


def list_movements(
    s: Session,
    merchant_id: uuid.UUID,
    *,
    limit: int,
    before: uuid.UUID | None = None,
    variant_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    reason: MovementReason | None = None,
    reference: str | None = None,
) -> list[StockMovement]:
    """The ledger, newest first."""
    q = select(StockMovement).where(StockMovement.merchant_id == merchant_id)
    if variant_id is not None:
        q = q.where(StockMovement.variant_id == variant_id)
    if location_id is not None:
        q = q.where(StockMovement.location_id == location_id)
    if reason is not None:
        q = q.where(StockMovement.reason == reason)
    if reference is not None:
        q = q.where(StockMovement.reference == reference)
    if before is not None:
        q = q.where(StockMovement.id < before)
    return list(s.scalars(q.order_by(StockMovement.id.desc()).limit(limit)))


# --- reservations -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    level_id: uuid.UUID
    location_id: uuid.UUID
    kind: LocationKind
    available: int


# A location that could hold a reservation, as seen by a ranking rule (``reserve(rank=…)``).
Candidate = _Candidate
# Orders candidates best first for a quantity; ``allocate`` then takes the first that
# covers it whole, else splits in that order. ``plaza.o2o.routing`` supplies the online one.
Rank = Callable[[Sequence[_Candidate], int], list[_Candidate]]


def _candidates(
    s: Session, merchant_id: uuid.UUID, variant_id: uuid.UUID, location_id: uuid.UUID | None
) -> list[_Candidate]:
    avail = StockLevel.on_hand - StockLevel.reserved
    q = (
        select(StockLevel.id, StockLevel.location_id, Location.kind, avail)
        .join(Location, Location.id == StockLevel.location_id)
        .where(
            StockLevel.merchant_id == merchant_id,
            Location.merchant_id == merchant_id,
            StockLevel.variant_id == variant_id,
            Location.is_active.is_(True),
            avail > 0,
        )
    )
    if location_id is not None:
        q = q.where(StockLevel.location_id == location_id)
    else:
        q = q.where(Location.fulfils_online.is_(True))
    return [_Candidate(lid, loc, kind, int(a)) for lid, loc, kind, a in s.execute(q)]


def _default_rank(candidates: Sequence[_Candidate], quantity: int) -> list[_Candidate]:
    """Most available first, warehouses before stores on ties, then by id."""
    return sorted(
        candidates, key=lambda c: (-c.available, c.kind != LocationKind.WAREHOUSE, c.location_id)
    )


def candidates(
    s: Session, merchant_id: uuid.UUID, variant_id: uuid.UUID, location_id: uuid.UUID | None
) -> list[_Candidate]:
    """Where ``reserve`` could take units of the variant from now (read-only)."""
    return _candidates(s, merchant_id, variant_id, location_id)


def allocate(
    candidates: Iterable[_Candidate], quantity: int, rank: Rank | None = None
) -> list[tuple[_Candidate, int]]:
    """The allocation rule: one location that covers everything if any, the first in
    ``rank`` order (default: most available first, warehouses before stores on ties, then
    by id for determinism); otherwise split, taking from locations in that order. Empty
    when the total is short."""
    order = (rank or _default_rank)(list(candidates), quantity)
    for c in order:
        if c.available >= quantity:
            return [(c, quantity)]
    plan: list[tuple[_Candidate, int]] = []
    left = quantity
    for c in order:
        take = min(left, c.available)
        plan.append((c, take))
        left -= take
        if left == 0:
            return plan
    return []


def _fresh_reservations(
    s: Session, *conds: ColumnElement[bool], lock: bool = False
) -> list[Reservation]:
    """Current rows in lock order. ``lock`` takes every row lock up front (PostgreSQL), before
    any stock level is touched: the expiry sweep holds reservation rows while it waits for
    levels, so taking them one by one between level updates could deadlock with it."""
    q = (
        select(Reservation)
        .where(*conds)
        .order_by(Reservation.variant_id, Reservation.location_id, Reservation.id)
        .execution_options(populate_existing=True)
    )
    return list(s.scalars(q.with_for_update() if lock else q))


def _claim(s: Session, r: Reservation, to: ReservationStatus) -> bool:
    """Move an active reservation to ``to``; False when another writer got there first."""
    result = s.execute(
        update(Reservation)
        .where(Reservation.id == r.id, Reservation.status == ReservationStatus.ACTIVE)
        .values(status=to, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    s.refresh(r)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _ref_of(s: Session, r: Reservation) -> LevelRef:
    level_id = _level_id(s, r.merchant_id, r.variant_id, r.location_id)
    if level_id is None:  # pragma: no cover - levels are never deleted while held
        raise RuntimeError(f"reservation {r.id} has no stock level")
    return LevelRef(r.merchant_id, r.variant_id, r.location_id, level_id)


def _unhold(s: Session, r: Reservation, to: ReservationStatus, reason: MovementReason) -> bool:
    """Release one reservation's units (released or expired); True if this call did it."""
    if not _claim(s, r, to):
        return False
    done = _change(
        s,
        _ref_of(s, r),
        d_on_hand=0,
        d_reserved=-r.quantity,
        where=[StockLevel.reserved >= r.quantity],
        reason=reason,
        reference=r.reference,
        actor=SYSTEM_ACTOR,
    )
    if done is None:  # pragma: no cover - a hold's units are always counted in reserved
        raise RuntimeError(f"reservation {r.id} holds more than its level has reserved")
    return True


def _out_of_stock(variant_id: uuid.UUID, requested: int, avail: int) -> ProblemError:
    return ProblemError(
        OUT_OF_STOCK,
        f"{requested} requested, {avail} available",
        variant_id=str(variant_id),
        requested=requested,
        available=avail,
    )


def reserve(
    s: Session,
    *,
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    quantity: int,
    reference: str,
    ttl_seconds: int,
    location_id: uuid.UUID | None = None,
    rank: Rank | None = None,
) -> list[Reservation]:
    """Hold stock. With location_id: only there. Without: choose among the merchant's active
    locations that fulfil online — prefer a single location that can cover the whole quantity
    (most available first, warehouses before stores on ties), else split across locations.
    ``rank`` replaces that location order (ship-from-store routing passes its own).
    Raises ProblemError 409 `out-of-stock` (extensions: variant_id, requested, available).

    Safe to retry: a reference holds one set of reservations per variant. Calling again for
    the same (reference, variant) with the same quantity (and location) returns the existing
    active hold with its expiry pushed back; with another quantity it replaces the hold.
    Reservations of the pair that had expired or been released are superseded (deleted;
    the ledger keeps their history). 409 `reservation-committed` if the pair was already
    sold. On failure nothing is held (a savepoint undoes partial work), so the caller may
    catch the problem and go on. Callers holding several variants in one transaction should
    reserve them in variant_id order (PostgreSQL row-lock order)."""
    _check_quantity(quantity)
    _check_reference(reference)
    _check_ttl(ttl_seconds)
    if location_id is not None:
        get_location(s, merchant_id, location_id)
    expires_at = utcnow() + dt.timedelta(seconds=ttl_seconds)
    with s.begin_nested():
        mine = _fresh_reservations(
            s,
            Reservation.reference == reference,
            Reservation.variant_id == variant_id,
            Reservation.merchant_id == merchant_id,
            lock=True,
        )
        if any(r.status == ReservationStatus.COMMITTED for r in mine):
            raise ProblemError(
                RESERVATION_COMMITTED, reference=reference, variant_id=str(variant_id)
            )
        active = [r for r in mine if r.status == ReservationStatus.ACTIVE]
        same_place = location_id is None or all(r.location_id == location_id for r in active)
        if active and same_place and sum(r.quantity for r in active) == quantity:
            extended = s.execute(
                update(Reservation)
                .where(
                    Reservation.id.in_([r.id for r in active]),
                    Reservation.status == ReservationStatus.ACTIVE,
                )
                .values(expires_at=expires_at, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if extended.rowcount == len(active):  # type: ignore[attr-defined]
                for r in active:
                    s.refresh(r)
                return active
            # Part of it lapsed just now: fall through and hold afresh.
        for r in active:
            _unhold(s, r, ReservationStatus.RELEASED, MovementReason.RELEASE)
        if mine:
            s.execute(
                delete(Reservation)
                .where(Reservation.id.in_([r.id for r in mine]))
                .execution_options(synchronize_session=False)
            )
            for r in mine:
                s.expunge(r)
        return _hold(s, merchant_id, variant_id, quantity, reference, expires_at, location_id, rank)


def _hold(
    s: Session,
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    quantity: int,
    reference: str,
    expires_at: dt.datetime,
    location_id: uuid.UUID | None,
    rank: Rank | None = None,
) -> list[Reservation]:
    total = 0
    for _ in range(ALLOCATION_ATTEMPTS):
        cands = _candidates(s, merchant_id, variant_id, location_id)
        total = sum(c.available for c in cands)
        plan = allocate(cands, quantity, rank)
        if not plan:
            raise _out_of_stock(variant_id, quantity, total)
        plan.sort(key=lambda p: p[0].location_id)  # lock order
        taken: list[tuple[_Candidate, int, int, int]] = []
        round_ = s.begin_nested()
        for cand, q in plan:
            row = s.execute(
                update(StockLevel)
                .where(
                    StockLevel.id == cand.level_id,
                    StockLevel.on_hand - StockLevel.reserved >= q,
                )
                .values(reserved=StockLevel.reserved + q, updated_at=utcnow())
                .returning(StockLevel.on_hand, StockLevel.reserved)
                .execution_options(synchronize_session=False)
            ).first()
            if row is None:
                break
            taken.append((cand, q, int(row[0]), int(row[1])))
        if len(taken) < len(plan):
            round_.rollback()  # another buyer took some of it; read again and retry
            continue
        round_.commit()
        held: list[Reservation] = []
        for cand, q, on_hand, reserved in taken:
            ref = LevelRef(merchant_id, variant_id, cand.location_id, cand.level_id)
            _record(
                s, ref, on_hand, reserved, 0, q, MovementReason.RESERVATION, reference, SYSTEM_ACTOR
            )
            r = Reservation(
                merchant_id=merchant_id,
                variant_id=variant_id,
                location_id=cand.location_id,
                quantity=q,
                reference=reference,
                status=ReservationStatus.ACTIVE,
                expires_at=expires_at,
            )
            s.add(r)
            held.append(r)
        s.flush()
        return held
    raise _out_of_stock(variant_id, quantity, total)


def reservations_for(s: Session, reference: str, *, lock: bool = False) -> list[Reservation]:
    return _fresh_reservations(s, Reservation.reference == reference, lock=lock)


def commit_reservations(s: Session, reference: str) -> list[Reservation]:
    """Sale: on_hand -= q and reserved -= q for each ACTIVE reservation of `reference`; status
    committed. Idempotent (already committed -> no-op). An expired/released one raises 409
    `reservation-expired`.

    A hold past its expiry that the sweep has not reached yet is still held, so it commits.
    404 when the reference has no reservations. All or nothing (savepoint)."""
    rows = reservations_for(s, reference, lock=True)
    if not rows:
        raise not_found("reservations", reference)
    dead = (ReservationStatus.RELEASED, ReservationStatus.EXPIRED)

    def lapsed() -> ProblemError:
        return ProblemError(
            RESERVATION_EXPIRED, f"the stock hold for {reference} lapsed", reference=reference
        )

    if any(r.status in dead for r in rows):
        raise lapsed()
    with s.begin_nested():
        for r in rows:
            if r.status != ReservationStatus.ACTIVE:
                continue
            if not _claim(s, r, ReservationStatus.COMMITTED):
                if r.status == ReservationStatus.COMMITTED:
                    continue  # a concurrent commit of the same reference did it
                raise lapsed()
            done = _change(
                s,
                _ref_of(s, r),
                d_on_hand=-r.quantity,
                d_reserved=-r.quantity,
                where=[StockLevel.reserved >= r.quantity],
                reason=MovementReason.SALE,
                reference=reference,
                actor=SYSTEM_ACTOR,
            )
            if done is None:  # pragma: no cover - the hold is counted in reserved
                raise RuntimeError(f"reservation {r.id} holds more than its level has reserved")
    return rows


def release_reservations(s: Session, reference: str, reason: str = "release") -> int:
    """Return held stock for active reservations of `reference` (idempotent).

    ``reason`` is ``release`` (status released) or ``expiry`` (status expired). Returns how
    many reservations this call released."""
    if reason not in (MovementReason.RELEASE.value, MovementReason.EXPIRY.value):
        raise _invalid("release reason must be 'release' or 'expiry'")
    why = MovementReason(reason)
    to = ReservationStatus.EXPIRED if why == MovementReason.EXPIRY else ReservationStatus.RELEASED
    count = 0
    for r in reservations_for(s, reference, lock=True):
        if r.status == ReservationStatus.ACTIVE and _unhold(s, r, to, why):
            count += 1
    return count


def extend_reservations(s: Session, reference: str, ttl_seconds: int) -> None:
    """Push the expiry of the reference's ACTIVE reservations to now + ttl_seconds.

    Committed, released and expired ones are left alone (no error): extending is a
    best-effort keep-alive, and ``commit_reservations`` reports a lapsed hold."""
    _check_ttl(ttl_seconds)
    s.execute(
        update(Reservation)
        .where(Reservation.reference == reference, Reservation.status == ReservationStatus.ACTIVE)
        .values(expires_at=utcnow() + dt.timedelta(seconds=ttl_seconds), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def keep_reservations(s: Session, reference: str, ttl_seconds: int) -> list[Reservation]:
    """Keep a paid hold going instead of committing it (click & collect: the goods stay on
    the store's shelf, held, until the customer collects them). Like ``commit_reservations``
    it raises 409 ``reservation-expired`` when part of the hold lapsed, and 404 when the
    reference has none; otherwise every active reservation expires ``ttl_seconds`` from now.
    Committed ones are left alone (idempotent after a collection)."""
    _check_ttl(ttl_seconds)
    rows = reservations_for(s, reference, lock=True)
    if not rows:
        raise not_found("reservations", reference)
    if any(r.status in (ReservationStatus.RELEASED, ReservationStatus.EXPIRED) for r in rows):
        raise ProblemError(
            RESERVATION_EXPIRED, f"the stock hold for {reference} lapsed", reference=reference
        )
    extend_reservations(s, reference, ttl_seconds)
    return reservations_for(s, reference)


def _due(now: dt.datetime) -> Any:
    return select(Reservation).where(
        Reservation.status == ReservationStatus.ACTIVE, Reservation.expires_at <= now
    )


def has_due(s: Session, now: dt.datetime | None = None) -> bool:
    """Cheap check for the housekeeping loop, so an idle tick takes no write lock."""
    due = _due(now or utcnow()).with_only_columns(Reservation.id).limit(1)
    return s.scalar(due) is not None


def expire_due(s: Session, now: dt.datetime | None = None, limit: int = 500) -> list[str]:
    """Release active reservations past expires_at; emits `inventory.reservation_expired`
    (payload: reference, variant_id, quantity) per reservation; returns affected references."""
    now = now or utcnow()
    rows = list(
        s.scalars(
            _due(now)
            .order_by(Reservation.expires_at, Reservation.id)
            .limit(limit)
            # Parallel sweepers on PostgreSQL skip rows a checkout is committing right now.
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )
    rows.sort(key=lambda r: (r.variant_id, r.location_id, r.id))  # lock order
    refs: list[str] = []
    for r in rows:
        if not _unhold(s, r, ReservationStatus.EXPIRED, MovementReason.EXPIRY):
            continue
        emit(
            s,
            RESERVATION_EXPIRED_EVENT,
            aggregate_type="reservation",
            aggregate_id=r.id,
            merchant_id=r.merchant_id,
            payload={
                "reference": r.reference,
                "variant_id": str(r.variant_id),
                "quantity": r.quantity,
            },
        )
        if r.reference not in refs:
            refs.append(r.reference)
    return refs


def list_reservations(
    s: Session,
    merchant_id: uuid.UUID,
    *,
    limit: int,
    after: uuid.UUID | None = None,
    reference: str | None = None,
    status: ReservationStatus | None = None,
    variant_id: uuid.UUID | None = None,
) -> list[Reservation]:
    q = select(Reservation).where(Reservation.merchant_id == merchant_id)
    if reference is not None:
        q = q.where(Reservation.reference == reference)
    if status is not None:
        q = q.where(Reservation.status == status)
    if variant_id is not None:
        q = q.where(Reservation.variant_id == variant_id)
    if after is not None:
        q = q.where(Reservation.id > after)
    return list(
        s.scalars(q.order_by(Reservation.id).limit(limit).execution_options(populate_existing=True))
    )
