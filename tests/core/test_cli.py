"""The ``plaza`` command line, run in-process with Typer's CliRunner."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from plaza import cli
from plaza.config import get_settings
from plaza.db import get_database
from plaza.events import EVENT_TYPES, Event, emit, event_type, subscribe, unsubscribe

runner = CliRunner()


@pytest.fixture
def use_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Point the CLI's settings (read from the environment) at a given database."""

    def point(url: str) -> None:
        monkeypatch.setenv("PLAZA_DATABASE_URL", url)
        get_settings.cache_clear()
        get_database.cache_clear()

    yield point
    if get_database.cache_info().currsize:
        get_database().dispose()
    get_database.cache_clear()
    get_settings.cache_clear()


def test_help_lists_the_commands():
    r = runner.invoke(cli.app, ["--help"])
    assert r.exit_code == 0
    for command in ("migrate", "serve", "demo", "worker", "openapi", "create-admin"):
        assert command in r.output


def test_migrate_creates_a_fresh_sqlite_database(tmp_path: Path, use_database):
    path = tmp_path / "nested" / "fresh.db"
    url = f"sqlite:///{path}"
    use_database(url)
    r = runner.invoke(cli.app, ["migrate"])
    assert r.exit_code == 0, r.output
    assert "database at head" in r.output
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"alembic_version", "users", "merchants", "outbox_events"} <= tables
    assert {"idempotency_records", "api_keys"} <= tables
    # Running it again is a no-op.
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0


def test_openapi_writes_the_schema(tmp_path: Path, use_database):
    use_database(f"sqlite:///{tmp_path / 'unused.db'}")
    out = tmp_path / "openapi.json"
    r = runner.invoke(cli.app, ["openapi", "--out", str(out)])
    assert r.exit_code == 0, r.output
    schema = json.loads(out.read_text())
    assert schema["info"]["title"] == "Plaza API"
    assert "x-plaza-access" in schema["paths"]["/healthz"]["get"]


def test_worker_once_drains_the_outbox(database_url, db, use_database):
    name = "test.cli_worker_probe"
    event_type(name, "Test-only event for the worker command.")
    marker = uuid.uuid4().hex
    got: list[str] = []

    def handler(s, event: Event) -> None:  # type: ignore[no-untyped-def]
        if event.aggregate_id == marker:
            got.append(event.aggregate_id)

    subscriber = f"test.cli.{marker}"
    subscribe(name, name=subscriber)(handler)
    try:
        with db.transaction() as s:
            emit(s, name, aggregate_type="probe", aggregate_id=marker)
        use_database(database_url)
        r = runner.invoke(cli.app, ["worker", "--once"])
        assert r.exit_code == 0, r.output
        assert "delivered" in r.output
        assert got == [marker]
        # A second run finds nothing new for this subscriber.
        assert runner.invoke(cli.app, ["worker", "--once"]).exit_code == 0
        assert got == [marker]
    finally:
        unsubscribe(name, subscriber)
        EVENT_TYPES.pop(name, None)
