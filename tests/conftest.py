"""Shared fixtures: a migrated database per test worker (SQLite, or PostgreSQL when
``PLAZA_TEST_DATABASE_URL`` is set), the app, a client and a factory for test data."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

# Settings are read once per process: fix them before Plaza is imported.
os.environ.setdefault("PLAZA_SECRET_KEY", secrets.token_urlsafe(48))
os.environ["PLAZA_DISPATCHER"] = "off"
os.environ.setdefault("PLAZA_RATE_LIMIT_ENABLED", "false")  # tests/security turns it on
os.environ.setdefault("PLAZA_ARGON2_TIME_COST", "1")
os.environ.setdefault("PLAZA_ARGON2_MEMORY_COST_KIB", "1024")
os.environ.setdefault("PLAZA_ARGON2_PARALLELISM", "1")

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from plaza.app import create_app
from plaza.config import Settings, get_settings
from plaza.db import Database
from plaza.migrate import upgrade

from .factories import Factory


def _postgres_worker_url(base: str, worker: str) -> str:
    """A fresh database per xdist worker on the same server."""
    url = make_url(base)
    name = f"{url.database}_{worker}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    base = os.environ.get("PLAZA_TEST_DATABASE_URL")
    if base:
        url = _postgres_worker_url(base, worker_id)
    else:
        path: Path = tmp_path_factory.mktemp("db") / "plaza.db"
        url = f"sqlite:///{path}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    get_settings.cache_clear()
    return Settings(database_url=database_url, dispatcher="off")


@pytest.fixture(scope="session")
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    return create_app(settings, db)


@pytest.fixture
def client(app) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def factory(db: Database, client: TestClient) -> Factory:
    return Factory(db, client)


@pytest.fixture
def is_postgres(db: Database) -> bool:
    return not db.is_sqlite
