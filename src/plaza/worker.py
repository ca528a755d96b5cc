"""Background work: the outbox dispatcher plus periodic housekeeping hooks."""

from __future__ import annotations

from collections.abc import Callable

from plaza.config import Settings
from plaza.db import Database
from plaza.events import Dispatcher


def build_dispatcher(db: Database, settings: Settings) -> Dispatcher:
    import plaza.subscribers  # noqa: F401 - registers every context's subscribers

    dispatcher = Dispatcher(db, interval=settings.dispatcher_interval_seconds)
    dispatcher.hooks.extend(housekeeping_hooks())
    return dispatcher


def housekeeping_hooks() -> list[Callable[[Database], object]]:
    """Periodic jobs contexts contribute (e.g. releasing expired reservations)."""
    from plaza.subscribers import HOUSEKEEPING

    return list(HOUSEKEEPING)
