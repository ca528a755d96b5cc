"""Inventory fixtures: merchants and locations made through the services (no HTTP), so the
service-level and concurrency tests need nothing but a migrated database."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from plaza.db import Database
from plaza.identity import service as identity
from plaza.identity.models import MerchantKind
from plaza.inventory import service
from plaza.inventory.models import Location, LocationKind

from ..factories import unique


def make_merchant(db: Database) -> uuid.UUID:
    with db.transaction() as s:
        admin = identity.register_user(s, f"{unique('inv')}@example.com", None, "Admin")
        m = identity.create_merchant(
            s, slug=unique("inv"), name="Inventory Shop", kind=MerchantKind.BRAND, admin=admin
        )
        return m.id


def make_location(
    db: Database,
    merchant_id: uuid.UUID,
    kind: LocationKind = LocationKind.WAREHOUSE,
    **overrides: Any,
) -> Location:
    fields: dict[str, Any] = {
        "code": unique("LOC"),
        "name": "Somewhere",
        "kind": kind,
        "address_line1": "1 Rue de Rivoli",
        "city": "Paris",
        "postal_code": "75001",
        "country": "FR",
        "timezone": "Europe/Paris",
        **overrides,
    }
    with db.transaction() as s:
        return service.create_location(s, merchant_id, **fields)


def stock(
    db: Database,
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    location_id: uuid.UUID,
    on_hand: int,
) -> None:
    with db.transaction() as s:
        service.set_stock(
            s,
            merchant_id=merchant_id,
            variant_id=variant_id,
            location_id=location_id,
            on_hand=on_hand,
        )


def level(
    db: Database, merchant_id: uuid.UUID, variant_id: uuid.UUID, location_id: uuid.UUID
) -> tuple[int, int]:
    with db.reading() as s:
        row = service.get_level(s, merchant_id, variant_id, location_id)
        assert row is not None
        return row.on_hand, row.reserved


@pytest.fixture
def merchant_id(db: Database) -> uuid.UUID:
    return make_merchant(db)


@pytest.fixture
def warehouse(db: Database, merchant_id: uuid.UUID) -> Location:
    return make_location(db, merchant_id, LocationKind.WAREHOUSE)


@pytest.fixture
def variant_id() -> uuid.UUID:
    return uuid.uuid4()
