"""Imports every context's tables so ``Base.metadata`` is complete (Alembic, tests)."""

from __future__ import annotations

from plaza import events, idempotency  # noqa: F401
from plaza.catalog import models as catalog_models  # noqa: F401
from plaza.identity import models as identity_models  # noqa: F401
from plaza.inventory import models as inventory_models  # noqa: F401
from plaza.o2o.beacons import models as o2o_beacons_models  # noqa: F401
from plaza.o2o.collect import models as o2o_collect_models  # noqa: F401
from plaza.o2o.fitting import models as o2o_fitting_models  # noqa: F401
from plaza.o2o.screens import models as o2o_screens_models  # noqa: F401
from plaza.o2o.stores import models as o2o_stores_models  # noqa: F401
from plaza.ordering import models as ordering_models  # noqa: F401
from plaza.ordering import sandbox as payment_sandbox  # noqa: F401
from plaza.personas import models as personas_models  # noqa: F401
from plaza.privacy import models as privacy_models  # noqa: F401
