"""Domain events and the transactional outbox.

``emit`` writes an event row in the caller's transaction, so an event exists if and only
if the change it describes was committed. The dispatcher (in-process thread by default,
``plaza worker`` processes when scaled out) delivers each event to every subscriber at
least once: a subscriber's own writes and its delivery mark commit together, so database
subscribers see each event effectively once; side-effecting subscribers must be idempotent
(they receive the event id).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from plaza.db import Base, Database, utcnow
from plaza.ids import uuid7

log = logging.getLogger(__name__)


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    type: Mapped[str] = mapped_column(String(100), index=True)
    aggregate_type: Mapped[str] = mapped_column(String(50))
    aggregate_id: Mapped[str] = mapped_column(String(64))
    merchant_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    payload: Mapped[dict[str, Any]]
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Set once every subscriber has the event; the dispatcher's work queue is "IS NULL".
    completed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)

    __table_args__ = (Index("ix_outbox_pending", "completed_at", "id"),)


class OutboxDelivery(Base):
    """One row per (event, subscriber) delivered: the at-least-once bookkeeping."""

    __tablename__ = "outbox_deliveries"

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbox_events.id", ondelete="CASCADE"), primary_key=True
    )
    subscriber: Mapped[str] = mapped_column(String(200), primary_key=True)
    delivered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class Event:
    id: uuid.UUID
    type: str
    aggregate_type: str
    aggregate_id: str
    merchant_id: uuid.UUID | None
    payload: dict[str, Any]
    occurred_at: dt.datetime


Handler = Callable[[Session, Event], None]
_subscribers: dict[str, dict[str, Handler]] = defaultdict(dict)

# The event catalogue: every type a context may emit, with its meaning (docs/events.md).
EVENT_TYPES: dict[str, str] = {}


def event_type(name: str, description: str) -> str:
    EVENT_TYPES[name] = description
    return name


def emit(
    session: Session,
    type_: str,
    *,
    aggregate_type: str,
    aggregate_id: object,
    merchant_id: uuid.UUID | None = None,
    payload: dict[str, Any] | None = None,
) -> OutboxEvent:
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unregistered event type {type_!r}")
    row = OutboxEvent(
        type=type_,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        merchant_id=merchant_id,
        payload=payload or {},
    )
    session.add(row)
    return row


def subscribe(type_: str, name: str | None = None) -> Callable[[Handler], Handler]:
    """Register ``handler(session, event)`` for an event type (``"*"`` for all)."""

    def register(handler: Handler) -> Handler:
        key = name or f"{handler.__module__}.{handler.__qualname__}"
        _subscribers[type_][key] = handler
        return handler

    return register


def unsubscribe(type_: str, name: str) -> None:
    _subscribers[type_].pop(name, None)


def subscribers_for(type_: str) -> dict[str, Handler]:
    return {**_subscribers.get("*", {}), **_subscribers.get(type_, {})}


def _to_event(row: OutboxEvent) -> Event:
    return Event(
        row.id,
        row.type,
        row.aggregate_type,
        row.aggregate_id,
        row.merchant_id,
        dict(row.payload),
        row.occurred_at,
    )


MAX_ATTEMPTS = 10


def dispatch_pending(db: Database, batch: int = 100) -> int:
    """Deliver one batch of pending events; returns how many events were completed.

    Events nobody subscribes to are completed in one statement: most events exist for
    partners and later contexts, and a transaction each would make the dispatcher the
    busiest writer of an embedded database."""
    with db.reading() as s:
        rows = s.execute(
            select(OutboxEvent.id, OutboxEvent.type)
            .where(OutboxEvent.completed_at.is_(None), OutboxEvent.attempts < MAX_ATTEMPTS)
            .order_by(OutboxEvent.id)
            .limit(batch)
        ).all()
    idle = [event_id for event_id, type_ in rows if not subscribers_for(type_)]
    done = 0
    if idle:
        with db.transaction() as s:
            result = s.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(idle), OutboxEvent.completed_at.is_(None))
                .values(completed_at=utcnow(), attempts=OutboxEvent.attempts + 1)
            )
            done += getattr(result, "rowcount", 0) or 0
    for event_id, type_ in rows:
        if subscribers_for(type_) and _deliver_one(db, event_id):
            done += 1
    return done


def _deliver_one(db: Database, event_id: uuid.UUID) -> bool:
    with db.reading() as s:
        row = s.get(OutboxEvent, event_id)
        if row is None or row.completed_at is not None:
            return False
        event = _to_event(row)
        delivered = set(
            s.scalars(select(OutboxDelivery.subscriber).where(OutboxDelivery.event_id == event_id))
        )
    failed: str | None = None
    for name, handler in subscribers_for(event.type).items():
        if name in delivered:
            continue
        try:
            with db.transaction() as s:
                handler(s, event)
                s.add(OutboxDelivery(event_id=event_id, subscriber=name))
        except Exception as exc:  # a failing subscriber must not stop the others
            log.exception("subscriber %s failed on event %s", name, event_id)
            failed = f"{name}: {exc!r}"[:2000]
    try:
        with db.transaction() as s:
            row2 = s.get(OutboxEvent, event_id)
            if row2 is None:
                return False
            row2.attempts += 1
            if failed is None:
                row2.completed_at = utcnow()
            else:
                row2.last_error = failed
    except SQLAlchemyError:
        log.exception("could not record delivery of %s", event_id)
        return False
    return failed is None


class Dispatcher:
    """Background thread that drains the outbox; the embedded default of ``plaza worker``."""

    def __init__(self, db: Database, interval: float = 0.5) -> None:
        self.db = db
        self.interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.hooks: list[Callable[[Database], Any]] = []

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="plaza-dispatcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                for hook in self.hooks:
                    hook(self.db)
                while dispatch_pending(self.db) and not self._stop.is_set():
                    pass
            except Exception:  # keep the loop alive; the error is logged and retried
                log.exception("dispatcher iteration failed")
            self._wake.wait(self.interval)
            self._wake.clear()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
