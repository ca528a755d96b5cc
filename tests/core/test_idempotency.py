"""Idempotency keys (the Stripe model): one effect per key, replays, misuse, concurrency."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from plaza import idempotency
from plaza.db import Database, utcnow
from plaza.deps import get_db
from plaza.errors import ProblemError
from plaza.events import EVENT_TYPES, OutboxEvent, emit, event_type
from plaza.http import install_error_handlers
from plaza.idempotency import (
    REPLAY_HEADER,
    IdempotencyRecord,
    claim,
    fingerprint,
    idempotency_key,
    idempotent_write,
    purge_expired,
)
from plaza.identity.auth import Customer, Principal

from .helpers import problem

EFFECT = "test.idempotent_effect"


class ThingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    marker: str = Field(max_length=64)
    name: str = Field(max_length=50)


class ThingOut(BaseModel):
    id: uuid.UUID
    marker: str
    name: str


def _make_thing(s: Session, body: ThingIn) -> ThingOut:
    """The effect under test: one outbox row per executed write."""
    row = emit(
        s, EFFECT, aggregate_type="test-thing", aggregate_id=body.marker, payload={"n": body.name}
    )
    s.flush()
    return ThingOut(id=row.id, marker=body.marker, name=body.name)


def effects(db: Database, marker: str) -> int:
    with db.reading() as s:
        return s.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.aggregate_type == "test-thing", OutboxEvent.aggregate_id == marker)
        )


@pytest.fixture(scope="module", autouse=True)
def _effect_type() -> Iterator[None]:
    event_type(EFFECT, "Test-only effect of an idempotent write.")
    yield
    EVENT_TYPES.pop(EFFECT, None)


@pytest.fixture(scope="module")
def things(db: Database) -> TestClient:
    app = FastAPI()
    app.state.db = db
    install_error_handlers(app)
    router = APIRouter()

    @router.post("/things", status_code=201, response_model=ThingOut)
    def create_thing(
        body: ThingIn,
        request: Request,
        db: Database = Depends(get_db),
        p: Principal = Depends(Customer()),
        key: str | None = Depends(idempotency_key),
    ) -> object:
        return idempotent_write(
            db,
            scope=p.actor,
            key=key,
            fp=fingerprint("POST", request.url.path, body),
            action=lambda s: _make_thing(s, body),
        )

    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False)


def _post(things, actor, body, key=None):  # type: ignore[no-untyped-def]
    headers = dict(actor.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return things.post("/things", json=body, headers=headers)


def test_same_key_twice_has_one_effect_and_replays(things, factory, db):
    user = factory.user()
    marker = uuid.uuid4().hex
    body = {"marker": marker, "name": "lamp"}
    key = f"order-{uuid.uuid4()}"
    first = _post(things, user, body, key)
    assert first.status_code == 201, first.text
    assert REPLAY_HEADER.lower() not in {h.lower() for h in first.headers}
    second = _post(things, user, body, key)
    assert second.status_code == 201
    assert second.headers[REPLAY_HEADER] == "true"
    assert second.json() == first.json()
    assert effects(db, marker) == 1
    # Without a key every call acts.
    _post(things, user, body)
    _post(things, user, body)
    assert effects(db, marker) == 3


def test_same_key_different_body_is_422(things, factory, db):
    user = factory.user()
    marker = uuid.uuid4().hex
    key = uuid.uuid4().hex
    assert _post(things, user, {"marker": marker, "name": "a"}, key).status_code == 201
    r = _post(things, user, {"marker": marker, "name": "b"}, key)
    problem(r, 422, "idempotency-key-reused")
    assert effects(db, marker) == 1


def test_keys_are_scoped_to_the_caller(things, factory, db):
    alice, bob = factory.user(), factory.user()
    marker = uuid.uuid4().hex
    body = {"marker": marker, "name": "shared key"}
    key = "same-key-for-both"
    assert _post(things, alice, body, key).status_code == 201
    r = _post(things, bob, body, key)
    assert r.status_code == 201 and REPLAY_HEADER not in r.headers
    assert effects(db, marker) == 2


@pytest.mark.parametrize("key", ["has space", "x" * 256, "tab\tkey", ""])
def test_bad_keys_are_400(things, factory, db, key):
    user = factory.user()
    marker = uuid.uuid4().hex
    r = _post(things, user, {"marker": marker, "name": "n"}, key)
    problem(r, 400, "idempotency-key-invalid")
    assert effects(db, marker) == 0


def test_longest_key_is_accepted(things, factory):
    r = _post(things, factory.user(), {"marker": "m", "name": "n"}, "k" * 255)
    assert r.status_code == 201


def test_failed_write_records_nothing_and_can_be_retried(db):
    scope, key, marker = f"test:{uuid.uuid4()}", uuid.uuid4().hex, uuid.uuid4().hex
    body = ThingIn(marker=marker, name="n")
    fp = fingerprint("POST", "/things", body)

    def failing(s: Session) -> BaseModel:
        _make_thing(s, body)
        raise RuntimeError("provider down")

    with pytest.raises(RuntimeError):
        idempotent_write(db, scope=scope, key=key, fp=fp, action=failing)
    assert effects(db, marker) == 0
    r = idempotent_write(db, scope=scope, key=key, fp=fp, action=lambda s: _make_thing(s, body))
    assert r.status_code == 201 and REPLAY_HEADER not in r.headers
    assert effects(db, marker) == 1


def test_in_progress_is_409_until_the_lease_lapses(db):
    scope, key, marker = f"test:{uuid.uuid4()}", uuid.uuid4().hex, uuid.uuid4().hex
    body = ThingIn(marker=marker, name="n")
    fp = fingerprint("POST", "/things", body)
    with db.transaction() as s:  # a first attempt that claimed the key and then died
        claim(s, scope, key, fp)

    with pytest.raises(ProblemError) as err:
        idempotent_write(db, scope=scope, key=key, fp=fp, action=lambda s: _make_thing(s, body))
    assert err.value.kind.slug == "idempotency-in-progress"
    assert err.value.status == 409 and err.value.headers["Retry-After"] == "1"
    assert effects(db, marker) == 0

    with db.transaction() as s:  # the lease runs out
        s.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
            .values(locked_until=utcnow() - dt.timedelta(seconds=1))
        )
    r = idempotent_write(db, scope=scope, key=key, fp=fp, action=lambda s: _make_thing(s, body))
    assert r.status_code == 201 and REPLAY_HEADER not in r.headers
    r = idempotent_write(db, scope=scope, key=key, fp=fp, action=lambda s: _make_thing(s, body))
    assert r.headers[REPLAY_HEADER] == "true"
    assert effects(db, marker) == 1


def _race(
    db: Database,
    barrier: threading.Barrier,
    scope: str,
    key: str,
    body: ThingIn,
    out: list[tuple[int, bool, bytes]],
) -> None:
    fp = fingerprint("POST", "/things", body)
    barrier.wait(timeout=10)
    try:
        r = idempotent_write(db, scope=scope, key=key, fp=fp, action=lambda s: _make_thing(s, body))
        out.append((r.status_code, REPLAY_HEADER in r.headers, bytes(r.body)))
    except ProblemError as exc:
        out.append((exc.status, False, exc.kind.slug.encode()))


def test_concurrent_same_key_has_exactly_one_effect(db):
    scope, key, marker = f"test:{uuid.uuid4()}", uuid.uuid4().hex, uuid.uuid4().hex
    body = ThingIn(marker=marker, name="race")
    barrier = threading.Barrier(10)
    out: list[tuple[int, bool, bytes]] = []
    threads = [
        threading.Thread(target=_race, args=(db, barrier, scope, key, body, out)) for _ in range(10)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(out) == 10
    assert effects(db, marker) == 1
    # Everyone either got the one result (first or replayed) or was told to retry.
    done = [o for o in out if o[0] == 201]
    assert all(o[0] in (201, 409) for o in out), out
    assert sum(1 for o in done if not o[1]) == 1
    # JSONB may reorder keys in the stored copy: compare documents, not bytes.
    assert len({json.dumps(json.loads(o[2]), sort_keys=True) for o in done}) == 1


def test_purge_drops_records_past_retention(db):
    scope, key = f"test:{uuid.uuid4()}", uuid.uuid4().hex
    with db.transaction() as s:
        c = claim(s, scope, key, "f" * 64)
        idempotency.complete(c, 201, {"ok": True})
    with db.transaction() as s:
        purge_expired(s)  # a fresh record survives a purge
        assert s.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == key))
        s.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == key)
            .values(created_at=utcnow() - idempotency.RETENTION - dt.timedelta(minutes=1))
        )
    with db.transaction() as s:
        assert purge_expired(s) >= 1
        assert s.scalar(select(IdempotencyRecord).where(IdempotencyRecord.key == key)) is None


def test_purge_runs_as_throttled_housekeeping(db, monkeypatch):
    from plaza.subscribers import HOUSEKEEPING

    assert idempotency.purge_job in HOUSEKEEPING
    scope, key = f"test:{uuid.uuid4()}", uuid.uuid4().hex
    old = utcnow() - idempotency.RETENTION - dt.timedelta(hours=1)
    with db.transaction() as s:
        s.add(IdempotencyRecord(scope=scope, key=key, fingerprint="f" * 64, created_at=old))

    def present() -> bool:
        with db.reading() as s:
            return (
                s.scalar(select(IdempotencyRecord.id).where(IdempotencyRecord.key == key))
                is not None
            )

    monkeypatch.setattr(idempotency, "_last_purge", utcnow())
    idempotency.purge_job(db)  # purged moments ago: skipped
    assert present()
    monkeypatch.setattr(idempotency, "_last_purge", utcnow() - idempotency.PURGE_EVERY)
    idempotency.purge_job(db)
    assert not present()
