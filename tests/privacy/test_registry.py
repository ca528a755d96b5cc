"""Every table that may hold personal data is declared by some context's privacy handler.

Generated from ``Base.metadata``: a context that adds a table with a foreign key to
``users`` or a column named like personal data (email, name, phone, address, customer_id,
actor, created_by, ip …) fails here until it registers export and erasure handlers for
it, or declares it not personal with a reason."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table

import plaza.models  # noqa: F401 - every table in Base.metadata
from plaza.db import Base
from plaza.privacy import registry


def test_every_personal_table_has_handlers():
    assert registry.unhandled_tables(Base.metadata, registry.handlers()) == []


def test_every_context_is_registered():
    contexts = {h.context for h in registry.handlers()}
    assert contexts >= {"identity", "catalog", "inventory", "ordering", "privacy", "audit"}
    assert "platform" in contexts  # the outbox and idempotency records
    # The platform scrub runs last, after every context told it what to look for.
    assert registry.handlers()[-1].context == "platform"


def _toy(metadata: MetaData) -> None:
    Table("users", metadata, Column("id", Integer, primary_key=True), Column("email", String))
    Table(
        "wishlists",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("owner", Integer, ForeignKey("users.id")),
    )
    Table("newsletters", metadata, Column("id", Integer, primary_key=True), Column("email", String))
    Table(
        "sessions", metadata, Column("id", Integer, primary_key=True), Column("client_ip", String)
    )
    Table("colours", metadata, Column("id", Integer, primary_key=True), Column("hex", String))


def test_a_new_personal_table_without_handlers_fails():
    metadata = MetaData()
    _toy(metadata)
    handled = registry.Handler(
        context="toy",
        export=lambda s, subject: {},
        erase=lambda s, subject: {},
        tables=("users",),
        not_personal={},
        keeps_reference=(),
        order=50,
    )
    problems = registry.unhandled_tables(metadata, [handled])
    flagged = sorted(p.split(":")[0] for p in problems)
    # A foreign key to users, an email column, an IP column: all caught; colours are not.
    assert flagged == ["newsletters", "sessions", "wishlists"]
    fixed = registry.Handler(
        **{
            **handled.__dict__,
            "tables": ("users", "wishlists", "newsletters"),
            "not_personal": {"sessions": "anonymised at the edge"},
        }
    )
    assert registry.unhandled_tables(metadata, [fixed]) == []


def test_a_declaration_of_a_missing_table_fails():
    metadata = MetaData()
    _toy(metadata)
    typo = registry.Handler(
        context="toy",
        export=lambda s, subject: {},
        erase=lambda s, subject: {},
        tables=("users", "wishlists", "newsletters", "sesions"),
        not_personal={},
        keeps_reference=(),
        order=50,
    )
    problems = registry.unhandled_tables(metadata, [typo])
    assert any("unknown table 'sesions'" in p for p in problems)
    assert any(p.startswith("sessions:") for p in problems)
