"""The mobile storefront: one module per page group, each with its own router (carrying the
``/shop`` prefix itself). A new capability adds a module here and one line below."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from plaza.web.shop import account_pages, cart, checkout, fitting, home, orders, personas, pwa
from plaza.web.shop import catalog as catalog_pages
from plaza.web.shop import product as product_pages

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
for _module in (
    home,
    catalog_pages,
    product_pages,
    fitting,
    cart,
    checkout,
    orders,
    account_pages,
    personas,
    pwa,
):
    router.include_router(_module.router)
