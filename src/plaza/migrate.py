"""Run Alembic migrations programmatically (``plaza migrate``, tests, ``make run``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def regenerate_initial() -> Path:
    """Rewrite ``0001_initial`` from the models (allowed before the first release only).

    Autogenerates against an empty SQLite database in a scratch copy of the migrations
    folder, so hand-written later revisions (dialect-specific search indexes) are kept.
    """
    import shutil
    import tempfile

    target = MIGRATIONS / "versions" / "0001_initial.py"
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "migrations"
        shutil.copytree(
            MIGRATIONS, scratch, ignore=shutil.ignore_patterns("versions", "__pycache__")
        )
        (scratch / "versions").mkdir()
        cfg = Config()
        cfg.set_main_option("script_location", str(scratch))
        cfg.set_main_option("sqlalchemy.url", f"sqlite:///{tmp}/empty.db")
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
        generated = next((scratch / "versions").glob("0001_*.py"))
        target.write_text(generated.read_text())
    return target
