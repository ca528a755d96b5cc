"""Settings, read from the environment with the ``PLAZA_`` prefix (12-factor)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLAZA_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{VAR_DIR}/plaza.db",
        description="SQLAlchemy URL; SQLite (embedded default) or postgresql+psycopg://…",
    )
    # Never a default in the repo: when unset, a random key is generated once into ./var.
    secret_key: SecretStr | None = None
    token_ttl_seconds: int = 3600
    reservation_ttl_seconds: int = 900
    max_request_bytes: int = 1_048_576
    # Threads serving blocking endpoints. Small on purpose: writers to an embedded database
    # queue for one slot, and many runnable threads only slow the one holding it (GIL).
    threadpool_size: int = Field(default=8, ge=1, le=256)
    dispatcher: Literal["inprocess", "off"] = "inprocess"
    dispatcher_interval_seconds: float = 0.5
    payment_provider: Literal["sandbox"] = "sandbox"
    # Sandbox fault injection (used by reliability tests): fractions in [0, 1].
    sandbox_failure_rate: float = 0.0
    sandbox_timeout_rate: float = 0.0
    sandbox_seed: int | None = None
    catalog_cache_size: int = 2048
    # argon2id cost; the defaults follow RFC 9106's second recommended option.
    argon2_time_cost: int = 3
    argon2_memory_cost_kib: int = 65536
    argon2_parallelism: int = 4
    sql_echo: bool = False

    def resolved_secret_key(self) -> str:
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return _local_secret()


def _local_secret() -> str:
    """A per-installation signing key kept outside the repository (``var/`` is git-ignored)."""
    path = VAR_DIR / "secret.key"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
