"""Store staff pages under ``/staff/{merchant_id}``: pickup counter, fitting-room queue,
endless aisle. Big touch targets; each route declares MerchantAccess."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from plaza.web.staff import aisle, counter, fitting, home

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
for _module in (home, counter, fitting, aisle):
    router.include_router(_module.router)
