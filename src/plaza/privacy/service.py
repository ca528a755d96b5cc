"""Privacy logic: consent per purpose, the data export, and erasure across every context.

Consent is opt-in: a purpose is granted only by an explicit grant that was not withdrawn
since. Every context that uses personal data for a purpose calls ``has_consent`` (or
``require_consent``) at the moment of use; it reads the newest history row, nothing is
cached, so a withdrawal takes effect for the very next call.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.orm import Session

from plaza.db import in_chunks, utcnow
from plaza.errors import ProblemError, not_found, problem_type
from plaza.events import emit, event_type
from plaza.identity.models import User
from plaza.privacy import registry
from plaza.privacy.models import ConsentRecord, ConsentState, Purpose
from plaza.privacy.registry import Subject

PURPOSES: dict[Purpose, str] = {
    Purpose.PERSONALISATION: "Tailor recommendations, search order and offers to the customer.",
    Purpose.ANALYTICS: "Include the customer's activity in merchants' behavioural analytics.",
    Purpose.PARTNER_SHARING: "Share the customer's data with partners, such as a brand whose "
    "products the customer bought through a marketplace.",
    Purpose.MARKETING: "Send the customer marketing messages (email, push, SMS).",
}
CONSENT_SOURCES = ("api", "web", "app", "in_store")

CONSENT_REQUIRED = problem_type(
    "consent-required",
    "The customer has not consented to this use",
    403,
    "The operation uses personal data for a purpose (`purpose`) the customer has not "
    "granted, or has withdrawn. Consent is opt-in and is changed with `PUT /me/consents`.",
)
REAUTHENTICATION_REQUIRED = problem_type(
    "reauthentication-required",
    "Confirm it is you",
    403,
    "Erasing an account needs the account's current password, or, for an account without "
    "one (single sign-on), a bearer token issued in the last few minutes: sign in again.",
)

CONSENT_CHANGED = event_type(
    "consent.changed",
    "A customer granted or withdrew consent for a purpose (payload: purpose, state, source).",
)
USER_ERASED = event_type(
    "user.erased",
    "An account was erased at its owner's request: delete any copy of its personal data "
    "(the aggregate id is the account's id, now an empty pseudonym).",
)

EXPORT_FORMAT = "plaza-data-export"
EXPORT_FORMAT_VERSION = 1


# ---------------------------------------------------------------- consent


def current_consents(s: Session, user_id: uuid.UUID) -> dict[Purpose, ConsentRecord | None]:
    """Each purpose's newest record (``None``: never set, which means not granted)."""
    out: dict[Purpose, ConsentRecord | None] = {}
    for purpose in Purpose:
        out[purpose] = _latest(s, user_id, purpose)
    return out


def _latest(s: Session, user_id: uuid.UUID, purpose: Purpose) -> ConsentRecord | None:
    return s.scalar(
        select(ConsentRecord)
        .where(ConsentRecord.user_id == user_id, ConsentRecord.purpose == purpose)
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )


def has_consent(s: Session, user_id: uuid.UUID | None, purpose: Purpose | str) -> bool:
    """Whether ``user_id`` currently grants ``purpose``: one indexed lookup, never cached.
    Anonymous callers (``None``) never have consent."""
    if user_id is None:
        return False
    latest = s.scalar(
        select(ConsentRecord.state)
        .where(ConsentRecord.user_id == user_id, ConsentRecord.purpose == Purpose(purpose))
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )
    return latest == ConsentState.GRANTED


def consenting_users(
    s: Session, purpose: Purpose | str, user_ids: Collection[uuid.UUID] | None = None
) -> set[uuid.UUID]:
    """The bulk twin of ``has_consent``: of ``user_ids`` (everyone when ``None``), those whose
    newest record for ``purpose`` is a grant. One pass over the history, in id chunks."""
    q = (
        select(ConsentRecord.user_id, ConsentRecord.state)
        .where(ConsentRecord.purpose == Purpose(purpose))
        .order_by(ConsentRecord.id)
    )
    latest: dict[uuid.UUID, ConsentState] = {}
    for uid, state in in_chunks(s, q, ConsentRecord.user_id, user_ids):
        latest[uid] = state  # ids are time-ordered: the last one wins
    return {u for u, state in latest.items() if state == ConsentState.GRANTED}


def require_consent(s: Session, user_id: uuid.UUID | None, purpose: Purpose | str) -> None:
    """Raise ``403 consent-required`` unless ``user_id`` currently grants ``purpose``."""
    if not has_consent(s, user_id, purpose):
        purpose = Purpose(purpose)
        raise ProblemError(
            CONSENT_REQUIRED, f"no consent for {purpose.value}", purpose=purpose.value
        )


def set_consent(
    s: Session,
    user_id: uuid.UUID,
    purpose: Purpose | str,
    state: ConsentState,
    *,
    source: str = "api",
    actor: str | None = None,
) -> ConsentRecord:
    """Record a change and emit ``consent.changed``. Setting the state a purpose already
    has records nothing (so a repeated PUT does not pad the history)."""
    purpose = Purpose(purpose)
    if source not in CONSENT_SOURCES:
        raise ValueError(f"unknown consent source {source!r}")
    # Serialise one customer's changes (PostgreSQL; SQLite writers queue anyway): two
    # concurrent identical changes would otherwise both see the old state and both record.
    s.execute(select(User.id).where(User.id == user_id).with_for_update())
    latest = _latest(s, user_id, purpose)
    if latest is not None and latest.state == state:
        return latest
    # A first explicit "no" is recorded too, although it changes nothing: it is what the
    # customer said, and when.
    record = ConsentRecord(
        user_id=user_id,
        purpose=purpose,
        state=state,
        source=source,
        actor=actor or f"user:{user_id}",
        at=utcnow(),
    )
    s.add(record)
    s.flush()
    emit(
        s,
        CONSENT_CHANGED,
        aggregate_type="user",
        aggregate_id=user_id,
        payload={"purpose": purpose.value, "state": state.value, "source": source},
    )
    return record


def grant(
    s: Session,
    user_id: uuid.UUID,
    purpose: Purpose | str,
    *,
    source: str = "api",
    actor: str | None = None,
) -> ConsentRecord:
    return set_consent(s, user_id, purpose, ConsentState.GRANTED, source=source, actor=actor)


def withdraw(
    s: Session,
    user_id: uuid.UUID,
    purpose: Purpose | str,
    *,
    source: str = "api",
    actor: str | None = None,
) -> ConsentRecord:
    return set_consent(s, user_id, purpose, ConsentState.WITHDRAWN, source=source, actor=actor)


def history(
    s: Session, user_id: uuid.UUID, purpose: Purpose | str | None = None
) -> list[ConsentRecord]:
    """Every recorded change, newest first."""
    q = select(ConsentRecord).where(ConsentRecord.user_id == user_id)
    if purpose is not None:
        q = q.where(ConsentRecord.purpose == Purpose(purpose))
    return list(s.scalars(q.order_by(ConsentRecord.id.desc())))


def _consent_view(record: ConsentRecord) -> dict[str, Any]:
    return {
        "purpose": record.purpose.value,
        "state": record.state.value,
        "source": record.source,
        "actor": record.actor,
        "at": record.at,
    }


def export_consents(s: Session, subject: Subject) -> dict[str, Any]:
    current = current_consents(s, subject.user_id)
    return {
        "current": {
            p.value: {
                "granted": r is not None and r.state == ConsentState.GRANTED,
                "since": r.at if r else None,
            }
            for p, r in current.items()
        },
        "history": [_consent_view(r) for r in history(s, subject.user_id)],
    }


def erase_consents(s: Session, subject: Subject) -> dict[str, int]:
    """Consent history is deleted, not kept: once the account is erased there is no
    personal data left whose processing it would justify."""
    rows = history(s, subject.user_id)
    for row in rows:
        s.delete(row)
    s.flush()
    return {"consent_records_deleted": len(rows)}


# ---------------------------------------------------------------- data rights


def subject_of(s: Session, user_id: uuid.UUID) -> Subject:
    user = s.get(User, user_id)
    if user is None or not user.is_active:
        raise not_found("account", user_id)
    return Subject(user_id=user.id, email=user.email, name=user.name)


def export_data(s: Session, user_id: uuid.UUID) -> dict[str, Any]:
    """Everything Plaza holds about the account, one JSON-ready document, a section per
    context (each context's registered export handler writes its own section)."""
    subject = subject_of(s, user_id)
    contexts = {h.context: h.export(s, subject) for h in registry.handlers()}
    document = {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "generated_at": utcnow(),
        "subject": {"user_id": user_id},
        "contexts": dict(sorted(contexts.items())),
    }
    result: dict[str, Any] = to_jsonable_python(document)
    return result


def erase_account(s: Session, user_id: uuid.UUID) -> dict[str, Any]:
    """Erase the account's personal data in every context, in the caller's transaction
    (all or nothing): each registered handler deletes or irreversibly pseudonymises what
    its context holds. Ends with ``user.erased`` so subscribers and partners purge copies.
    Returns a receipt: per context, what was done."""
    subject = subject_of(s, user_id)
    receipt: dict[str, dict[str, int]] = {}
    for handler in registry.handlers():
        receipt[handler.context] = handler.erase(s, subject)
        s.flush()
    erased_at = utcnow()
    emit(
        s,
        USER_ERASED,
        aggregate_type="user",
        aggregate_id=user_id,
        payload={"erased_at": erased_at.isoformat()},
    )
    return {"user_id": user_id, "erased_at": erased_at, "contexts": receipt}


def token_is_fresh(issued_at: int | None, now: dt.datetime, max_age: dt.timedelta) -> bool:
    if issued_at is None:
        return False
    age = now - dt.datetime.fromtimestamp(issued_at, dt.UTC)
    return dt.timedelta(seconds=-60) <= age <= max_age


registry.register(
    "privacy",
    export=export_consents,
    erase=erase_consents,
    tables=["consent_records"],
)
