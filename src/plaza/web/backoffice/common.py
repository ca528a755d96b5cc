"""What every back-office page shows around its content: the merchant, the merchants the
signed-in person may switch to, and the navigation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import Request, Response

from plaza.identity import service as identity
from plaza.web.render import page, principal_of

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


def office_page(
    request: Request,
    merchant_id: uuid.UUID,
    section: str,
    name: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render the back-office template ``name`` inside the layout's context."""
    ctx = office_context(request, merchant_id, section)
    return page(request, name, {**ctx, **context}, status=status, headers=headers)
