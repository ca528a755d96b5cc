"""Database engine, sessions and shared column types for SQLite and PostgreSQL.

SQLite is the embedded default. Two details make it safe under concurrent writers:
WAL mode with a busy timeout, and ``BEGIN IMMEDIATE`` for write transactions, so a
writer takes the write lock up front instead of failing on a lock upgrade mid-way.
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, Enum, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from plaza.config import get_settings
from plaza.ids import uuid7

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Plaza stores timezone-aware UTC only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def str_enum(enum_cls: type[enum.Enum], length: int = 30) -> Enum:
    """Store an enum by its value as a plain string column (no native enum types)."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSONType}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when a transaction begins.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed order survives a power cut too (WAL with NORMAL may lose the last
        # commits); it costs about 0.3 ms per commit here.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def build_engine(url: str | None = None, echo: bool | None = None) -> Engine:
    settings = get_settings()
    url = url or settings.database_url
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": settings.sql_echo if echo is None else echo}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        kwargs["pool_size"] = 20
        kwargs["max_overflow"] = 40
        engine = create_engine(url, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    kwargs.update(pool_size=20, max_overflow=20, pool_pre_ping=True)
    return create_engine(url, **kwargs)


WRITE_LOCK_TIMEOUT = 30.0


class WriteLockTimeoutError(RuntimeError):
    """A write transaction waited too long for the embedded database's writer slot."""


class Database:
    """Owns one engine and the two session factories: read (deferred) and write (immediate).

    On SQLite, write transactions of one process also queue on a process-wide lock before
    ``BEGIN IMMEDIATE``. SQLite allows one writer at a time anyway; its own busy handler
    waits by sleeping in growing steps (up to 100 ms), which under concurrency turns a
    queue of 2 ms transactions into second-long tails. A lock hands over at once.
    """

    def __init__(self, url: str | None = None) -> None:
        self.engine = build_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        writer = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )
        self._read = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._write = sessionmaker(bind=writer, expire_on_commit=False)
        self._writer_slot = threading.Lock() if self.is_sqlite else None

    def read_session(self) -> Session:
        return self._read()

    def write_session(self) -> Session:
        return self._write()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write unit of work: commits on success, rolls back on any exception.

        Never open one inside another in the same thread: on SQLite the inner one would
        wait for the outer one's writer slot (and fail after ``WRITE_LOCK_TIMEOUT``)."""
        slot = self._writer_slot
        if slot is not None and not slot.acquire(timeout=WRITE_LOCK_TIMEOUT):
            raise WriteLockTimeoutError(f"no write slot within {WRITE_LOCK_TIMEOUT:.0f} s")
        session = self.write_session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            if slot is not None:
                slot.release()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        session = self.read_session()
        try:
            yield session
        finally:
            # close() ends the transaction without expiring loaded objects, so results
            # stay readable after the block (rollback() would expire them).
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


@lru_cache(maxsize=1)
def get_database() -> Database:
    return Database()


IN_CHUNK = 500  # ids per IN (...) list: well under SQLite's and psycopg's parameter limits


def in_chunks(s: Session, q: Any, column: Any, ids: Collection[uuid.UUID] | None) -> Iterator[Any]:
    """Rows of ``q`` over everything (``ids`` None) or restricted to ``ids``, in chunks."""
    if ids is None:
        yield from s.execute(q)
        return
    items = list(ids)
    for i in range(0, len(items), IN_CHUNK):
        yield from s.execute(q.where(column.in_(items[i : i + IN_CHUNK])))
