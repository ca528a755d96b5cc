"""Web sessions: what the ``plaza_session`` cookie of a signed-in browser stands for.

The API authenticates with bearer tokens and API keys; the server-rendered pages with this
cookie (HttpOnly, SameSite=Lax, Secure behind HTTPS). Only the SHA-256 of the cookie is
stored. Sessions last ``PLAZA_WEB_SESSION_TTL_SECONDS``; signing out deletes the row, and
an erased or disabled account's sessions stop working at once (``user_for_session``
checks the account on every request).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plaza.db import Database, utcnow
from plaza.identity.models import User, WebSession


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(s: Session, user_id: uuid.UUID, *, ttl_seconds: int, user_agent: str = "") -> str:
    """Start a session for ``user_id``; returns the cookie value (shown only here)."""
    token = secrets.token_urlsafe(32)
    s.add(
        WebSession(
            user_id=user_id,
            digest=_digest(token),
            expires_at=utcnow() + dt.timedelta(seconds=ttl_seconds),
            user_agent=user_agent[:200],
        )
    )
    s.flush()
    return token


def user_for_session(s: Session, token: str) -> User | None:
    """The active account a live session cookie belongs to, else ``None``."""
    if not token or len(token) > 128:
        return None
    row = s.scalar(select(WebSession).where(WebSession.digest == _digest(token)))
    if row is None or row.expires_at <= utcnow():
        return None
    user = s.get(User, row.user_id)
    return user if user is not None and user.is_active else None


def close_session(s: Session, token: str) -> None:
    s.execute(delete(WebSession).where(WebSession.digest == _digest(token)))


def close_all(s: Session, user_id: uuid.UUID) -> int:
    """End every session of an account (erasure, password change)."""
    result = s.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_job(db: Database) -> int:
    """Housekeeping: drop expired sessions."""
    with db.transaction() as s:
        result = s.execute(delete(WebSession).where(WebSession.expires_at <= utcnow()))
        return int(getattr(result, "rowcount", 0) or 0)
