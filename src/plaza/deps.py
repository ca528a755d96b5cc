"""Request-scoped dependencies shared by every router."""

from __future__ import annotations

from fastapi import Request

from plaza.db import Database


def get_db_handle(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_db(request: Request) -> Database:
    """The app's Database; handlers open ``db.transaction()`` (one unit of work) or
    ``db.reading()`` themselves, so the commit happens before the response is built."""
    return get_db_handle(request)
