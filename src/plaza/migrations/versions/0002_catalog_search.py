"""catalog full-text search (hand-written, dialect-specific)

SQLite: an FTS5 table ``product_search`` (title, brand, tags, skus, description; unicode61
with diacritics folded, prefix indexes for 2 and 3 characters) and ``product_search_keys``
mapping its integer rowids to product UUIDs. The catalog service keeps both in sync on
every product and variant write.

PostgreSQL: a stored generated ``products.search_vector`` (weights A title, B brand and
tags/SKUs/GTINs from ``search_terms``, C description; the ``simple`` configuration, no
stemming, like FTS5 here) with a GIN index.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE product_search USING fts5("
            "title, brand, tags, skus, description, "
            "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
        )
        op.execute(
            "CREATE TABLE product_search_keys ("
            "rowid INTEGER PRIMARY KEY, product_id CHAR(32) NOT NULL UNIQUE)"
        )
    elif dialect == "postgresql":
        op.execute(
            "ALTER TABLE products ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple', coalesce(title, '')), 'A') || "
            "setweight(to_tsvector('simple', coalesce(brand, '')), 'B') || "
            "setweight(to_tsvector('simple', coalesce(search_terms, '')), 'B') || "
            "setweight(to_tsvector('simple', coalesce(description, '')), 'C')) STORED"
        )
        op.execute("CREATE INDEX ix_products_search_vector ON products USING gin (search_vector)")
    else:  # pragma: no cover - Plaza supports SQLite and PostgreSQL only
        raise NotImplementedError(f"no catalog search for {dialect}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TABLE IF EXISTS product_search_keys")
        op.execute("DROP TABLE IF EXISTS product_search")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_products_search_vector")
        op.execute("ALTER TABLE products DROP COLUMN IF EXISTS search_vector")
