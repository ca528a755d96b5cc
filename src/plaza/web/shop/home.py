"""The storefront's home page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from plaza.identity.auth import Principal, Public
from plaza.web.render import page

router = APIRouter(prefix="/shop")


@router.get("")
def home(request: Request, _: Principal = Depends(Public())) -> Response:
    return page(request, "shop/home.html", {})
