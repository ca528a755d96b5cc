"""Back-office entry: pick a merchant (or go straight to the only one)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request, Response

from plaza.identity import service as identity
from plaza.identity.auth import Customer, Principal
from plaza.web.render import page, redirect

router = APIRouter()


@router.get("/back-office")
def choose_merchant(
    request: Request,
    merchant: uuid.UUID | None = Query(None),
    principal: Principal = Depends(Customer()),
) -> Response:
    """The merchants this account works for; the switcher posts here too."""
    if merchant is not None and (principal.is_platform_admin or merchant in principal.memberships):
        return redirect(f"/back-office/{merchant}")
    with request.app.state.db.reading() as s:
        merchants = identity.active_merchants(s, principal.memberships)
        if len(merchants) == 1:
            return redirect(f"/back-office/{merchants[0].id}")
        rows = [
            {"id": m.id, "name": m.name, "role": principal.memberships[m.id].value}
            for m in merchants
        ]
    return page(request, "office/choose.html", {"merchants": rows})
