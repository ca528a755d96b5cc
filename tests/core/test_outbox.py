"""The transactional outbox: events exist iff their change committed, and each subscriber
gets each event once, even when another subscriber fails and is retried."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from plaza.app import create_app
from plaza.config import Settings
from plaza.db import Database
from plaza.events import (
    EVENT_TYPES,
    Dispatcher,
    Event,
    OutboxDelivery,
    OutboxEvent,
    dispatch_pending,
    emit,
    event_type,
    subscribe,
    unsubscribe,
)

PROBE = "test.outbox_probe"
SIDE = "test.outbox_side_effect"


@pytest.fixture(scope="module", autouse=True)
def _types() -> Iterator[None]:
    event_type(PROBE, "Test-only probe event.")
    event_type(SIDE, "Test-only event written by a subscriber.")
    yield
    EVENT_TYPES.pop(PROBE, None)
    EVENT_TYPES.pop(SIDE, None)


@pytest.fixture
def subscribed() -> Iterator[Callable[..., str]]:
    """Register handlers under unique names; always unregister them afterwards."""
    registered: list[tuple[str, str]] = []

    def add(type_: str, handler: Callable[..., None]) -> str:
        name = f"test.{handler.__name__}.{uuid.uuid4().hex}"
        subscribe(type_, name=name)(handler)
        registered.append((type_, name))
        return name

    yield add
    for type_, name in registered:
        unsubscribe(type_, name)


def drain(db: Database) -> None:
    """Deliver whatever earlier tests left pending (bounded)."""
    for _ in range(200):
        if dispatch_pending(db) == 0:
            return


def publish(db: Database, marker: str, type_: str = PROBE, **payload: object) -> uuid.UUID:
    with db.transaction() as s:
        row = emit(s, type_, aggregate_type="probe", aggregate_id=marker, payload=payload)
        s.flush()
        return row.id


def count(db: Database, marker: str, type_: str = PROBE) -> int:
    with db.reading() as s:
        return s.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.type == type_, OutboxEvent.aggregate_id == marker)
        )


def test_emit_in_a_rolled_back_transaction_leaves_no_event(db):
    marker = uuid.uuid4().hex
    with pytest.raises(RuntimeError), db.transaction() as s:
        emit(s, PROBE, aggregate_type="probe", aggregate_id=marker)
        s.flush()  # written, but never committed
        raise RuntimeError("the change failed")
    assert count(db, marker) == 0
    publish(db, marker)
    assert count(db, marker) == 1


def test_unregistered_event_types_are_refused(db):
    with pytest.raises(ValueError, match="unregistered"), db.transaction() as s:
        emit(s, "test.never_registered", aggregate_type="x", aggregate_id="y")


def test_each_subscriber_gets_each_event_once_and_failures_retry_alone(db, subscribed):
    marker = uuid.uuid4().hex
    healthy_calls: list[Event] = []
    flaky_calls: list[Event] = []

    def healthy(s, event: Event) -> None:  # type: ignore[no-untyped-def]
        if event.aggregate_id == marker:
            healthy_calls.append(event)

    def flaky(s, event: Event) -> None:  # type: ignore[no-untyped-def]
        if event.aggregate_id != marker:
            return
        flaky_calls.append(event)
        # Its own write commits with its delivery mark, or not at all.
        emit(s, SIDE, aggregate_type="probe", aggregate_id=marker)
        if len(flaky_calls) == 1:
            raise RuntimeError("downstream unavailable")

    drain(db)
    healthy_name = subscribed(PROBE, healthy)
    flaky_name = subscribed(PROBE, flaky)
    event_id = publish(db, marker, colour="teal")

    dispatch_pending(db)
    assert [e.id for e in healthy_calls] == [event_id]
    assert healthy_calls[0].payload == {"colour": "teal"} and healthy_calls[0].type == PROBE
    assert len(flaky_calls) == 1
    assert count(db, marker, SIDE) == 0  # the failed attempt's write was rolled back
    with db.reading() as s:
        row = s.get(OutboxEvent, event_id)
        assert row is not None
        assert row.completed_at is None and row.attempts == 1
        assert row.last_error and "downstream unavailable" in row.last_error
        assert flaky_name in row.last_error

    dispatch_pending(db)  # the retry reaches only the subscriber that failed
    assert len(healthy_calls) == 1 and len(flaky_calls) == 2
    assert count(db, marker, SIDE) == 1
    with db.reading() as s:
        row = s.get(OutboxEvent, event_id)
        assert row is not None and row.completed_at is not None and row.attempts == 2
        delivered = set(
            s.scalars(select(OutboxDelivery.subscriber).where(OutboxDelivery.event_id == event_id))
        )
    assert {healthy_name, flaky_name} <= delivered

    drain(db)  # completed events are never delivered again
    assert len(healthy_calls) == 1 and len(flaky_calls) == 2


def test_wildcard_subscribers_see_every_type(db, subscribed):
    marker = uuid.uuid4().hex
    seen: list[str] = []

    def everything(s, event: Event) -> None:  # type: ignore[no-untyped-def]
        if event.aggregate_id == marker:
            seen.append(event.type)

    drain(db)
    subscribed("*", everything)
    publish(db, marker, PROBE)
    publish(db, marker, SIDE)
    drain(db)
    assert sorted(seen) == sorted([PROBE, SIDE])


def test_dispatcher_thread_drains_events_and_runs_hooks(db, subscribed):
    marker = uuid.uuid4().hex
    delivered = threading.Event()
    ticks: list[float] = []

    def on_probe(s, event: Event) -> None:  # type: ignore[no-untyped-def]
        if event.aggregate_id == marker:
            delivered.set()

    subscribed(PROBE, on_probe)
    dispatcher = Dispatcher(db, interval=0.05)
    dispatcher.hooks.append(lambda _db: ticks.append(time.monotonic()))
    dispatcher.start()
    try:
        event_id = publish(db, marker)
        dispatcher.wake()
        assert delivered.wait(timeout=15), "the dispatcher never delivered the event"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with db.reading() as s:
                row = s.get(OutboxEvent, event_id)
                if row is not None and row.completed_at is not None:
                    break
            time.sleep(0.05)
        else:
            pytest.fail("event never marked completed")
    finally:
        dispatcher.stop()
    assert ticks, "housekeeping hooks never ran"
    assert dispatcher._thread is not None and not dispatcher._thread.is_alive()


def test_in_process_dispatcher_runs_with_the_app(database_url, db, subscribed):
    """``PLAZA_DISPATCHER=inprocess`` (the default) starts and stops with the app."""
    seen: list[str] = []

    def on_registered(s, event: Event) -> None:  # type: ignore[no-untyped-def]
        seen.append(event.aggregate_id)

    subscribed("user.registered", on_registered)
    settings = Settings(
        database_url=database_url, dispatcher="inprocess", dispatcher_interval_seconds=0.05
    )
    app = create_app(settings, db)
    email = f"outbox-{uuid.uuid4().hex[:10]}@example.com"
    with TestClient(app) as client:
        assert app.state.dispatcher is not None
        r = client.post("/auth/register", json={"email": email, "password": "long enough pw"})
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]
        deadline = time.monotonic() + 15
        while user_id not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert user_id in seen, "the in-process dispatcher never delivered user.registered"
    thread = app.state.dispatcher._thread
    assert thread is not None and not thread.is_alive()
