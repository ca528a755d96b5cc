"""The merchant back-office under ``/back-office/{merchant_id}``: one module per area, each
with its own router; every route declares MerchantAccess, so a merchant only ever reaches
its own pages."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from plaza.web.backoffice import (
    beacons,
    customisation,
    dashboard,
    fitting_rooms,
    home,
    orders,
    personas,
    products,
    returns,
    screens,
    stock,
    stores,
)

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
for _module in (
    home, dashboard, products, stock, customisation, orders, returns,
    personas, stores, beacons, fitting_rooms, screens,
):  # fmt: skip
    router.include_router(_module.router)
