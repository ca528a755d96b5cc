"""Settings, read from the environment with the ``PLAZA_`` prefix (12-factor)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
# A production secret is long and not a repeated placeholder ("changeme" * 4 is 32 chars).
MIN_PRODUCTION_SECRET_CHARS = 32
MIN_PRODUCTION_SECRET_DISTINCT = 12


def parse_rate(spec: str) -> tuple[int, int]:
    """``"10/minute"`` (or ``second``, ``hour``, ``day``, ``"5/30s"``) -> (limit, window s)."""
    count, _, period = spec.strip().partition("/")
    try:
        limit = int(count)
        if period in _PERIODS:
            window = _PERIODS[period]
        elif period.endswith("s") and period[:-1].isdigit():
            window = int(period[:-1])
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"rate {spec!r}: use N/second|minute|hour|day or N/<seconds>s") from None
    if limit < 1 or window < 1:
        raise ValueError(f"rate {spec!r}: limit and window must be positive")
    return limit, window


def _valid_rate(spec: str) -> str:
    parse_rate(spec)
    return spec


Rate = Annotated[str, AfterValidator(_valid_rate)]


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
    # Click & collect: a ready order not collected within this many hours is cancelled.
    pickup_hold_hours: int = Field(default=72, ge=1, le=24 * 28)
    max_request_bytes: int = 1_048_576
    max_header_bytes: int = Field(default=32_768, ge=1024)  # the whole header section
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
    # "production" refuses to start without a strong PLAZA_SECRET_KEY (docs/security.md).
    env: Literal["development", "test", "production"] = "development"
    # Rate limits (docs/security.md): per client IP, fixed windows; Redis when scaled out.
    rate_limit_enabled: bool = True
    rate_limit_backend: Literal["memory", "redis"] = "memory"
    redis_url: str | None = None
    rate_limit_login: Rate = "10/minute"  # POST /auth/token, per IP and per email
    rate_limit_registration: Rate = "10/minute"  # POST /auth/register, per IP
    rate_limit_public_write: Rate = "60/minute"  # every anonymous-allowed write, per IP and route
    rate_limit_max_keys: int = Field(default=100_000, ge=100)  # in-process backend memory bound
    # Headers and web sessions.
    hsts: bool = False  # Strict-Transport-Security; turn on once served over HTTPS only
    hsts_max_age_seconds: int = Field(default=63_072_000, ge=0)
    session_cookie_name: str = "plaza_session"
    web_session_ttl_seconds: int = Field(default=14 * 24 * 3600, ge=300)  # signed-in browsers
    # Origins (e.g. "https://cdn.example.com") the pages may load product images from; the
    # page CSP allows only this site otherwise, and such images show a placeholder.
    image_origins: list[str] = Field(default_factory=list)
    csrf_trusted_origins: list[str] = Field(default_factory=list)
    # JSON bodies nested deeper than this are refused (422) before any schema walks them.
    max_json_depth: int = Field(default=32, ge=2, le=256)
    # Single sign-on (docs/sso.md): the URL clients reach Plaza at, which builds the callback
    # URL registered with each provider; unset, it is taken from the request.
    public_url: str | None = None
    sso_discovery_ttl_seconds: int = Field(default=3600, ge=0)
    sso_login_ttl_seconds: int = Field(default=600, ge=30, le=3600)
    # Web storefront base (GS1 Digital Link `gs1:pip` → {storefront_url}/shop/products/{id});
    # unset, product links point at the API's public product JSON.
    storefront_url: str | None = None

    @model_validator(mode="after")
    def _safe_for_production(self) -> Settings:
        if self.env == "production":
            key = self.secret_key.get_secret_value() if self.secret_key else ""
            if (
                len(key) < MIN_PRODUCTION_SECRET_CHARS
                or len(set(key)) < MIN_PRODUCTION_SECRET_DISTINCT
            ):
                raise ValueError(
                    "PLAZA_ENV=production needs PLAZA_SECRET_KEY set to a random value of at "
                    f"least {MIN_PRODUCTION_SECRET_CHARS} characters (e.g. the output of "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
                )
        if self.rate_limit_backend == "redis" and not self.redis_url:
            raise ValueError("PLAZA_RATE_LIMIT_BACKEND=redis needs PLAZA_REDIS_URL")
        return self

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
