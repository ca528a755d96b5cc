"""Back-office stock pages: on hand / reserved / available per variant and location, low
stock called out in words, and the adjust form (a relative change with a reason, or an
absolute count), through the inventory service as ``inventory/api.py`` uses it."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from plaza.catalog import lookup
from plaza.catalog import service as catalog
from plaza.catalog.models import ProductStatus
from plaza.catalog.search import ProductQuery
from plaza.errors import ProblemError, not_found
from plaza.identity.auth import Principal
from plaza.inventory import service
from plaza.inventory.api import can_read, can_write
from plaza.inventory.models import MovementReason
from plaza.inventory.schemas import AdjustmentIn, StockSetIn
from plaza.pagination import PageParams, cursor_id, next_id_cursor
from plaza.web import forms
from plaza.web.backoffice.common import office_context
from plaza.web.backoffice.products import FIELD_LABEL
from plaza.web.forms import form_data
from plaza.web.render import page, redirect

router = APIRouter(prefix="/back-office/{merchant_id}")

PAGE_SIZE = 50
MAX_LOCATIONS = 200
MAX_VARIANT_CHOICES = 500
REASONS = [
    ("adjustment", "Correction (count, damage, loss)"),
    ("receipt", "Delivery received (adds units)"),
    ("return", "Customer return (adds units)"),
    ("sale", "Sale outside Plaza (removes units)"),
]
FIELDS = {"variant_id": "variant_id", "location_id": "location_id", "delta": "quantity"}


def _locations(s: Session, merchant_id: uuid.UUID) -> list[Any]:
    return service.list_locations(s, merchant_id, limit=MAX_LOCATIONS)


@router.get("/stock")
def stock_list(
    request: Request,
    merchant_id: uuid.UUID,
    location_id: uuid.UUID | None = Query(None),
    variant_id: uuid.UUID | None = Query(None),
    low: bool = Query(False),
    cursor: str | None = Query(None, max_length=512),
    _: Principal = Depends(can_read),
) -> Response:
    ctx = office_context(request, merchant_id, "stock")
    base = f"/back-office/{merchant_id}"
    listing = f"stock:{merchant_id}"
    params = PageParams(limit=PAGE_SIZE, cursor=cursor)
    with request.app.state.db.reading() as s:
        locations = _locations(s, merchant_id)
        rows = service.list_stock(
            s,
            merchant_id,
            limit=PAGE_SIZE + 1,
            after=cursor_id(listing, params),
            variant_id=variant_id,
            location_id=location_id,
            low_stock=low,
        )
        next_cursor = next_id_cursor(listing, rows, PAGE_SIZE)
        levels: list[dict[str, Any]] = [
            {
                "variant_id": r.variant_id,
                "location_id": r.location_id,
                "on_hand": r.on_hand,
                "reserved": r.reserved,
                "available": r.available,
            }
            for r in rows[:PAGE_SIZE]
        ]
        refs = lookup.variant_refs(s, [lv["variant_id"] for lv in levels])
        loc_by_id = {loc.id: loc for loc in locations}
        for lv in levels:
            ref = refs.get(lv["variant_id"])
            loc = loc_by_id.get(lv["location_id"])
            threshold = loc.low_stock_threshold if loc is not None else 0
            lv.update(
                product=ref.product_title if ref else "",
                product_id=ref.product_id if ref else None,
                sku=ref.sku if ref else str(lv["variant_id"]),
                label=ref.label if ref else "",
                location=loc.name if loc is not None else str(lv["location_id"]),
                threshold=threshold,
                low=lv["available"] <= threshold,
            )
        location_choices = [(str(loc.id), f"{loc.name} ({loc.code})") for loc in locations]
    next_url = None
    if next_cursor:
        query = {
            "location_id": location_id or "",
            "variant_id": variant_id or "",
            "low": "true" if low else "",
            "cursor": next_cursor,
        }
        next_url = f"{base}/stock?" + urlencode({k: v for k, v in query.items() if v})
    ctx.update(
        base=base,
        levels=levels,
        locations=location_choices,
        location_id=str(location_id or ""),
        variant_id=str(variant_id or ""),
        low=low,
        next_url=next_url,
    )
    return page(request, "office/stock.html", ctx)


def _variant_choices(
    s: Session, merchant_id: uuid.UUID, currency: str, keep: str
) -> list[tuple[str, str]]:
    """The merchant's live variants (newest products first) for the variant select."""
    choices: list[tuple[str, str]] = []
    cursor: str | None = None
    while len(choices) < MAX_VARIANT_CHOICES:
        query = ProductQuery(
            merchant_id=merchant_id,
            currency=currency,
            statuses=tuple(ProductStatus),
            public=False,
            limit=100,
            cursor=cursor,
        )
        result = catalog.list_merchant_products(s, query)
        for p in result.items:
            for v in p.variants:
                if v.status.value == "active" or str(v.id) == keep:
                    opts = " / ".join(v.options.values())
                    choices.append(
                        (str(v.id), f"{p.title}{' — ' + opts if opts else ''} ({v.sku})")
                    )
        cursor = result.next_cursor
        if not cursor:
            break
    if keep and keep not in {c[0] for c in choices}:
        try:
            ref = lookup.variant_refs(s, [uuid.UUID(keep)]).get(uuid.UUID(keep))
        except ValueError:
            ref = None
        if ref is not None and ref.merchant_id == merchant_id:
            choices.insert(0, (keep, f"{ref.product_title} ({ref.sku})"))
    return choices


def _adjust_page(
    request: Request,
    merchant_id: uuid.UUID,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status: int = 200,
) -> Response:
    ctx = office_context(request, merchant_id, "stock")
    ctx["base"] = f"/back-office/{merchant_id}"
    with request.app.state.db.reading() as s:
        locations = _locations(s, merchant_id)
        ctx["locations"] = [(str(loc.id), f"{loc.name} ({loc.code})") for loc in locations]
        ctx["variants"] = _variant_choices(
            s, merchant_id, ctx["merchant"]["currency"], values["variant_id"]
        )
        current = None
        try:
            vid, lid = uuid.UUID(values["variant_id"]), uuid.UUID(values["location_id"])
        except ValueError:
            pass
        else:
            if catalog.variant_merchant(s, vid) == merchant_id:
                level = service.get_level(s, merchant_id, vid, lid)
                if level is not None:
                    current = {
                        "on_hand": level.on_hand,
                        "reserved": level.reserved,
                        "available": level.available,
                    }
    ctx.update(values=values, errors=errors, current=current, reasons=REASONS)
    return page(request, "office/stock_adjust.html", ctx, status=status)


@router.get("/stock/adjust")
def adjust_form(
    request: Request,
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID | None = Query(None),
    location_id: uuid.UUID | None = Query(None),
    _: Principal = Depends(can_write),
) -> Response:
    values = {
        "variant_id": str(variant_id or ""),
        "location_id": str(location_id or ""),
        "mode": "delta",
        "quantity": "",
        "reason": "adjustment",
        "reference": "",
        "expected_on_hand": "",
    }
    return _adjust_page(request, merchant_id, values, {})


@router.post("/stock/adjust")
def adjust(
    request: Request,
    merchant_id: uuid.UUID,
    form: FormData = Depends(form_data),
    p: Principal = Depends(can_write),
) -> Response:
    keys = ("variant_id", "location_id", "mode", "quantity", "reason", "reference")
    values = {k: forms.text(form, k, 200, strip=False).strip() for k in (*keys, "expected_on_hand")}
    errors: dict[str, str] = {}
    mode = values["mode"] if values["mode"] in ("delta", "set") else "delta"
    values["mode"] = mode
    quantity = forms.parse_int(values["quantity"])
    if quantity is None:
        errors["quantity"] = "Quantity: enter a whole number" + (
            ", e.g. 5 to add or -2 to remove" if mode == "delta" else ", the units counted"
        )
    reference = values["reference"] or None
    body: AdjustmentIn | StockSetIn | None = None
    if not errors:
        try:
            if mode == "delta":
                body = AdjustmentIn.model_validate(
                    {
                        "variant_id": values["variant_id"],
                        "location_id": values["location_id"],
                        "delta": quantity,
                        "reason": values["reason"] or "adjustment",
                        "reference": reference,
                    }
                )
            else:
                expected = values["expected_on_hand"]
                body = StockSetIn.model_validate(
                    {
                        "on_hand": quantity,
                        "expected_on_hand": forms.parse_int(expected, lo=0),
                        "reference": reference,
                    }
                )
                for name in ("variant_id", "location_id"):
                    try:
                        uuid.UUID(values[name])
                    except ValueError:
                        errors[name] = (
                            f"{'Variant' if name == 'variant_id' else 'Location'}: choose one"
                        )
        except ValidationError as exc:
            errors.update(
                forms.field_errors(
                    exc, forms.renamed({"delta": "quantity", "on_hand": "quantity"}), FIELD_LABEL
                )
            )
    if body is not None and not errors:
        variant_id, location_id = uuid.UUID(values["variant_id"]), uuid.UUID(values["location_id"])
        try:
            with request.app.state.db.transaction() as s:
                if catalog.variant_merchant(s, variant_id) != merchant_id:
                    raise not_found("variant", variant_id)
                if isinstance(body, AdjustmentIn):
                    service.adjust_stock(
                        s,
                        merchant_id=merchant_id,
                        variant_id=body.variant_id,
                        location_id=body.location_id,
                        delta=body.delta,
                        reason=MovementReason(body.reason),
                        reference=body.reference,
                        actor=p.actor,
                    )
                else:
                    service.set_stock(
                        s,
                        merchant_id=merchant_id,
                        variant_id=variant_id,
                        location_id=location_id,
                        on_hand=body.on_hand,
                        expected_on_hand=body.expected_on_hand,
                        reference=body.reference,
                        actor=p.actor,
                    )
        except ProblemError as exc:
            if exc.status == 404:
                field = (
                    "location_id" if exc.extensions.get("resource") == "location" else "variant_id"
                )
                errors[field] = exc.detail
            elif exc.status in (409, 422):
                errors["quantity"] = exc.detail
            else:
                raise
        else:
            return redirect(
                f"/back-office/{merchant_id}/stock?variant_id={variant_id}", flash="Stock updated."
            )
    if errors.get("variant_id"):
        errors["variant_id"] = "Variant: " + errors["variant_id"].split(": ", 1)[-1]
    if errors.get("location_id"):
        errors["location_id"] = "Location: " + errors["location_id"].split(": ", 1)[-1]
    return _adjust_page(request, merchant_id, values, errors, status=422)
