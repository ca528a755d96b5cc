"""The pickup counter: choose the store, type or scan the customer's pickup code, check it
(the collect service's verify), hand the order over (collect), and work the preparation
queue (mark ready). Same services and access rules as the click & collect API: staff of
the merchant; once a store has staff assigned, only they (and admins) check codes there."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from pydantic import ValidationError

from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import ProblemError
from plaza.identity.auth import MerchantAccess, Principal
from plaza.identity.models import MerchantRole
from plaza.inventory import service as inventory
from plaza.inventory.models import LocationKind
from plaza.o2o.collect import api as collect_api
from plaza.o2o.collect import service as collect
from plaza.o2o.collect.models import PickupState
from plaza.o2o.collect.schemas import CODE_MAX, CodeIn, PickupOut
from plaza.o2o.stores import service as stores
from plaza.ordering import api as ordering_api
from plaza.ordering import flows
from plaza.web.render import page, redirect, secret_key
from plaza.web.staff.common import staff_context

router = APIRouter(prefix="/staff/{merchant_id}")
counter_read = MerchantAccess(MerchantRole.STAFF, "orders:read")
counter_write = MerchantAccess(MerchantRole.STAFF, "orders:write")
LIST_LIMIT = 50

# What the counter shows for each problem of the collect service (never an error page).
MESSAGES = {
    "pickup-code-invalid": "No order ready for pickup at this store has this code. Check the "
    "code (and that the customer is at the right store) and try again.",
    "pickup-already-collected": "This order has already been handed over.",
    "pickup-cancelled": "This order was cancelled. Do not hand it over.",
    "pickup-expired": "This order was not collected in time: it has expired, was cancelled "
    "and the customer refunded. Do not hand it over.",
    "pickup-order-not-paid": "This order is not paid yet: don't prepare it.",
    "not-a-collect-order": "This order is delivered, not collected in store.",
    "validation-error": "Enter the pickup code.",
}


# --- the merchant's stores (shared by the staff pages) ---------------------------------------


def merchant_stores(request: Request, merchant_id: uuid.UUID) -> list[dict[str, Any]]:
    """The merchant's active stores, by name, for the store chooser."""
    db: Database = request.app.state.db
    with db.reading() as s:
        rows = inventory.list_locations(
            s, merchant_id, limit=200, kind=LocationKind.STORE, is_active=True
        )
        found = [{"id": loc.id, "name": loc.name, "city": loc.city} for loc in rows]
    return sorted(found, key=lambda x: (str(x["name"]).lower(), str(x["id"])))


def chosen_store(
    request: Request, merchant_id: uuid.UUID, store: uuid.UUID | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The stores to choose from and the chosen one (``?store=``; the only store when the
    merchant has one). A store of another merchant, or a warehouse, is a 404/409 problem."""
    options = merchant_stores(request, merchant_id)
    if store is None:
        return options, options[0] if len(options) == 1 else None
    for option in options:
        if option["id"] == store:
            return options, option
    with request.app.state.db.reading() as s:  # inactive, a warehouse, someone else's
        found = stores.get_store(s, merchant_id, store)
        return options, {"id": found.id, "name": found.location.name, "city": ""}


# --- pages ---------------------------------------------------------------------------------


def _lists(db: Database, merchant_id: uuid.UUID, store_id: uuid.UUID) -> dict[str, Any]:
    with db.reading() as s:
        return {
            "ready": collect.list_pickups(
                s, merchant_id, store_id, PickupState.READY.value, limit=LIST_LIMIT
            ),
            "to_prepare": collect.list_pickups(
                s, merchant_id, store_id, collect.AWAITING, limit=LIST_LIMIT
            ),
        }


def _counter(
    request: Request,
    merchant_id: uuid.UUID,
    store: uuid.UUID | None,
    *,
    status: int = 200,
    code: str = "",
    found: PickupOut | None = None,
    message: str | None = None,
) -> Response:
    options, current = chosen_store(request, merchant_id, store)
    context: dict[str, Any] = {
        **staff_context(request, merchant_id, "counter"),
        "stores": options,
        "store": current,
        "code": code,
        "found": found,
        "message": message,
        "code_max": CODE_MAX,
        "ready": [],
        "to_prepare": [],
    }
    if current is not None:
        context.update(_lists(request.app.state.db, merchant_id, current["id"]))
    return page(request, "staff/counter.html", context, status=status)


def _problem_message(exc: ProblemError) -> str | None:
    return MESSAGES.get(exc.kind.slug)


async def limit_code_checks(request: Request, store: uuid.UUID = Query()) -> None:
    """The API's rate limit on code checks, per store and client."""
    await collect_api.limit_code_checks(request, store)


@router.get("/counter")
def counter(
    request: Request,
    merchant_id: uuid.UUID,
    store: uuid.UUID | None = None,
    _: Principal = Depends(counter_read),
) -> Response:
    return _counter(request, merchant_id, store)


@router.post("/counter/find")
def find_order(
    request: Request,
    merchant_id: uuid.UUID,
    store: uuid.UUID = Query(),
    code: str = Form("", max_length=200),
    db: Database = Depends(get_db),
    p: Principal = Depends(counter_write),
    __: None = Depends(limit_code_checks),
) -> Response:
    """Verify: the order this code belongs to, changing nothing."""
    try:
        body = CodeIn(code=code.strip())
    except ValidationError:
        return _counter(
            request, merchant_id, store, status=422, code=code, message=MESSAGES["validation-error"]
        )
    try:
        with db.transaction() as s:
            stores.require_store_staff(s, merchant_id, store, p)
            pickup = collect.find_by_code(
                s, merchant_id, store, body.code, secret=secret_key(request)
            )
            found = collect.staff_view(s, merchant_id, pickup)
    except ProblemError as exc:
        if (message := _problem_message(exc)) is None:
            raise
        return _counter(
            request, merchant_id, store, status=exc.status, code=body.code, message=message
        )
    return _counter(request, merchant_id, store, code=body.code, found=found)


@router.post("/counter/collect")
def hand_over(
    request: Request,
    merchant_id: uuid.UUID,
    store: uuid.UUID = Query(),
    order_id: uuid.UUID = Form(),
    code: str = Form("", max_length=200),
    db: Database = Depends(get_db),
    p: Principal = Depends(counter_write),
    __: None = Depends(limit_code_checks),
) -> Response:
    """Hand over: the order becomes collected and its held stock is sold here."""
    try:
        body = CodeIn(code=code.strip())
    except ValidationError:
        return _counter(
            request, merchant_id, store, status=422, code=code, message=MESSAGES["validation-error"]
        )
    try:
        with db.transaction() as s:
            stores.require_store_staff(s, merchant_id, store, p)
            pickup = collect.collect(
                s,
                merchant_id,
                store,
                order_id,
                body.code,
                actor=p.actor,
                secret=secret_key(request),
            )
            view = collect.staff_view(s, merchant_id, pickup)
        if pickup.state == PickupState.EXPIRED:
            # Found past its time before the job ran: expired now (committed), refunded.
            flows.settle_refunds(db, ordering_api.get_provider(request))
            raise ProblemError(collect.PICKUP_EXPIRED, order_id=str(order_id))
    except ProblemError as exc:
        if (message := _problem_message(exc)) is None:
            raise
        return _counter(
            request, merchant_id, store, status=exc.status, code=body.code, message=message
        )
    return redirect(
        f"/staff/{merchant_id}/counter?store={store}",
        flash=f"Order {view.order_number} handed over to {view.customer_name}.",
    )


@router.post("/counter/ready")
def mark_ready(
    request: Request,
    merchant_id: uuid.UUID,
    store: uuid.UUID = Query(),
    order_id: uuid.UUID = Form(),
    db: Database = Depends(get_db),
    p: Principal = Depends(counter_write),
) -> Response:
    """The order is on the pickup shelf: the customer gets their pickup code."""
    settings = request.app.state.settings
    try:
        with db.transaction() as s:
            pickup = collect.mark_ready(
                s,
                merchant_id,
                order_id,
                actor=p.actor,
                secret=settings.resolved_secret_key(),
                hold_hours=settings.pickup_hold_hours,
            )
            view = collect.staff_view(s, merchant_id, pickup)
    except ProblemError as exc:
        if (message := _problem_message(exc)) is None:
            raise
        return _counter(request, merchant_id, store, status=exc.status, message=message)
    return redirect(
        f"/staff/{merchant_id}/counter?store={store}",
        flash=f"Order {view.order_number} is ready for pickup; the customer has been told.",
    )
