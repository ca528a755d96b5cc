"""Imports every context's tables so ``Base.metadata`` is complete (Alembic, tests)."""

from __future__ import annotations

from plaza import events, idempotency  # noqa: F401
from plaza.catalog import models as catalog_models  # noqa: F401
from plaza.identity import models as identity_models  # noqa: F401
from plaza.inventory import models as inventory_models  # noqa: F401
from plaza.ordering import models as ordering_models  # noqa: F401
from plaza.ordering import sandbox as payment_sandbox  # noqa: F401
from plaza.personas import models as personas_models  # noqa: F401
from plaza.privacy import models as privacy_models  # noqa: F401
