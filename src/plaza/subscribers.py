"""Imports every context's event subscribers and housekeeping jobs in one place."""

from __future__ import annotations

from collections.abc import Callable

from plaza.db import Database

# Jobs run by the dispatcher loop on every tick; each must be cheap when there is no work.
HOUSEKEEPING: list[Callable[[Database], object]] = []


def _register_all() -> None:
    """Import each context's subscriber module (they register themselves on import), and
    its data-rights handlers (``privacy`` modules, see ``plaza.privacy.registry``)."""
    from plaza.catalog import privacy as _catalog_privacy  # noqa: F401
    from plaza.catalog import subscribers as _catalog  # noqa: F401
    from plaza.idempotency import purge_job  # Idempotency-Key records expire after 24 h
    from plaza.identity import privacy as _identity_privacy  # noqa: F401
    from plaza.identity.oidc_service import purge_job as _sso_purge
    from plaza.identity.sessions import purge_job as _web_sessions_purge
    from plaza.inventory import privacy as _inventory_privacy  # noqa: F401
    from plaza.inventory import subscribers as _inventory  # noqa: F401
    from plaza.o2o.beacons import privacy as _beacons_privacy  # noqa: F401
    from plaza.o2o.beacons.visits import sweep_job as _visits_sweep
    from plaza.o2o.collect import privacy as _collect_privacy  # noqa: F401
    from plaza.o2o.collect.subscribers import expire_pickups_job as _pickups_expiry
    from plaza.o2o.fitting import privacy as _fitting_privacy  # noqa: F401
    from plaza.o2o.fitting.subscribers import close_stale_job as _fitting_sweep
    from plaza.o2o.screens import privacy as _screens_privacy  # noqa: F401
    from plaza.o2o.stores import privacy as _stores_privacy  # noqa: F401
    from plaza.ordering import privacy as _ordering_privacy  # noqa: F401
    from plaza.ordering import subscribers as _ordering  # noqa: F401
    from plaza.personas import privacy as _personas_privacy  # noqa: F401
    from plaza.personas import subscribers as _personas  # noqa: F401
    from plaza.personas.recommend import subscribers as _recommend  # noqa: F401
    from plaza.personas.segments import subscribers as _segments  # noqa: F401
    from plaza.privacy import audit as _audit  # noqa: F401
    from plaza.privacy import platform as _platform_privacy  # noqa: F401
    from plaza.privacy import service as _privacy  # noqa: F401

    HOUSEKEEPING.append(purge_job)
    HOUSEKEEPING.append(_sso_purge)  # expired single sign-on attempts
    HOUSEKEEPING.append(_web_sessions_purge)  # expired web sessions
    HOUSEKEEPING.append(_fitting_sweep)  # fitting sessions nobody closed
    HOUSEKEEPING.append(_visits_sweep)  # beacon visits gone silent end
    HOUSEKEEPING.append(_pickups_expiry)  # click & collect orders nobody came for


_register_all()
