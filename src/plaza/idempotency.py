"""Idempotency keys for retried writes (the Stripe model).

A write that carries ``Idempotency-Key`` records its outcome in the same transaction as
the change it makes, so a retry replays the first response instead of acting twice.
Multi-step writes (checkout: create orders, then charge) record a *recovery point*
between steps and keep a short lease; a retry after a crash resumes from the recovery
point, while a retry during the lease gets ``409 idempotency-in-progress``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Integer, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from plaza.db import Base, Database, IdMixin, utcnow
from plaza.errors import (
    IDEMPOTENCY_IN_PROGRESS,
    IDEMPOTENCY_KEY_INVALID,
    IDEMPOTENCY_KEY_REUSED,
    ProblemError,
)

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
LEASE = dt.timedelta(seconds=30)
RETENTION = dt.timedelta(hours=24)


class IdempotencyRecord(IdMixin, Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    scope: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    recovery: Mapped[dict[str, Any]] = mapped_column(default=dict)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(default=None)


def idempotency_key(
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        # No max_length here: an over-long key is a 400 idempotency-key-invalid like any
        # other malformed key, not a generic 422.
        description=(
            "Make this write safe to retry: the same key replays the first result. "
            "1 to 255 visible ASCII characters."
        ),
    ),
) -> str | None:
    if idempotency_key is not None and not KEY_PATTERN.match(idempotency_key):
        raise ProblemError(IDEMPOTENCY_KEY_INVALID)
    return idempotency_key


def fingerprint(method: str, path: str, body: BaseModel | dict[str, Any] | None) -> str:
    if isinstance(body, BaseModel):
        payload = body.model_dump_json()
    else:
        payload = json.dumps(body, sort_keys=True, default=str)
    return hashlib.sha256(f"{method} {path}\n{payload}".encode()).hexdigest()


@dataclass
class Claim:
    """The outcome of claiming a key: a replay, or a record to work under."""

    record: IdempotencyRecord | None
    replay: tuple[int, dict[str, Any]] | None = None

    @property
    def recovery(self) -> dict[str, Any]:
        return dict(self.record.recovery) if self.record is not None else {}


def claim(s: Session, scope: str, key: str | None, fp: str) -> Claim:
    """Claim ``key`` in the caller's transaction.

    With no key there is nothing to record. On a duplicate, the caller gets the stored
    response to replay; a mismatched fingerprint is refused. A concurrent first request
    either blocks us on the unique index (PostgreSQL) or has already committed (SQLite's
    writer lock), so we see its record.
    """
    if key is None:
        return Claim(record=None)
    now = utcnow()
    existing = s.scalar(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .with_for_update()
    )
    if existing is None:
        record = IdempotencyRecord(scope=scope, key=key, fingerprint=fp, locked_until=now + LEASE)
        try:
            with s.begin_nested():
                s.add(record)
                s.flush()
        except IntegrityError:
            existing = s.scalar(
                select(IdempotencyRecord)
                .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
                .with_for_update()
            )
            if existing is None:  # pragma: no cover - the winner rolled back; retry once
                raise ProblemError(IDEMPOTENCY_IN_PROGRESS, headers={"Retry-After": "1"}) from None
        else:
            return Claim(record=record)
    if existing.fingerprint != fp:
        raise ProblemError(IDEMPOTENCY_KEY_REUSED)
    if existing.completed_at is not None and existing.response is not None:
        return Claim(record=existing, replay=(existing.status_code or 200, existing.response))
    if existing.locked_until is not None and existing.locked_until > now:
        raise ProblemError(IDEMPOTENCY_IN_PROGRESS, headers={"Retry-After": "1"})
    existing.locked_until = now + LEASE  # take over an abandoned attempt and resume it
    return Claim(record=existing)


def save_recovery(claim_: Claim, **state: Any) -> None:
    if claim_.record is not None:
        claim_.record.recovery = {**claim_.record.recovery, **state}


def complete(claim_: Claim, status_code: int, response: dict[str, Any]) -> None:
    if claim_.record is not None:
        claim_.record.status_code = status_code
        claim_.record.response = response
        claim_.record.completed_at = utcnow()
        claim_.record.locked_until = None


def purge_expired(s: Session, now: dt.datetime | None = None) -> int:
    """Delete records older than ``RETENTION`` in one statement; returns how many."""
    cutoff = (now or utcnow()) - RETENTION
    result = s.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


PURGE_EVERY = dt.timedelta(minutes=10)
_last_purge: dt.datetime | None = None


def purge_job(db: Database) -> None:
    """Housekeeping hook: the dispatcher ticks every half second, so purge at most once
    per ``PURGE_EVERY`` (per process; a purge that runs twice is harmless)."""
    global _last_purge
    now = utcnow()
    if _last_purge is not None and now - _last_purge < PURGE_EVERY:
        return
    _last_purge = now
    with db.transaction() as s:
        purge_expired(s, now)


def scope_for(actor: str, resource: uuid.UUID | str | None = None) -> str:
    return actor if resource is None else f"{actor}/{resource}"


REPLAY_HEADER = "Idempotent-Replayed"


def replay_response(status_code: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers={REPLAY_HEADER: "true"})


def idempotent_write(
    db: Database,
    *,
    scope: str,
    key: str | None,
    fp: str,
    action: Callable[[Session], BaseModel],
    status_code: int = 201,
) -> JSONResponse:
    """Run a single-step write once per key: the action and its recorded response commit
    together, so a retry either replays it or (if it never committed) runs it afresh."""
    with db.transaction() as s:
        c = claim(s, scope, key, fp)
        if c.replay is not None:
            return replay_response(*c.replay)
        body = action(s).model_dump(mode="json")
        complete(c, status_code, body)
    return JSONResponse(body, status_code=status_code)
