"""Live membership: re-evaluate a customer when what rules read about them changes, forget
erased accounts, and re-evaluate personas daily (time windows and ages drift).

Every handler is idempotent: it recomputes the customer's memberships from the current
facts, so a redelivered event changes nothing."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from sqlalchemy.orm import Session

from plaza.db import Database, utcnow
from plaza.events import Event, subscribe
from plaza.personas.segments import service
from plaza.privacy.models import Purpose
from plaza.subscribers import HOUSEKEEPING

log = logging.getLogger(__name__)


def _user_id(event: Event) -> uuid.UUID | None:
    """The customer an event is about (payload ``user_id``, else the aggregate). An
    erasure scrubs ids out of pending events: those come through as ``None``."""
    raw: Any = event.payload.get("user_id") or (
        event.aggregate_id if event.aggregate_type == "user" else None
    )
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


@subscribe("customer.activity_recorded", name="personas.segments.on_activity")
@subscribe("customer.profile_changed", name="personas.segments.on_profile")
@subscribe("customer.persona_changed", name="personas.segments.on_customer_persona")
def refresh_on_customer_change(s: Session, event: Event) -> None:
    user_id = _user_id(event)
    if user_id is not None:
        service.refresh_customer(s, user_id)


@subscribe("consent.changed", name="personas.segments.on_consent")
def refresh_on_consent(s: Session, event: Event) -> None:
    """Granting personalisation may make the customer a member; withdrawing it removes
    them from every persona."""
    if event.payload.get("purpose") != Purpose.PERSONALISATION.value:
        return
    user_id = _user_id(event)
    if user_id is not None:
        service.refresh_customer(s, user_id)


@subscribe("user.erased", name="personas.segments.on_erased")
def forget_on_erasure(s: Session, event: Event) -> None:
    user_id = _user_id(event)
    if user_id is not None:
        service.forget_customer(s, user_id)


CHECK_EVERY = dt.timedelta(minutes=1)
PER_TICK = 5
_last_check: dt.datetime | None = None


def refresh_stale(db: Database, now: dt.datetime | None = None, limit: int = PER_TICK) -> int:
    """Fully re-evaluate up to ``limit`` personas whose last evaluation is over a day
    old, each in its own transaction. Returns how many were re-evaluated."""
    with db.reading() as s:
        due = service.stale_personas(s, now, limit)
    done = 0
    for merchant_id, persona_id in due:
        try:
            with db.transaction() as s:
                if (merchant_id, persona_id) in service.stale_personas(s, now, limit):
                    service.rebuild_persona(s, merchant_id, persona_id, now)
                    done += 1
        except Exception:  # one broken persona must not stop the others; retried next time
            log.exception("re-evaluating persona %s failed", persona_id)
    return done


def refresh_stale_job(db: Database) -> None:
    """Housekeeping hook: the dispatcher ticks twice a second; look at most once a minute
    (one small read when nothing is due)."""
    global _last_check
    now = utcnow()
    if _last_check is not None and now - _last_check < CHECK_EVERY:
        return
    _last_check = now
    refresh_stale(db, now)


if refresh_stale_job not in HOUSEKEEPING:
    HOUSEKEEPING.append(refresh_stale_job)
