"""The mobile storefront: one module per page group, each with its own router, all under
``/shop`` (each module's router carries the prefix itself). A new capability adds a module here and one line below."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from plaza.web.shop import home

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
for _module in (home,):
    router.include_router(_module.router)
