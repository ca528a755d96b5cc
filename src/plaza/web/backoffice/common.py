"""What every back-office page shows around its content: the merchant, the merchants the
signed-in person may switch to, and the navigation."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request

from plaza.identity import service as identity
from plaza.web.render import principal_of

# (section key, label, path under /back-office/{merchant_id}); pages set `section`.
OFFICE_NAV: list[tuple[str, str, str]] = [
    ("dashboard", "Dashboard", ""),
    ("catalog", "Catalog", "/products"),
    ("stock", "Stock", "/stock"),
    ("orders", "Orders", "/orders"),
    ("returns", "Returns", "/returns"),
    ("personas", "Personas", "/personas"),
    ("customisation", "Customisation", "/customisation"),
    ("stores", "Stores", "/stores"),
    ("beacons", "Beacons", "/beacons"),
    ("fitting", "Fitting rooms", "/fitting-rooms"),
    ("screens", "Screens", "/screens"),
]


def office_context(request: Request, merchant_id: uuid.UUID, section: str) -> dict[str, Any]:
    """The layout's context; the route's MerchantAccess rule has already checked access."""
    principal = principal_of(request)
    db = request.app.state.db
    with db.reading() as s:
        merchant = identity.get_merchant(s, merchant_id)
        if principal.is_platform_admin:
            choices = [merchant]
        else:  # a merchant that closed drops out of the switcher, not the whole page
            choices = identity.active_merchants(s, principal.memberships)
        return {
            "merchant": {
                "id": merchant.id,
                "name": merchant.name,
                "currency": merchant.default_currency,
            },
            "merchants": [{"id": m.id, "name": m.name} for m in choices],
            "section": section,
            "office_nav": OFFICE_NAV,
        }
