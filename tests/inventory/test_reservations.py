"""Reserve / commit / release / expire semantics, allocation across locations, the ledger
and the events, through the service functions other contexts call."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from plaza.db import Database, utcnow
from plaza.errors import ProblemError
from plaza.events import OutboxEvent
from plaza.inventory import service
from plaza.inventory.models import (
    Location,
    LocationKind,
    MovementReason,
    Reservation,
    ReservationStatus,
    StockMovement,
)

from .conftest import level, make_location, stock


def _reserve(
    db: Database,
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    quantity: int,
    reference: str,
    ttl: int = 600,
    location_id: uuid.UUID | None = None,
) -> list[Reservation]:
    with db.transaction() as s:
        return service.reserve(
            s,
            merchant_id=merchant_id,
            variant_id=variant_id,
            quantity=quantity,
            reference=reference,
            ttl_seconds=ttl,
            location_id=location_id,
        )


def _problem(exc: pytest.ExceptionInfo[ProblemError]) -> str:
    return exc.value.kind.slug


def _events(db: Database, type_: str, variant_id: uuid.UUID) -> list[dict]:
    with db.reading() as s:
        rows = s.scalars(
            select(OutboxEvent).where(OutboxEvent.type == type_).order_by(OutboxEvent.id)
        )
        return [e.payload for e in rows if e.payload.get("variant_id") == str(variant_id)]


def test_reserve_commit_moves_stock_and_writes_the_ledger(db, merchant_id, warehouse, variant_id):
    stock(db, merchant_id, variant_id, warehouse.id, 10)
    held = _reserve(db, merchant_id, variant_id, 3, "order-1")
    assert [(r.location_id, r.quantity, r.status) for r in held] == [
        (warehouse.id, 3, ReservationStatus.ACTIVE)
    ]
    assert level(db, merchant_id, variant_id, warehouse.id) == (10, 3)
    with db.reading() as s:
        assert service.available(s, variant_id) == 7
        assert service.available(s, variant_id, warehouse.id) == 7

    with db.transaction() as s:
        done = service.commit_reservations(s, "order-1")
    assert [r.status for r in done] == [ReservationStatus.COMMITTED]
    assert level(db, merchant_id, variant_id, warehouse.id) == (7, 0)

    with db.reading() as s:
        moves = list(
            s.scalars(
                select(StockMovement)
                .where(StockMovement.variant_id == variant_id)
                .order_by(StockMovement.id)
            )
        )
        assert [(m.reason, m.delta_on_hand, m.delta_reserved) for m in moves] == [
            (MovementReason.ADJUSTMENT, 10, 0),
            (MovementReason.RESERVATION, 0, 3),
            (MovementReason.SALE, -3, -3),
        ]
        assert [m.reference for m in moves] == [None, "order-1", "order-1"]
    changed = _events(db, "stock.changed", variant_id)
    assert [(e["on_hand"], e["reserved"], e["available"]) for e in changed] == [
        (10, 0, 10),
        (10, 3, 7),
        (7, 0, 7),
    ]


def test_commit_is_idempotent(db, merchant_id, warehouse, variant_id):
    stock(db, merchant_id, variant_id, warehouse.id, 5)
    _reserve(db, merchant_id, variant_id, 2, "order-twice")
    for _ in range(3):
        with db.transaction() as s:
            rows = service.commit_reservations(s, "order-twice")
        assert [r.status for r in rows] == [ReservationStatus.COMMITTED]
    assert level(db, merchant_id, variant_id, warehouse.id) == (3, 0)


def test_release_returns_stock_once(db, merchant_id, warehouse, variant_id):
    stock(db, merchant_id, variant_id, warehouse.id, 5)
    _reserve(db, merchant_id, variant_id, 4, "cart-9")
    with db.transaction() as s:
        assert service.release_reservations(s, "cart-9") == 1
    with db.transaction() as s:
        assert service.release_reservations(s, "cart-9") == 0
    assert level(db, merchant_id, variant_id, warehouse.id) == (5, 0)
    with db.transaction() as s, pytest.raises(ProblemError) as exc:
        service.commit_reservations(s, "cart-9")
    assert _problem(exc) == "reservation-expired"
    assert level(db, merchant_id, variant_id, warehouse.id) == (5, 0)


def test_release_with_expiry_reason_marks_expired(db, merchant_id, warehouse, variant_id):
    stock(db, merchant_id, variant_id, warehouse.id, 5)
    _reserve(db, merchant_id, variant_id, 1, "ref-exp")
    with db.transaction() as s:
        assert service.release_reservations(s, "ref-exp", reason="expiry") == 1
        assert [r.status for r in service.reservations_for(s, "ref-exp")] == [
            ReservationStatus.EXPIRED
        ]
    with db.transaction() as s, pytest.raises(ProblemError):
        service.release_reservations(s, "ref-exp", reason="sale")


def test_commit_unknown_reference_is_404(db):
    with db.transaction() as s, pytest.raises(ProblemError) as exc:
        service.commit_reservations(s, f"nope-{uuid.uuid4()}")
    assert exc.value.status == 404


def test_out_of_stock_holds_nothing(db, merchant_id, warehouse, variant_id):
    stock(db, merchant_id, variant_id, warehouse.id, 2)
    with pytest.raises(ProblemError) as exc:
        _reserve(db, merchant_id, variant_id, 3, "too-many")
    assert _problem(exc) == "out-of-stock"
    assert exc.value.extensions == {
        "variant_id": str(variant_id),
        "requested": 3,
        "available": 2,
    }
    assert level(db, merchant_id, variant_id, warehouse.id) == (2, 0)
    with pytest.raises(ProblemError) as exc:
        _reserve(db, merchant_id, uuid.uuid4(), 1, "never-stocked")
    assert exc.value.extensions["available"] == 0


def test_failed_reserve_leaves_the_callers_transaction_usable(
    db, merchant_id, warehouse, variant_id
):
    """Ordering reserves line by line in one transaction and may catch out-of-stock."""
    other = uuid.uuid4()
    stock(db, merchant_id, variant_id, warehouse.id, 5)
    stock(db, merchant_id, other, warehouse.id, 1)
    with db.transaction() as s:
        service.reserve(
            s,
            merchant_id=merchant_id,
            variant_id=variant_id,
            quantity=2,
            reference="mixed",
            ttl_seconds=60,
        )
        with pytest.raises(ProblemError):
            service.reserve(
                s,
                merchant_id=merchant_id,
                variant_id=other,
                quantity=2,
                reference="mixed",
                ttl_seconds=60,
            )
    assert level(db, merchant_id, variant_id, warehouse.id) == (5, 2)
    assert level(db, merchant_id, other, warehouse.id) == (1, 0)


def test_reserve_is_safe_to_retry_and_replaces_a_changed_hold(
    db, merchant_id, warehouse, variant_id
):
    stock(db, merchant_id, variant_id, warehouse.id, 10)
    first = _reserve(db, merchant_id, variant_id, 2, "chk-1", ttl=60)
    again = _reserve(db, merchant_id, variant_id, 2, "chk-1", ttl=600)
    assert [r.id for r in again] == [r.id for r in first]
    assert again[0].expires_at > first[0].expires_at
    assert level(db, merchant_id, variant_id, warehouse.id) == (10, 2)

    changed = _reserve(db, merchant_id, variant_id, 5, "chk-1")
    assert sum(r.quantity for r in changed) == 5
    assert level(db, merchant_id, variant_id, warehouse.id) == (10, 5)
    with db.reading() as s:
        rows = service.reservations_for(s, "chk-1")
        assert [(r.quantity, r.status) for r in rows] == [(5, ReservationStatus.ACTIVE)]

    with db.transaction() as s:
        service.commit_reservations(s, "chk-1")
    with pytest.raises(ProblemError) as exc:
        _reserve(db, merchant_id, variant_id, 1, "chk-1")
    assert _problem(exc) == "reservation-committed"
    assert level(db, merchant_id, variant_id, warehouse.id) == (5, 0)


def test_reserving_again_after_expiry_supersedes_the_lapsed_hold(
    db, merchant_id, warehouse, variant_id
):
    stock(db, merchant_id, variant_id, warehouse.id, 3)
    _reserve(db, merchant_id, variant_id, 1, "late")
    with db.transaction() as s:
        service.expire_due(s, now=utcnow() + dt.timedelta(hours=1))
    _reserve(db, merchant_id, variant_id, 1, "late")
    with db.transaction() as s:
        rows = service.commit_reservations(s, "late")
    assert [r.status for r in rows] == [ReservationStatus.COMMITTED]
    assert level(db, merchant_id, variant_id, warehouse.id) == (2, 0)


def test_expire_due_releases_and_emits(db, merchant_id, warehouse, variant_id):
    stock(db, merchant_id, variant_id, warehouse.id, 4)
    _reserve(db, merchant_id, variant_id, 3, "soon", ttl=30)
    _reserve(db, merchant_id, variant_id, 1, "later", ttl=3600)
    with db.transaction() as s:
        assert service.expire_due(s) == []  # nothing due yet
    with db.transaction() as s:
        refs = service.expire_due(s, now=utcnow() + dt.timedelta(seconds=60))
    assert refs == ["soon"]
    assert level(db, merchant_id, variant_id, warehouse.id) == (4, 1)
    assert _events(db, "inventory.reservation_expired", variant_id) == [
        {"reference": "soon", "variant_id": str(variant_id), "quantity": 3}
    ]
    with db.transaction() as s, pytest.raises(ProblemError) as exc:
        service.commit_reservations(s, "soon")
    assert _problem(exc) == "reservation-expired"
    with db.transaction() as s:  # the sweep is idempotent
        assert service.expire_due(s, now=utcnow() + dt.timedelta(seconds=60)) == []


def test_an_overdue_hold_not_yet_swept_still_commits(db, merchant_id, warehouse, variant_id):
    stock(db, merchant_id, variant_id, warehouse.id, 1)
    _reserve(db, merchant_id, variant_id, 1, "overdue", ttl=1)
    with db.transaction() as s:
        s.execute(
            Reservation.__table__.update()
            .where(Reservation.reference == "overdue")
            .values(expires_at=utcnow() - dt.timedelta(minutes=5))
        )
    with db.transaction() as s:
        assert [r.status for r in service.commit_reservations(s, "overdue")] == [
            ReservationStatus.COMMITTED
        ]
    with db.transaction() as s:
        assert "overdue" not in service.expire_due(s)
    assert level(db, merchant_id, variant_id, warehouse.id) == (0, 0)


def test_extend_pushes_expiry_of_active_holds_only(db, merchant_id, warehouse, variant_id):
    stock(db, merchant_id, variant_id, warehouse.id, 3)
    held = _reserve(db, merchant_id, variant_id, 1, "ext", ttl=10)
    with db.transaction() as s:
        service.extend_reservations(s, "ext", 3600)
    with db.transaction() as s:
        assert service.expire_due(s, now=utcnow() + dt.timedelta(seconds=60)) == []
        (row,) = service.reservations_for(s, "ext")
        assert row.expires_at > held[0].expires_at + dt.timedelta(minutes=50)
    with db.transaction() as s:
        service.release_reservations(s, "ext")
        service.extend_reservations(s, "ext", 3600)  # nothing active: a no-op
        assert [r.status for r in service.reservations_for(s, "ext")] == [
            ReservationStatus.RELEASED
        ]


@pytest.mark.parametrize(
    ("quantity", "ttl", "reference"),
    [(0, 60, "r"), (-1, 60, "r"), (1, 0, "r"), (1, 60, ""), (1, 60, "x" * 101)],
)
def test_reserve_rejects_bad_arguments(
    db, merchant_id, warehouse, variant_id, quantity, ttl, reference
):
    stock(db, merchant_id, variant_id, warehouse.id, 5)
    with pytest.raises(ProblemError) as exc:
        _reserve(db, merchant_id, variant_id, quantity, reference, ttl=ttl)
    assert exc.value.status == 422
    assert level(db, merchant_id, variant_id, warehouse.id) == (5, 0)


def test_reserve_at_another_merchants_location_is_404(db, merchant_id, variant_id):
    from .conftest import make_merchant

    other = make_merchant(db)
    theirs = make_location(db, other)
    stock(db, other, variant_id, theirs.id, 5)
    with pytest.raises(ProblemError) as exc:
        _reserve(db, merchant_id, variant_id, 1, "steal", location_id=theirs.id)
    assert exc.value.status == 404
    with pytest.raises(ProblemError) as exc:  # and their stock is never a candidate
        _reserve(db, merchant_id, variant_id, 1, "steal")
    assert _problem(exc) == "out-of-stock"
    assert level(db, other, variant_id, theirs.id) == (5, 0)


# --- allocation --------------------------------------------------------------------------


def _locations(
    db: Database,
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    spec: list[tuple[LocationKind, int, dict]],
) -> list[Location]:
    locs = []
    for kind, units, extra in spec:
        loc = make_location(db, merchant_id, kind, **extra)
        stock(db, merchant_id, variant_id, loc.id, units)
        locs.append(loc)
    return locs


def _split(held: list[Reservation]) -> dict[uuid.UUID, int]:
    return {r.location_id: r.quantity for r in held}


def test_prefers_one_location_that_covers_everything(db, merchant_id, variant_id):
    small, big, mid = _locations(
        db,
        merchant_id,
        variant_id,
        [
            (LocationKind.WAREHOUSE, 2, {}),
            (LocationKind.WAREHOUSE, 9, {}),
            (LocationKind.STORE, 5, {}),
        ],
    )
    assert _split(_reserve(db, merchant_id, variant_id, 4, "one")) == {big.id: 4}
    # big now has 5 left, like the store: warehouses win ties.
    assert _split(_reserve(db, merchant_id, variant_id, 5, "tie")) == {big.id: 5}
    assert _split(_reserve(db, merchant_id, variant_id, 3, "next")) == {mid.id: 3}
    assert level(db, merchant_id, variant_id, small.id) == (2, 0)


def test_splits_when_no_single_location_can(db, merchant_id, variant_id):
    a, b, c = _locations(
        db,
        merchant_id,
        variant_id,
        [
            (LocationKind.STORE, 3, {}),
            (LocationKind.WAREHOUSE, 4, {}),
            (LocationKind.WAREHOUSE, 2, {}),
        ],
    )
    held = _reserve(db, merchant_id, variant_id, 8, "split")
    assert _split(held) == {b.id: 4, a.id: 3, c.id: 1}
    assert {r.reference for r in held} == {"split"}
    with db.transaction() as s:
        assert len(service.commit_reservations(s, "split")) == 3
    assert [level(db, merchant_id, variant_id, x.id) for x in (a, b, c)] == [(0, 0), (0, 0), (1, 0)]


def test_skips_inactive_and_store_only_locations_unless_named(db, merchant_id, variant_id):
    off, shop_only, ok = _locations(
        db,
        merchant_id,
        variant_id,
        [
            (LocationKind.WAREHOUSE, 10, {"is_active": False}),
            (LocationKind.STORE, 10, {"fulfils_online": False}),
            (LocationKind.WAREHOUSE, 1, {}),
        ],
    )
    with db.reading() as s:
        assert service.available(s, variant_id) == 1
        assert service.available(s, variant_id, off.id) == 0
        assert service.available(s, variant_id, shop_only.id) == 10
    with pytest.raises(ProblemError) as exc:
        _reserve(db, merchant_id, variant_id, 2, "online")
    assert exc.value.extensions["available"] == 1
    # Click & collect names the store, which may hold stock though it does not ship.
    assert _split(_reserve(db, merchant_id, variant_id, 2, "cc", location_id=shop_only.id)) == {
        shop_only.id: 2
    }
    with pytest.raises(ProblemError):
        _reserve(db, merchant_id, variant_id, 1, "dead", location_id=off.id)
    assert level(db, merchant_id, variant_id, ok.id) == (1, 0)


def test_allocate_rule_is_deterministic():
    w = LocationKind.WAREHOUSE
    st = LocationKind.STORE
    ids = [uuid.UUID(int=i) for i in range(4)]
    cands = [
        service._Candidate(uuid.uuid4(), ids[0], st, 6),
        service._Candidate(uuid.uuid4(), ids[1], w, 6),
        service._Candidate(uuid.uuid4(), ids[2], w, 2),
    ]
    assert [(c.location_id, q) for c, q in service.allocate(cands, 6)] == [(ids[1], 6)]
    assert [(c.location_id, q) for c, q in service.allocate(cands, 13)] == [
        (ids[1], 6),
        (ids[0], 6),
        (ids[2], 1),
    ]
    assert service.allocate(cands, 15) == []


# --- stock changes and the low-stock event -----------------------------------------------


def test_low_stock_fires_when_crossing_the_threshold(db, merchant_id, variant_id):
    loc = make_location(db, merchant_id, low_stock_threshold=3)
    stock(db, merchant_id, variant_id, loc.id, 6)
    _reserve(db, merchant_id, variant_id, 2, "a")  # 4 available: above
    _reserve(db, merchant_id, variant_id, 1, "b")  # 3: crosses
    _reserve(db, merchant_id, variant_id, 1, "c")  # 2: already low, no repeat
    lows = _events(db, "stock.low", variant_id)
    assert lows == [
        {"variant_id": str(variant_id), "location_id": str(loc.id), "available": 3, "threshold": 3}
    ]


def test_set_and_adjust_guard_reserved_units(db, merchant_id, warehouse, variant_id):
    stock(db, merchant_id, variant_id, warehouse.id, 5)
    _reserve(db, merchant_id, variant_id, 3, "held")
    with db.transaction() as s, pytest.raises(ProblemError) as exc:
        service.set_stock(
            s, merchant_id=merchant_id, variant_id=variant_id, location_id=warehouse.id, on_hand=2
        )
    assert _problem(exc) == "stock-below-reserved"
    with db.transaction() as s, pytest.raises(ProblemError) as exc:
        service.adjust_stock(
            s, merchant_id=merchant_id, variant_id=variant_id, location_id=warehouse.id, delta=-3
        )
    assert _problem(exc) == "stock-below-reserved"
    with db.transaction() as s, pytest.raises(ProblemError) as exc:
        service.set_stock(
            s,
            merchant_id=merchant_id,
            variant_id=variant_id,
            location_id=warehouse.id,
            on_hand=9,
            expected_on_hand=4,
        )
    assert _problem(exc) == "stock-version-mismatch"
    assert exc.value.extensions == {"current_on_hand": 5}
    assert level(db, merchant_id, variant_id, warehouse.id) == (5, 3)
    with db.transaction() as s:
        lvl, move = service.adjust_stock(
            s,
            merchant_id=merchant_id,
            variant_id=variant_id,
            location_id=warehouse.id,
            delta=-2,
            actor="user:x",
        )
        assert (lvl.on_hand, lvl.reserved, lvl.available) == (3, 3, 0)
        assert (move.delta_on_hand, move.actor) == (-2, "user:x")


def test_restock_adds_units_with_its_reason(db, merchant_id, warehouse, variant_id):
    with db.transaction() as s:
        service.restock(
            s,
            merchant_id=merchant_id,
            variant_id=variant_id,
            location_id=warehouse.id,
            quantity=4,
            reason="receipt",
            reference="PO-1",
        )
        service.restock(
            s,
            merchant_id=merchant_id,
            variant_id=variant_id,
            location_id=warehouse.id,
            quantity=1,
            reason="return",
        )
    assert level(db, merchant_id, variant_id, warehouse.id) == (5, 0)
    with db.reading() as s:
        moves = service.list_movements(s, merchant_id, limit=10, variant_id=variant_id)
        assert [(m.reason, m.delta_on_hand, m.reference) for m in moves] == [
            (MovementReason.RETURN, 1, None),
            (MovementReason.RECEIPT, 4, "PO-1"),
        ]
    for bad in ({"quantity": 0, "reason": "receipt"}, {"quantity": 1, "reason": "sale"}):
        with db.transaction() as s, pytest.raises(ProblemError):
            service.restock(
                s, merchant_id=merchant_id, variant_id=variant_id, location_id=warehouse.id, **bad
            )
