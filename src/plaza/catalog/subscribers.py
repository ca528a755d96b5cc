"""Catalog reactions to other contexts' events."""

from __future__ import annotations

from sqlalchemy.orm import Session

from plaza.catalog.service import bump_catalog_version
from plaza.events import Event, subscribe


@subscribe("merchant.updated")
def merchant_changed(s: Session, event: Event) -> None:
    """A merchant's profile or open/closed state feeds storefront pages: drop cached ones."""
    bump_catalog_version(s, event.merchant_id)
