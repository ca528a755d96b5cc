"""Overselling under real concurrency: many threads, each with its own transaction, race
for the last units. Runs on SQLite and (with PLAZA_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plaza.db import Database, utcnow
from plaza.errors import ProblemError
from plaza.inventory import service
from plaza.inventory.models import (
    LocationKind,
    Reservation,
    ReservationStatus,
    StockLevel,
    StockMovement,
)

from .conftest import level, make_location, stock


def race(
    db: Database, n: int, work: Callable[[Session, int], object], watch: uuid.UUID | None = None
) -> tuple[list[str], list[int]]:
    """Run ``work`` in ``n`` threads released together; each outcome is "ok" or a problem
    slug. With ``watch`` (a variant id), a reader samples its available counts meanwhile."""
    barrier = threading.Barrier(n)
    outcomes: list[str] = ["not run"] * n
    seen: list[int] = []
    done = threading.Event()

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            with db.transaction() as s:
                work(s, i)
            outcomes[i] = "ok"
        except ProblemError as exc:
            outcomes[i] = exc.kind.slug
        except Exception as exc:  # surfaces as a failed assertion, with the cause
            outcomes[i] = repr(exc)

    def reader() -> None:
        for _ in range(10_000):  # bounded; ends as soon as the workers are done
            with db.reading() as s:
                seen.extend(
                    int(a)
                    for a in s.scalars(
                        select(StockLevel.on_hand - StockLevel.reserved).where(
                            StockLevel.variant_id == watch
                        )
                    )
                )
            if done.wait(0.002):
                return

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    sampler = threading.Thread(target=reader) if watch else None
    if sampler:
        sampler.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    done.set()
    if sampler:
        sampler.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return outcomes, seen


def _held(db: Database, variant_id: uuid.UUID) -> int:
    with db.reading() as s:
        return int(
            s.scalar(
                select(func.coalesce(func.sum(Reservation.quantity), 0)).where(
                    Reservation.variant_id == variant_id,
                    Reservation.status == ReservationStatus.ACTIVE,
                )
            )
        )


def _reserver(
    merchant_id: uuid.UUID, variant_id: uuid.UUID, quantity: int, prefix: str
) -> Callable[[Session, int], object]:
    def work(s: Session, i: int) -> object:
        return service.reserve(
            s,
            merchant_id=merchant_id,
            variant_id=variant_id,
            quantity=quantity,
            reference=f"{prefix}-{i}",
            ttl_seconds=600,
        )

    return work


def test_last_unit_is_sold_once(db, merchant_id, warehouse, variant_id):
    stock(db, merchant_id, variant_id, warehouse.id, 1)
    outcomes, seen = race(db, 20, _reserver(merchant_id, variant_id, 1, "last"), variant_id)
    assert Counter(outcomes) == {"ok": 1, "out-of-stock": 19}
    assert level(db, merchant_id, variant_id, warehouse.id) == (1, 1)
    assert _held(db, variant_id) == 1
    assert seen and min(seen) >= 0


def test_ten_units_fifty_buyers(db, merchant_id, warehouse, variant_id):
    stock(db, merchant_id, variant_id, warehouse.id, 10)
    outcomes, seen = race(db, 50, _reserver(merchant_id, variant_id, 1, "ten"), variant_id)
    assert Counter(outcomes) == {"ok": 10, "out-of-stock": 40}
    assert level(db, merchant_id, variant_id, warehouse.id) == (10, 10)
    assert _held(db, variant_id) == 10
    assert seen and min(seen) >= 0


def test_split_allocations_never_oversell(db, merchant_id, variant_id):
    locs = [make_location(db, merchant_id, LocationKind.WAREHOUSE) for _ in range(3)]
    locs.append(make_location(db, merchant_id, LocationKind.STORE))
    for loc in locs:
        stock(db, merchant_id, variant_id, loc.id, 4)
    # 16 units, each buyer wants 5: no location covers it alone, so every hold splits.
    outcomes, seen = race(db, 12, _reserver(merchant_id, variant_id, 5, "split"), variant_id)
    assert Counter(outcomes) == {"ok": 3, "out-of-stock": 9}
    levels = [level(db, merchant_id, variant_id, loc.id) for loc in locs]
    assert sum(r for _, r in levels) == 15 == _held(db, variant_id)
    assert all(0 <= r <= h for h, r in levels)
    assert min(seen) >= 0
    # The ledger accounts for every unit: its deltas sum to each level's counts.
    with db.reading() as s:
        sums = dict(
            s.execute(
                select(
                    StockMovement.location_id,
                    func.sum(StockMovement.delta_reserved),
                )
                .where(StockMovement.variant_id == variant_id)
                .group_by(StockMovement.location_id)
            ).all()
        )
    assert [int(sums[loc.id]) for loc in locs] == [r for _, r in levels]


def test_commit_release_and_expiry_racing_on_one_hold_apply_once(
    db, merchant_id, warehouse, variant_id
):
    stock(db, merchant_id, variant_id, warehouse.id, 8)
    refs = [f"contested-{i}" for i in range(8)]
    with db.transaction() as s:
        for ref in refs:
            service.reserve(
                s,
                merchant_id=merchant_id,
                variant_id=variant_id,
                quantity=1,
                reference=ref,
                ttl_seconds=60,
            )
    later = utcnow() + dt.timedelta(minutes=5)

    def work(s: Session, i: int) -> object:
        ref = refs[i % len(refs)]
        kind = (i // len(refs)) % 3
        if kind == 0:
            return service.commit_reservations(s, ref)
        if kind == 1:
            return service.release_reservations(s, ref)
        return service.expire_due(s, now=later)

    outcomes, _ = race(db, 48, work)
    assert set(outcomes) <= {"ok", "reservation-expired"}, outcomes
    with db.reading() as s:
        statuses = [service.reservations_for(s, ref)[0].status for ref in refs]
    sold = statuses.count(ReservationStatus.COMMITTED)
    assert ReservationStatus.ACTIVE not in statuses
    # Each hold ended exactly once: sold units left on_hand, the rest came back.
    assert level(db, merchant_id, variant_id, warehouse.id) == (8 - sold, 0)


def test_concurrent_first_stock_counts_create_one_level(db, merchant_id, warehouse):
    variant_id = uuid.uuid4()

    def work(s: Session, i: int) -> object:
        return service.adjust_stock(
            s, merchant_id=merchant_id, variant_id=variant_id, location_id=warehouse.id, delta=1
        )

    outcomes, _ = race(db, 10, work)
    assert outcomes == ["ok"] * 10
    assert level(db, merchant_id, variant_id, warehouse.id) == (10, 0)


def test_multi_variant_commits_sweeps_and_reserves_mix_without_deadlock(db, merchant_id):
    """Orders holding several variants commit while the sweep expires others and new buyers
    reserve: no deadlock or other error, and every level matches its ledger."""
    locs = [make_location(db, merchant_id) for _ in range(2)]
    variants = sorted(uuid.uuid4() for _ in range(4))
    for v in variants:
        for loc in locs:
            stock(db, merchant_id, v, loc.id, 30)
    refs = [f"multi-{uuid.uuid4().hex[:8]}" for _ in range(12)]
    with db.transaction() as s:
        for i, ref in enumerate(refs):
            for v in variants[i % 2 :]:  # two to four variants each, in variant order
                service.reserve(
                    s,
                    merchant_id=merchant_id,
                    variant_id=v,
                    quantity=3,
                    reference=ref,
                    ttl_seconds=60,
                )
    later = utcnow() + dt.timedelta(minutes=5)

    def work(s: Session, i: int) -> object:
        if i < len(refs):
            return service.commit_reservations(s, refs[i])
        if i < len(refs) + 4:
            return service.expire_due(s, now=later, limit=5)
        for v in variants[i % 3 :]:
            service.reserve(
                s,
                merchant_id=merchant_id,
                variant_id=v,
                quantity=7,
                reference=f"new-{i}",
                ttl_seconds=600,
            )
        return None

    outcomes, _ = race(db, len(refs) + 16, work)
    assert set(outcomes) <= {"ok", "reservation-expired", "out-of-stock"}, outcomes
    with db.reading() as s:
        for v in variants:
            for loc in locs:
                row = service.get_level(s, merchant_id, v, loc.id)
                assert row is not None
                deltas = s.execute(
                    select(
                        func.sum(StockMovement.delta_on_hand),
                        func.sum(StockMovement.delta_reserved),
                    ).where(StockMovement.variant_id == v, StockMovement.location_id == loc.id)
                ).one()
                assert (row.on_hand, row.reserved) == (int(deltas[0]), int(deltas[1]))
                held = s.scalar(
                    select(func.coalesce(func.sum(Reservation.quantity), 0)).where(
                        Reservation.variant_id == v,
                        Reservation.location_id == loc.id,
                        Reservation.status == ReservationStatus.ACTIVE,
                    )
                )
                assert row.reserved == int(held) and 0 <= row.reserved <= row.on_hand
