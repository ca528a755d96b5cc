"""Cursor pagination: opaque, tamper-evident keyset cursors and the ``Page`` envelope.

A cursor encodes the sort key of the last row served plus the listing it belongs to, and
is signed with HMAC so a client cannot forge one into another listing's key space.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.orm import Session

from plaza.config import get_settings
from plaza.errors import INVALID_CURSOR, ProblemError

T = TypeVar("T")
MAX_PAGE_SIZE = 100


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; null on the last page."
    )


class PageParams:
    """FastAPI dependency: ``?limit=&cursor=`` with the documented maximum page size."""

    def __init__(
        self,
        limit: int = Query(
            20, ge=1, le=MAX_PAGE_SIZE, description=f"Page size, 1–{MAX_PAGE_SIZE}."
        ),
        cursor: str | None = Query(
            None, max_length=512, description="Opaque cursor from `next_cursor`."
        ),
    ) -> None:
        self.limit = limit
        self.cursor = cursor


def _sign(payload: bytes) -> str:
    key = get_settings().resolved_secret_key().encode()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()[:16]


def encode_cursor(listing: str, key: list[Any]) -> str:
    payload = json.dumps({"l": listing, "k": key}, separators=(",", ":"), default=str).encode()
    token = payload + b"." + _sign(payload).encode()
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_cursor(listing: str, cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload, _, sig = raw.rpartition(b".")
        if not hmac.compare_digest(sig.decode(), _sign(payload)):
            raise ValueError("bad signature")
        data = json.loads(payload)
        if data.get("l") != listing or not isinstance(data.get("k"), list):
            raise ValueError("cursor from another listing")
        return list(data["k"])
    except (ValueError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProblemError(INVALID_CURSOR) from exc


def cursor_id(listing: str, page: PageParams) -> uuid.UUID | None:
    """The id after which ``page`` continues ``listing`` (None on the first page)."""
    if not page.cursor:
        return None
    return uuid.UUID(str(decode_cursor(listing, page.cursor)[0]))


def next_id_cursor(listing: str, rows: Sequence[Any], limit: int) -> str | None:
    """The cursor after a page of ``rows`` fetched with ``limit + 1`` in id order."""
    return encode_cursor(listing, [str(rows[limit - 1].id)]) if len(rows) > limit else None


def id_page(listing: str, rows: Sequence[Any], limit: int, out: Callable[[Any], T]) -> Page[T]:
    """The page of ``rows`` fetched with ``limit + 1`` in id order; call inside the session
    (ORM rows expire after it)."""
    return Page(
        items=[out(r) for r in rows[:limit]], next_cursor=next_id_cursor(listing, rows, limit)
    )


def newest_first(
    s: Session,
    query: Select[Any],
    id_column: Any,
    page: PageParams,
    listing: str,
    to_item: Callable[[Any], T],
) -> Page[T]:
    """Keyset page of ``query`` by descending UUIDv7 id (newest first).

    ``listing`` names the listing and its filters, so a cursor only works where it came from.
    """
    after = cursor_id(listing, page)
    if after is not None:
        query = query.where(id_column < after)
    rows = list(s.scalars(query.order_by(id_column.desc()).limit(page.limit + 1)))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    cursor = encode_cursor(listing, [str(rows[-1].id)]) if more and rows else None
    return Page(items=[to_item(r) for r in rows], next_cursor=cursor)
