"""The customer's orders: the list (newest first, paginated) and one order with its
lines, payments, history and, for click & collect, where to pick it up and (once the store
has it ready) the pickup code with its QR image. As ``GET /me/orders[/{id}]`` and
``GET /me/orders/{id}/pickup[-code.svg]``; another customer's order is a 404."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import ProblemError
from plaza.identity.auth import Customer, Principal
from plaza.o2o.collect import service as collect
from plaza.o2o.collect.api import QR_HEADERS
from plaza.ordering import orders, service
from plaza.ordering.models import FulfilmentMethod, Order
from plaza.pagination import PageParams, newest_first
from plaza.web.render import page, secret_key

router = APIRouter(prefix="/shop")


def _me(p: Principal) -> uuid.UUID:
    assert p.user_id is not None  # the Customer rule admits people only
    return p.user_id


@router.get("/orders")
def my_orders(
    request: Request,
    params: PageParams = Depends(),
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> Response:
    """The signed-in customer's orders, newest first."""
    user_id = _me(p)
    with db.reading() as s:
        found = newest_first(
            s,
            select(Order).where(Order.customer_id == user_id),
            Order.id,
            params,
            f"me-orders:{user_id}",
            service.order_out,
        )
    more = (
        "/shop/orders?" + urlencode({"cursor": found.next_cursor, "limit": params.limit})
        if found.next_cursor
        else None
    )
    return page(request, "shop/orders.html", {"orders": found.items, "next_url": more})


@router.get("/orders/{order_id}")
def my_order(
    request: Request,
    order_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> Response:
    """One order: lines, status, payments, history; pickup details for click & collect."""
    user_id = _me(p)
    pickup: Any = None
    with db.reading() as s:
        order = service.order_detail(s, orders.get_customer_order(s, user_id, order_id))
        if order.fulfilment == FulfilmentMethod.COLLECT and order.pickup_store_id is not None:
            pickup, _ = collect.customer_pickup(s, user_id, order_id, secret=secret_key(request))
    return page(
        request,
        "shop/order.html",
        {"order": order, "pickup": pickup},
        headers={"Cache-Control": "no-store"} if pickup is not None and pickup.code else None,
    )


@router.get("/orders/{order_id}/pickup-code.svg")
def my_pickup_qr(
    request: Request,
    order_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> Response:
    """The pickup QR code (SVG) of a ready click & collect order; never cached."""
    user_id = _me(p)
    with db.reading() as s:
        view, payload = collect.customer_pickup(s, user_id, order_id, secret=secret_key(request))
    if payload is None:
        raise ProblemError(collect.PICKUP_NOT_READY, state=view.state)
    return Response(
        collect.qr_image(payload, "svg"), media_type="image/svg+xml", headers=QR_HEADERS
    )
