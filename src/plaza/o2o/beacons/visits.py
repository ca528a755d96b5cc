"""Sightings to visits: enter, dwell, exit per (customer, zone), de-duplicated and
debounced.

Rules (``VisitRules``; defaults overridable with ``PLAZA_O2O_DWELL_SECONDS``,
``PLAZA_O2O_EXIT_SECONDS``, ``PLAZA_O2O_MAX_SIGHTING_AGE_SECONDS``,
``PLAZA_O2O_MAX_CLOCK_SKEW_SECONDS``):

- a sighting is rejected when its beacon is unknown (or inactive), it is older than
  ``max_age_seconds`` or more than ``max_skew_seconds`` in the future, or its RSSI is
  outside −120..0 dBm;
- the first sighting in a zone with no open visit opens one (``o2o.visit_started``, and
  proximity offers are delivered);
- a sighting at or before the zone's last-seen time adds nothing: a duplicate (retries,
  two beacons of one zone in the same scan, late batches);
- presence of ``dwell_seconds`` since the visit started makes it dwell
  (``o2o.visit_dwelled``, once);
- ``exit_seconds`` without a sighting in the zone ends the visit at its last sighting
  (``o2o.visit_ended``). That silence is noticed by the next sighting of the customer
  anywhere (judged on the sightings' own times), or by the housekeeping job
  ``end_silent_visits`` (judged on the clock). Sightings in another zone
  do not end a visit by themselves: near a zone's edge a phone hears both, and the
  debounce keeps that from flapping.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from plaza.db import Database, utcnow
from plaza.errors import ProblemType, problem_type
from plaza.events import emit, event_type
from plaza.ids import uuid7
from plaza.o2o.beacons import offers as offer_rules
from plaza.o2o.beacons.models import Beacon, Visit
from plaza.o2o.beacons.schemas import (
    DeliveredOffer,
    SightingError,
    SightingIn,
    SightingResult,
    SightingsOut,
    VisitOut,
)
from plaza.o2o.beacons.service import beacons_by_identifier
from plaza.privacy.service import has_consent

MIN_RSSI, MAX_RSSI = -120, 0

UNKNOWN_BEACON = problem_type(
    "sighting-unknown-beacon",
    "Unknown beacon",
    422,
    "No active beacon is registered with this identifier (per-sighting error of "
    "`POST /o2o/sightings`).",
)
STALE_SIGHTING = problem_type(
    "sighting-stale",
    "Sighting too old",
    422,
    "`seen_at` is older than the accepted age (5 minutes by default); send sightings "
    "promptly (per-sighting error of `POST /o2o/sightings`).",
)
FUTURE_SIGHTING = problem_type(
    "sighting-from-future",
    "Sighting from the future",
    422,
    "`seen_at` is ahead of the server clock by more than the allowed skew (30 s by "
    "default); check the phone's clock (per-sighting error of `POST /o2o/sightings`).",
)
IMPOSSIBLE_RSSI = problem_type(
    "sighting-rssi-impossible",
    "Impossible signal strength",
    422,
    f"`rssi` must be between {MIN_RSSI} and {MAX_RSSI} dBm (per-sighting error of "
    "`POST /o2o/sightings`).",
)

VISIT_STARTED = event_type(
    "o2o.visit_started",
    "A customer entered a store zone; payload: visit_id, user_id, store_id, zone_id.",
)
VISIT_DWELLED = event_type(
    "o2o.visit_dwelled",
    "A customer stayed in a zone past the dwell time; payload: visit_id, user_id, "
    "store_id, zone_id.",
)
VISIT_ENDED = event_type(
    "o2o.visit_ended",
    "A customer left a zone (no sighting for the exit time); payload: visit_id, user_id, "
    "store_id, zone_id.",
)


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class VisitRules:
    dwell_seconds: int = 60
    exit_seconds: int = 30
    max_age_seconds: int = 300
    max_skew_seconds: int = 30

    @classmethod
    def from_env(cls) -> VisitRules:
        return cls(
            dwell_seconds=_env_int("PLAZA_O2O_DWELL_SECONDS", 60),
            exit_seconds=_env_int("PLAZA_O2O_EXIT_SECONDS", 30),
            max_age_seconds=_env_int("PLAZA_O2O_MAX_SIGHTING_AGE_SECONDS", 300),
            max_skew_seconds=_env_int("PLAZA_O2O_MAX_CLOCK_SKEW_SECONDS", 30),
        )


def _payload(v: Visit) -> dict[str, str]:
    return {
        "visit_id": str(v.id),
        "user_id": str(v.user_id),
        "store_id": str(v.location_id),
        "zone_id": str(v.zone_id),
    }


def _emit(s: Session, kind: str, v: Visit) -> None:
    emit(
        s,
        kind,
        aggregate_type="visit",
        aggregate_id=v.id,
        merchant_id=v.merchant_id,
        payload=_payload(v),
    )


def _end(s: Session, v: Visit) -> None:
    v.ended_at = v.last_seen_at  # they were last there then
    _emit(s, VISIT_ENDED, v)


def visit_view(v: Visit) -> VisitOut:
    return VisitOut(
        id=v.id,
        store_id=v.location_id,
        zone_id=v.zone_id,
        started_at=v.started_at,
        last_seen_at=v.last_seen_at,
        dwelled_at=v.dwelled_at,
        ended_at=v.ended_at,
    )


def _error(kind: ProblemType, detail: str) -> SightingError:
    return SightingError(type=kind.uri, title=kind.title, detail=detail)


def _check(
    sighting: SightingIn, beacon: Beacon | None, now: dt.datetime, rules: VisitRules
) -> SightingError | None:
    if beacon is None:
        return _error(UNKNOWN_BEACON, f"no beacon {sighting.beacon.identifier()}")
    if not MIN_RSSI <= sighting.rssi <= MAX_RSSI:
        return _error(IMPOSSIBLE_RSSI, f"rssi {sighting.rssi} dBm is outside {MIN_RSSI}..0")
    age = (now - sighting.seen_at).total_seconds()
    if age > rules.max_age_seconds:
        return _error(STALE_SIGHTING, f"seen {int(age)} s ago (limit {rules.max_age_seconds} s)")
    if -age > rules.max_skew_seconds:
        return _error(FUTURE_SIGHTING, f"seen {int(-age)} s ahead of the server clock")
    return None


def record_sightings(
    s: Session,
    user_id: uuid.UUID,
    sightings: list[SightingIn],
    *,
    now: dt.datetime | None = None,
    rules: VisitRules | None = None,
) -> SightingsOut:
    """Apply a phone's batch of sightings for ``user_id``; see the module rules."""
    now = now or utcnow()
    rules = rules or VisitRules.from_env()
    beacons = beacons_by_identifier(s, [x.beacon.identifier() for x in sightings])
    results: dict[int, SightingResult] = {}
    good: list[tuple[dt.datetime, int, Beacon]] = []
    seen_pairs: set[tuple[str, dt.datetime]] = set()
    for i, x in enumerate(sightings):
        beacon = beacons.get(x.beacon.identifier())
        error = _check(x, beacon, now, rules)
        if error is not None or beacon is None:
            results[i] = SightingResult(index=i, status="rejected", error=error)
            continue
        pair = (beacon.identifier, x.seen_at)
        status: Literal["accepted", "duplicate"] = "accepted"
        if pair in seen_pairs:
            status = "duplicate"
        else:
            seen_pairs.add(pair)
            good.append((x.seen_at.astimezone(dt.UTC), i, beacon))
        results[i] = SightingResult(
            index=i, status=status, store_id=beacon.location_id, zone_id=beacon.zone_id
        )
    good.sort(key=lambda g: (g[0], g[1]))

    open_visits: dict[uuid.UUID, Visit] = {
        v.zone_id: v
        for v in s.scalars(
            select(Visit)
            .where(Visit.user_id == user_id, Visit.ended_at.is_(None))
            .with_for_update()
        )
    }
    touched: dict[uuid.UUID, Visit] = {}
    entered: list[Visit] = []
    exit_after = dt.timedelta(seconds=rules.exit_seconds)
    dwell_after = dt.timedelta(seconds=rules.dwell_seconds)

    def end_silent(at: dt.datetime) -> None:
        for zone_id, v in list(open_visits.items()):
            if at - v.last_seen_at > exit_after:
                _end(s, v)
                touched[v.id] = v
                del open_visits[zone_id]

    for seen_at, i, beacon in good:
        end_silent(seen_at)
        v = open_visits.get(beacon.zone_id)
        if v is None:
            last = s.scalar(
                select(Visit.last_seen_at)
                .where(Visit.user_id == user_id, Visit.zone_id == beacon.zone_id)
                .order_by(Visit.last_seen_at.desc())
                .limit(1)
            )
            if last is not None and seen_at <= last:  # a late copy of an ended visit
                results[i] = results[i].model_copy(update={"status": "duplicate"})
                continue
            v = Visit(
                id=uuid7(),  # now, so the events below can name it
                user_id=user_id,
                merchant_id=beacon.merchant_id,
                location_id=beacon.location_id,
                zone_id=beacon.zone_id,
                started_at=seen_at,
                last_seen_at=seen_at,
                sightings=1,
            )
            s.add(v)
            open_visits[beacon.zone_id] = v
            touched[v.id] = v
            entered.append(v)
            _emit(s, VISIT_STARTED, v)
            continue
        if seen_at <= v.last_seen_at:
            results[i] = results[i].model_copy(update={"status": "duplicate"})
            continue
        v.last_seen_at = seen_at
        v.sightings += 1
        touched[v.id] = v
        if v.dwelled_at is None and seen_at - v.started_at >= dwell_after:
            v.dwelled_at = seen_at
            _emit(s, VISIT_DWELLED, v)
    # Event time only: silence after the batch's last sighting is the sweep's to judge
    # (a phone sends batches late; its own sightings say what happened until then).
    s.flush()

    delivered: list[DeliveredOffer] = []
    live = [v for v in entered if v.ended_at is None]
    if live:
        marketing = has_consent(s, user_id, "marketing")
        for v in live:
            delivered.extend(offer_rules.deliver_on_entry(s, v, now=now, marketing=marketing))
    final = [results[i] for i in range(len(sightings))]
    return SightingsOut(
        accepted=sum(r.status == "accepted" for r in final),
        duplicates=sum(r.status == "duplicate" for r in final),
        rejected=sum(r.status == "rejected" for r in final),
        results=final,
        visits=[visit_view(v) for v in sorted(touched.values(), key=lambda v: v.started_at)],
        offers=delivered,
    )


# --- housekeeping -----------------------------------------------------------------------------


def end_silent_visits(
    s: Session,
    *,
    now: dt.datetime | None = None,
    rules: VisitRules | None = None,
    limit: int = 500,
) -> int:
    """End open visits whose zone has been silent for ``exit_seconds``; returns how many."""
    rules = rules or VisitRules.from_env()
    cutoff = (now or utcnow()) - dt.timedelta(seconds=rules.exit_seconds)
    rows = list(
        s.scalars(
            select(Visit)
            .where(Visit.ended_at.is_(None), Visit.last_seen_at < cutoff)
            .order_by(Visit.last_seen_at, Visit.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for v in rows:
        _end(s, v)
    s.flush()
    return len(rows)


SWEEP_EVERY = dt.timedelta(seconds=5)
_last_sweep: dt.datetime | None = None


def sweep_job(db: Database) -> None:
    """Housekeeping hook (``plaza.subscribers.HOUSEKEEPING``): at most every few seconds,
    and a cheap read first so an idle tick takes no write lock."""
    global _last_sweep
    now = utcnow()
    if _last_sweep is not None and now - _last_sweep < SWEEP_EVERY:
        return
    _last_sweep = now
    cutoff = now - dt.timedelta(seconds=VisitRules.from_env().exit_seconds)
    with db.reading() as s:
        due = s.scalar(
            select(Visit.id).where(Visit.ended_at.is_(None), Visit.last_seen_at < cutoff).limit(1)
        )
    if due is None:
        return
    with db.transaction() as s:
        end_silent_visits(s, now=now)


def open_visits_in_zone(
    s: Session,
    zone_id: uuid.UUID,
    *,
    now: dt.datetime | None = None,
    rules: VisitRules | None = None,
) -> list[Visit]:
    """Customers present in a zone now: open visits not yet past the exit time (the
    sweep may not have ended them yet)."""
    rules = rules or VisitRules.from_env()
    cutoff = (now or utcnow()) - dt.timedelta(seconds=rules.exit_seconds)
    return list(
        s.scalars(
            select(Visit).where(
                Visit.zone_id == zone_id, Visit.ended_at.is_(None), Visit.last_seen_at >= cutoff
            )
        )
    )
