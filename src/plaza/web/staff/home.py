"""Store staff start page."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response

from plaza.identity.auth import MerchantAccess, Principal
from plaza.web.render import page
from plaza.web.staff.common import staff_context

router = APIRouter(prefix="/staff/{merchant_id}")


@router.get("")
def staff_home(
    request: Request, merchant_id: uuid.UUID, _: Principal = Depends(MerchantAccess())
) -> Response:
    return page(request, "staff/home.html", staff_context(request, merchant_id, "home"))
