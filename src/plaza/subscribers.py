"""Imports every context's event subscribers and housekeeping jobs in one place."""

from __future__ import annotations

from collections.abc import Callable

from plaza.db import Database

# Jobs run by the dispatcher loop on every tick; each must be cheap when there is no work.
HOUSEKEEPING: list[Callable[[Database], object]] = []


def _register_all() -> None:
    """Import each context's subscriber module (they register themselves on import)."""
    from plaza.catalog import subscribers as _catalog  # noqa: F401
    from plaza.idempotency import purge_job  # Idempotency-Key records expire after 24 h
    from plaza.inventory import subscribers as _inventory  # noqa: F401
    from plaza.ordering import subscribers as _ordering  # noqa: F401

    HOUSEKEEPING.append(purge_job)


_register_all()
