"""Apps built with hardening settings of the test's choosing (the shared app keeps rate
limits off, see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from plaza.app import create_app
from plaza.config import Settings
from plaza.db import Database


@pytest.fixture
def make_app(database_url: str, db: Database) -> Callable[..., FastAPI]:
    """``make_app(rate_limit_public_write="2/minute", ...)``: the real app, its own limiter."""

    def build(**overrides: Any) -> FastAPI:
        options: dict[str, Any] = {"database_url": database_url, "dispatcher": "off"}
        options.update(overrides)
        return create_app(Settings(**options), db)

    return build
