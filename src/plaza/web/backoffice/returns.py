"""Back-office returns: the list (by status, cursor pages), one return with the order's
lines it covers, and the API's actions (``plaza.ordering.api``): approve, reject (confirmed),
and receive the goods back at a location, which restocks and refunds them."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError

from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import ProblemError
from plaza.identity.auth import MerchantAccess, Principal
from plaza.identity.models import MerchantRole
from plaza.ordering import flows, orders, reports, returns, service
from plaza.ordering.models import Return, ReturnStatus
from plaza.ordering.schemas import ReturnDecisionIn, ReturnOut, ReturnReceiveIn
from plaza.pagination import PageParams, newest_first
from plaza.web.backoffice.common import office_context
from plaza.web.backoffice.orders import location_names
from plaza.web.forms import field_errors, form_fields, labels, problem_text
from plaza.web.render import page, redirect

router = APIRouter(prefix="/back-office/{merchant_id}")
staff = MerchantAccess(MerchantRole.STAFF)  # as the API: staff read and handle returns

RETURN_TONES = {"requested": "warn", "approved": "neutral", "rejected": "bad", "refunded": "ok"}


@router.get("/returns")
def return_list(
    request: Request,
    merchant_id: uuid.UUID,
    status: str | None = Query(None, max_length=20),
    page_params: PageParams = Depends(),
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> Response:
    try:
        status_ = ReturnStatus(status) if status else None
    except ValueError:
        status_ = None
    listing = f"office-returns:{merchant_id}:{status_}"
    with db.reading() as s:
        result = newest_first(
            s,
            reports.returns_query(merchant_id, status_),
            Return.id,
            page_params,
            listing,
            ReturnOut.model_validate,
        )
        refs = reports.order_refs(s, merchant_id, [r.order_id for r in result.items])
    next_url = None
    if result.next_cursor:
        params = {"status": status_.value} if status_ else {}
        next_url = f"/back-office/{merchant_id}/returns?" + urlencode(
            {**params, "cursor": result.next_cursor}
        )
    context = office_context(request, merchant_id, "returns")
    context.update(
        returns=result.items,
        refs=refs,
        status=status_.value if status_ else "",
        statuses=[(st.value, st.value.capitalize()) for st in ReturnStatus],
        next_url=next_url,
        first_page=page_params.cursor is None,
        tones=RETURN_TONES,
    )
    return page(request, "office/returns.html", context)


def _return_page(
    request: Request,
    db: Database,
    merchant_id: uuid.UUID,
    return_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    with db.reading() as s:
        ret = ReturnOut.model_validate(reports.get_return(s, merchant_id, return_id))
        order = service.order_detail(s, orders.get_merchant_order(s, merchant_id, ret.order_id))
        names = location_names(s, merchant_id)
    by_line = {str(ln.id): ln for ln in order.lines}
    lines: list[dict[str, Any]] = []
    for item in ret.lines:
        line = by_line.get(str(item["order_line_id"]))
        qty = int(item["quantity"])
        lines.append(
            {
                "title": line.title if line else str(item["order_line_id"]),
                "sku": line.sku if line else "",
                "quantity": qty,
                "amount": line.unit_amount * qty if line else None,
            }
        )
    context = office_context(request, merchant_id, "returns")
    context.update(
        ret=ret,
        order=order,
        lines=lines,
        locations=sorted(((str(i), n) for i, n in names.items()), key=lambda x: x[1]),
        tones=RETURN_TONES,
        open=ret.status in (ReturnStatus.REQUESTED, ReturnStatus.APPROVED),
        errors=errors or {},
        values=values or {},
        problem=problem,
    )
    return page(request, "office/return.html", context, status=status)


@router.get("/returns/{return_id}")
def return_page(
    request: Request,
    merchant_id: uuid.UUID,
    return_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> Response:
    return _return_page(request, db, merchant_id, return_id)


def _here(merchant_id: uuid.UUID, return_id: uuid.UUID) -> str:
    return f"/back-office/{merchant_id}/returns/{return_id}"


async def _decide(
    request: Request, db: Database, merchant_id: uuid.UUID, return_id: uuid.UUID, approve: bool
) -> Response:
    values = await form_fields(request)
    errors: dict[str, str] = {}
    note = "approve_note" if approve else "reject_note"
    try:
        body = ReturnDecisionIn(note=values.get(note, ""))
    except ValidationError as exc:
        errors = {note: field_errors(exc, label_of=labels({"note": "Note"}))["note"]}
    if not approve and values.get("reject_confirm") != "yes":
        errors["reject_confirm"] = "Tick the box to confirm the rejection."
    if errors:
        return _return_page(
            request, db, merchant_id, return_id, errors=errors, values=values, status=422
        )
    try:
        with db.transaction() as s:
            ret = returns.get_merchant_return(s, merchant_id, return_id)
            returns.decide(s, ret, approve, body.note)
    except ProblemError as exc:
        if exc.status == 404:
            raise
        return _return_page(
            request, db, merchant_id, return_id, problem=problem_text(exc), status=exc.status
        )
    message = "The return is approved." if approve else "The return is rejected."
    return redirect(_here(merchant_id, return_id), flash=message)


@router.post("/returns/{return_id}/approve")
async def approve(
    request: Request,
    merchant_id: uuid.UUID,
    return_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> Response:
    """Accept the request (``POST /merchants/{m}/returns/{id}/approve``)."""
    return await _decide(request, db, merchant_id, return_id, True)


@router.post("/returns/{return_id}/reject")
async def reject(
    request: Request,
    merchant_id: uuid.UUID,
    return_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(staff),
) -> Response:
    """Refuse the request (``POST …/reject``), once confirmed."""
    return await _decide(request, db, merchant_id, return_id, False)


@router.post("/returns/{return_id}/receive")
async def receive(
    request: Request,
    merchant_id: uuid.UUID,
    return_id: uuid.UUID,
    db: Database = Depends(get_db),
    p: Principal = Depends(staff),
) -> Response:
    """The goods are back (``POST …/receive``): restocked at the chosen location, refunded."""
    values = await form_fields(request)
    try:
        body = ReturnReceiveIn.model_validate({"location_id": values.get("location_id", "")})
    except ValidationError:
        errors = {"location_id": "Location: choose where the goods go back into stock."}
        return _return_page(
            request, db, merchant_id, return_id, errors=errors, values=values, status=422
        )
    try:
        with db.transaction() as s:
            ret = returns.get_merchant_return(s, merchant_id, return_id)
            returns.receive(s, ret, body.location_id, p.actor)
    except ProblemError as exc:
        if exc.status == 404 and exc.extensions.get("resource") == "return":
            raise
        return _return_page(
            request, db, merchant_id, return_id, problem=problem_text(exc), status=exc.status
        )
    flows.settle_refunds(db, service.provider_for(db, request.app.state.settings))
    return redirect(
        _here(merchant_id, return_id), flash="The goods are back in stock and refunded."
    )
