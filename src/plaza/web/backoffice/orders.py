"""Back-office orders: the list (filters, cursor pages), one order (lines, customer,
payments, fulfilment, pickup) and what the ordering and click & collect APIs let a
merchant do with it: fulfil, mark ready for pickup, cancel, refund.

Each action calls the same service functions as its API endpoint
(``plaza.ordering.api``, ``plaza.o2o.collect.api``) under the same access rule (merchant
staff). A refused move (a 409 of the state machine, say) comes back as the order page
with the problem's words at the top; invalid input as the page with the error next to
its field (422). Cancel and refund are confirmed with a checkbox (no JavaScript needed)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError

from plaza import idempotency as idem
from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import CATALOGUE, ProblemError
from plaza.identity.auth import MerchantAccess, Principal
from plaza.identity.models import MerchantRole
from plaza.inventory import service as inventory
from plaza.o2o.collect import service as collect
from plaza.ordering import flows, orders, reports, service
from plaza.ordering.models import FulfilmentMethod, Order, OrderStatus
from plaza.ordering.schemas import CancelIn, FulfilIn, OrderDetail, RefundIn
from plaza.pagination import PageParams, newest_first
from plaza.web import forms
from plaza.web.backoffice.common import office_context
from plaza.web.forms import field_errors, form_fields, labels, problem_text
from plaza.web.render import page, redirect

router = APIRouter(prefix="/back-office/{merchant_id}")
# The API's rules (plaza.ordering.api, plaza.o2o.collect.api): staff read and act on orders.
staff = MerchantAccess(MerchantRole.STAFF)

STATUS_TONES = {
    "placed": "neutral",
    "paid": "warn",
    "fulfilled": "ok",
    "cancelled": "bad",
    "returned": "neutral",
}
PICKUP_LABELS = {
    "awaiting_preparation": "Awaiting preparation",
    "ready": "Ready for pickup",
    "collected": "Collected",
    "expired": "Expired",
    "cancelled": "Cancelled",
}
REFUNDABLE = (OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.RETURNED)


# --- helpers shared with the returns pages ------------------------------------------------


def location_names(s: Any, merchant_id: uuid.UUID) -> dict[uuid.UUID, str]:
    return {loc.id: loc.name for loc in inventory.list_locations(s, merchant_id, limit=500)}


def _enum(kind: Any, raw: str | None) -> Any:
    try:
        return kind(raw) if raw else None
    except ValueError:
        return None


# --- list -----------------------------------------------------------------------------------


@router.get("/orders")
def order_list(
    request: Request,
    merchant_id: uuid.UUID,
    status: str | None = Query(None, max_length=20),
    channel: str | None = Query(None, max_length=20),
    fulfilment: str | None = Query(None, max_length=20),
    page_params: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> Response:
    status_ = _enum(OrderStatus, status)
    channel_ = channel if channel in reports.ORDER_CHANNELS else None
    fulfilment_ = _enum(FulfilmentMethod, fulfilment)
    filters = {
        "status": status_.value if status_ else "",
        "channel": channel_ or "",
        "fulfilment": fulfilment_.value if fulfilment_ else "",
    }
    listing = f"office-orders:{merchant_id}:{status_}:{channel_}:{fulfilment_}"
    q = reports.orders_query(merchant_id, status=status_, channel=channel_, fulfilment=fulfilment_)
    with db.reading() as s:
        result = newest_first(s, q, Order.id, page_params, listing, service.order_out)
    next_url = None
    if result.next_cursor:
        params = {k: v for k, v in filters.items() if v}
        next_url = f"/back-office/{merchant_id}/orders?" + urlencode(
            {**params, "cursor": result.next_cursor}
        )
    context = office_context(request, merchant_id, "orders")
    context.update(
        orders=result.items,
        filters=filters,
        next_url=next_url,
        first_page=page_params.cursor is None,
        statuses=[(st.value, st.value.capitalize()) for st in OrderStatus],
        channels=list(reports.ORDER_CHANNELS.items()),
        fulfilments=[("delivery", "Delivery"), ("collect", "Click & collect")],
        tones=STATUS_TONES,
    )
    return page(request, "office/orders.html", context)


# --- one order ------------------------------------------------------------------------------


def _order_page(
    request: Request,
    db: Database,
    merchant_id: uuid.UUID,
    order_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    with db.reading() as s:
        order: OrderDetail = service.order_detail(
            s, orders.get_merchant_order(s, merchant_id, order_id)
        )
        pickup = collect.merchant_pickup(s, merchant_id, order_id)
        names = location_names(s, merchant_id)
        order_returns = [
            {"id": r.id, "status": r.status.value, "refund_amount": r.refund_amount}
            for r in reports.order_returns(s, merchant_id, order_id)
        ]
    paid = sum(p.captured_amount for p in order.payments)
    context = office_context(request, merchant_id, "orders")
    context.update(
        order=order,
        pickup=pickup,
        pickup_label=PICKUP_LABELS.get(pickup.state, pickup.state) if pickup else None,
        store_name=names.get(order.pickup_store_id) if order.pickup_store_id else None,
        sold_in=names.get(order.placed_in_store) if order.placed_in_store else None,
        returns=order_returns,
        tones=STATUS_TONES,
        can_fulfil=order.status == OrderStatus.PAID and order.fulfilment == "delivery",
        can_ready=order.status == OrderStatus.PAID
        and order.fulfilment == "collect"
        and pickup is not None
        and pickup.state == "awaiting_preparation",
        can_cancel=order.status in (OrderStatus.PLACED, OrderStatus.PAID),
        can_refund=order.status in REFUNDABLE and paid > order.refunded_amount,
        refundable=paid - order.refunded_amount,
        errors=errors or {},
        values=values or {},
        problem=problem,
        idempotency_key=uuid.uuid4().hex,
    )
    return page(request, "office/order.html", context, status=status)


@router.get("/orders/{order_id}")
def order_page(
    request: Request,
    merchant_id: uuid.UUID,
    order_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> Response:
    return _order_page(request, db, merchant_id, order_id)


def _here(merchant_id: uuid.UUID, order_id: uuid.UUID) -> str:
    return f"/back-office/{merchant_id}/orders/{order_id}"


@router.post("/orders/{order_id}/fulfil")
async def fulfil(
    request: Request,
    merchant_id: uuid.UUID,
    order_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(staff),
) -> Response:
    """Mark a paid delivered order shipped (``POST /merchants/{m}/orders/{id}/fulfil``)."""
    values = await form_fields(request)
    try:
        body = FulfilIn(**{k: values.get(k, "") for k in FulfilIn.model_fields})
    except ValidationError as exc:
        names = {
            "carrier": "Carrier",
            "tracking_number": "Tracking number",
            "tracking_url": "Tracking URL",
        }
        errors = field_errors(exc, label_of=labels(names))
        return _order_page(
            request, db, merchant_id, order_id, errors=errors, values=values, status=422
        )
    try:
        with db.transaction() as s:
            order = orders.get_merchant_order(s, merchant_id, order_id, for_update=True)
            tracking = {k: v for k, v in body.model_dump().items() if v}
            flows.fulfil_order(s, order, p.actor, tracking)
    except ProblemError as exc:
        if exc.status == 404:
            raise
        return _order_page(
            request, db, merchant_id, order_id, problem=problem_text(exc), status=exc.status
        )
    return redirect(_here(merchant_id, order_id), flash="The order is marked as shipped.")


@router.post("/orders/{order_id}/ready")
def mark_ready(
    request: Request,
    merchant_id: uuid.UUID,
    order_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(staff),
) -> Response:
    """Put a click & collect order on the pickup shelf (``POST …/orders/{id}/ready``)."""
    settings = request.app.state.settings
    try:
        with db.transaction() as s:
            collect.mark_ready(
                s,
                merchant_id,
                order_id,
                actor=p.actor,
                secret=settings.resolved_secret_key(),
                hold_hours=settings.pickup_hold_hours,
            )
    except ProblemError as exc:
        if exc.status == 404:
            raise
        return _order_page(
            request, db, merchant_id, order_id, problem=problem_text(exc), status=exc.status
        )
    return redirect(
        _here(merchant_id, order_id),
        flash="The order is ready for pickup: the customer now has a pickup code.",
    )


@router.post("/orders/{order_id}/cancel")
async def cancel(
    request: Request,
    merchant_id: uuid.UUID,
    order_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(staff),
) -> Response:
    """Cancel a placed or paid order, refunding what was paid (``POST …/cancel``)."""
    values = await form_fields(request)
    errors: dict[str, str] = {}
    try:
        body = CancelIn(reason=values.get("cancel_reason", ""))
    except ValidationError as exc:
        errors = {
            "cancel_reason": field_errors(exc, label_of=labels({"reason": "Reason"}))["reason"]
        }
    if values.get("cancel_confirm") != "yes":
        errors["cancel_confirm"] = "Tick the box to confirm the cancellation."
    if errors:
        return _order_page(
            request, db, merchant_id, order_id, errors=errors, values=values, status=422
        )
    try:
        with db.transaction() as s:
            order = orders.get_merchant_order(s, merchant_id, order_id, for_update=True)
            flows.cancel_order(s, order, p.actor, body.reason or "cancelled by merchant")
    except ProblemError as exc:
        if exc.status == 404:
            raise
        return _order_page(
            request, db, merchant_id, order_id, problem=problem_text(exc), status=exc.status
        )
    flows.settle_refunds(db, service.provider_for(db, request.app.state.settings))
    return redirect(_here(merchant_id, order_id), flash="The order is cancelled.")


def parse_amount(raw: str, currency: str) -> int | None:
    """``"12.50"`` in EUR → 1250 minor units; None when it is not a positive amount."""
    try:
        return forms.parse_amount(raw, currency, allow_zero=False)
    except ValueError:
        return None


@router.post("/orders/{order_id}/refund")
async def refund(
    request: Request,
    merchant_id: uuid.UUID,
    order_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(staff),
) -> Response:
    """Refund part of a paid order (``POST …/refunds``); the form's one-time key makes a
    double submission refund once."""
    values = await form_fields(request)
    with db.reading() as s:
        currency = orders.get_merchant_order(s, merchant_id, order_id).currency
    errors: dict[str, str] = {}
    amount = parse_amount(values.get("amount", ""), currency)
    if amount is None:
        errors["amount"] = f"Amount: enter a positive amount in {currency}, like 12.50."
    try:
        body = RefundIn(amount=amount or 1, reason=values.get("refund_reason", ""))
    except ValidationError as exc:
        found = field_errors(exc, label_of=labels({"reason": "Reason", "amount": "Amount"}))
        if "reason" in found:
            errors["refund_reason"] = found["reason"]
        if "amount" in found:
            errors.setdefault("amount", found["amount"])
    if values.get("refund_confirm") != "yes":
        errors["refund_confirm"] = "Tick the box to confirm the refund."
    key = values.get("idempotency_key") or None
    if key is not None and not idem.KEY_PATTERN.match(key):
        key = None
    if errors:
        return _order_page(
            request, db, merchant_id, order_id, errors=errors, values=values, status=422
        )

    def act(s: Any) -> OrderDetail:
        order = orders.get_merchant_order(s, merchant_id, order_id, for_update=True)
        if order.status not in REFUNDABLE:
            raise ProblemError(CATALOGUE["payment-invalid"], f"the order is {order.status}")
        flows.queue_order_refund(s, order, body.amount, body.reason)
        return service.order_detail(s, order)

    path = f"/merchants/{merchant_id}/orders/{order_id}/refunds"  # the API's: one key space
    try:
        idem.idempotent_write(
            db,
            scope=p.actor,
            key=key,
            status_code=200,
            fp=idem.fingerprint("POST", path, body),
            action=act,
        )
    except ProblemError as exc:
        if exc.status == 404:
            raise
        return _order_page(
            request, db, merchant_id, order_id, problem=problem_text(exc), status=exc.status
        )
    flows.settle_refunds(db, service.provider_for(db, request.app.state.settings))
    return redirect(_here(merchant_id, order_id), flash="The refund is on its way.")
