"""The merchant dashboard."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response

from plaza.identity.auth import MerchantAccess, Principal
from plaza.web.backoffice.common import office_context
from plaza.web.render import page

router = APIRouter(prefix="/back-office/{merchant_id}")


@router.get("")
def dashboard(
    request: Request, merchant_id: uuid.UUID, _: Principal = Depends(MerchantAccess())
) -> Response:
    return page(request, "office/dashboard.html", office_context(request, merchant_id, "dashboard"))
