"""Tenancy: reading one merchant-owned row by id, scoped to its merchant.

Another merchant's row answers exactly like a missing one (404), so ids never leak which
merchant owns what."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from plaza.errors import not_found

T = TypeVar("T")


def get_owned(
    s: Session, model: type[T], merchant_id: uuid.UUID, row_id: uuid.UUID, resource: str
) -> T:
    """The row of ``model`` with ``row_id`` if ``merchant_id`` owns it, else 404
    ``not-found`` naming ``resource``. ``model`` has ``id`` and ``merchant_id`` columns."""
    table: Any = model
    row = s.scalar(select(table).where(table.id == row_id, table.merchant_id == merchant_id))
    if row is None:
        raise not_found(resource, row_id)
    return row
