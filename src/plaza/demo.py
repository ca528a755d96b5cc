"""Demo world loader (filled in by the demo-data work)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from plaza.db import Database


def load_demo(
    db: Database, *, seed: int = 42, force: bool = False, console: Console | None = None
) -> dict[str, Any]:
    raise NotImplementedError
