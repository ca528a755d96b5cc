"""The customer's account page: who is signed in, links to their orders and personas,
the back-office and store staff pages for merchant members, their data, and signing out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from plaza.db import Database
from plaza.deps import get_db
from plaza.identity import service as identity
from plaza.identity.auth import Customer, Principal
from plaza.identity.models import User
from plaza.web.render import page

router = APIRouter(prefix="/shop")


@router.get("/account")
def account(
    request: Request, db: Database = Depends(get_db), p: Principal = Depends(Customer())
) -> Response:
    """Name and email (as ``GET /me``), and where to go from here."""
    with db.reading() as s:
        user = s.get(User, p.user_id)
        assert user is not None
        merchants = [  # closed merchants are left out
            {"id": m.id, "name": m.name, "role": p.memberships[m.id].value}
            for m in identity.active_merchants(s, p.memberships)
        ]
        context = {
            "user": {"name": user.name, "email": user.email},
            "merchants": merchants,
            "platform_admin": p.is_platform_admin,
        }
    return page(request, "shop/account.html", context, headers={"Cache-Control": "no-store"})
