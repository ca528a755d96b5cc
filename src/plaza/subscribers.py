"""Imports every context's event subscribers and housekeeping jobs in one place."""

from __future__ import annotations

from collections.abc import Callable

from plaza.db import Database

# Jobs run by the dispatcher loop on every tick; each must be cheap when there is no work.
HOUSEKEEPING: list[Callable[[Database], object]] = []
