"""Alembic environment: runs against ``PLAZA_DATABASE_URL`` or the URL passed in config."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import engine_from_config, pool

import plaza.models  # noqa: F401 - registers all tables
from plaza.config import get_settings
from plaza.db import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Migrations stay free of Plaza imports: UTCDateTime is a DateTime(timezone=True).
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run() -> None:
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    connectable = config.attributes.get("connection")
    opts: dict[str, Any] = dict(
        target_metadata=target_metadata,
        render_item=render_item,
        render_as_batch=url.startswith("sqlite"),
        compare_type=True,
    )
    if connectable is not None:
        context.configure(connection=connectable, **opts)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        {"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        context.configure(connection=connection, **opts)
        with context.begin_transaction():
            context.run_migrations()


run()
