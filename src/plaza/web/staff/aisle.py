"""The endless aisle: on the shop floor, sell the merchant's items this store lacks. Staff
search the catalogue, add variants to the sale (kept in the page's URL and hidden fields,
no server-side state), enter the customer's email, delivery address or collection here,
and the payment token; the sale is placed through the endless-aisle checkout of the API
(``channel=endless_aisle``), idempotently (a key in the form makes a double submit safe)."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from pydantic import ValidationError

from plaza import idempotency as idem
from plaza.catalog import lookup as catalog
from plaza.catalog import service as catalog_service
from plaza.catalog.models import ProductStatus
from plaza.catalog.search import ProductQuery, parse_query
from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import ProblemError
from plaza.identity.auth import MerchantAccess, Principal
from plaza.identity.models import MerchantRole
from plaza.o2o.collect import api as collect_api
from plaza.o2o.collect.schemas import EndlessAisleIn
from plaza.ordering import api as ordering_api
from plaza.ordering import orders
from plaza.ordering import service as ordering
from plaza.ordering.carts import MAX_LINE_QUANTITY
from plaza.web.forms import field_errors
from plaza.web.render import page, redirect
from plaza.web.staff.common import staff_context
from plaza.web.staff.counter import chosen_store

router = APIRouter(prefix="/staff/{merchant_id}")
aisle_access = MerchantAccess(MerchantRole.STAFF, "orders:write")  # as the API's checkout
MAX_LINES = 50
RESULTS = 20
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "postal_code", "country")
LABELS = {
    "email": "Customer email",
    "name": "Name",
    "line1": "Address",
    "line2": "Address line 2",
    "city": "City",
    "postal_code": "Postal code",
    "country": "Country",
    "payment": "Payment token",
    "lines": "Sale",
    "fulfilment": "Delivery",
}
MESSAGES = {
    "out-of-stock": "Not enough stock anywhere for this sale: lower a quantity or remove an item.",
    "payment-declined": "The payment was declined. Try another card.",
    "payment-pending": "The payment outcome is not known yet: place the order again (it is "
    "not charged twice).",
    "endless-aisle-foreign-variant": "An item of another merchant is in the sale.",
    "endless-aisle-customised": "Customisable items can't be sold here: the customer orders "
    "them in the app.",
    "endless-aisle-customer-mismatch": "The customer account does not match this email.",
    "collect-store-unavailable": "This store does not take click & collect orders.",
    "idempotency-key-mismatch": "This form was already sent with other details: place it again.",
}


def parse_lines(raw: list[str]) -> list[tuple[uuid.UUID, int]]:
    """``<variant id>:<quantity>`` fields, merged per variant; malformed ones are dropped."""
    merged: dict[uuid.UUID, int] = {}
    for item in raw[: MAX_LINES * 2]:
        vid, _, qty = item.partition(":")
        try:
            variant_id, quantity = uuid.UUID(vid), int(qty or "1")
        except ValueError:
            continue
        if quantity > 0:
            merged[variant_id] = min(MAX_LINE_QUANTITY, merged.get(variant_id, 0) + quantity)
    return list(merged.items())[:MAX_LINES]


def _sale(db: Database, merchant_id: uuid.UUID, lines: list[tuple[uuid.UUID, int]]) -> list[Any]:
    with db.reading() as s:
        refs = catalog.variant_refs(s, [vid for vid, _ in lines])
    out = []
    for vid, qty in lines:
        ref = refs.get(vid)
        if ref is None or ref.merchant_id != merchant_id:
            continue
        out.append(
            {
                "variant_id": vid,
                "quantity": qty,
                "title": ref.product_title,
                "label": ref.label,
                "sku": ref.sku,
                "live": ref.live,
            }
        )
    return out


def _search(
    db: Database, merchant_id: uuid.UUID, q: str, currency: str
) -> list[dict[str, Any]] | None:
    if not q.strip():
        return None
    query = ProductQuery(
        text=parse_query(q),
        merchant_id=merchant_id,
        statuses=(ProductStatus.ACTIVE,),
        public=False,
        currency=currency,
        limit=RESULTS,
    )
    with db.reading() as s:
        found = catalog_service.list_merchant_products(s, query).items
    results = []
    for product in found:
        names = [o.name for o in product.options]
        variants = []
        for v in product.variants:
            if v.status.value != "active":
                continue
            price = next((p.amount for p in v.prices if p.currency == currency), None)
            label = " / ".join(str(v.options[n]) for n in names if n in v.options)
            variants.append({"id": v.id, "label": label or v.sku, "sku": v.sku, "price": price})
        if variants:
            results.append({"id": product.id, "title": product.title, "variants": variants})
    return results


def _placed(db: Database, merchant_id: uuid.UUID, order_id: uuid.UUID | None) -> Any:
    if order_id is None:
        return None
    with db.reading() as s:
        try:
            order = orders.get_merchant_order(s, merchant_id, order_id)
        except ProblemError:
            return None
        return ordering.order_out(order)


def _render(
    request: Request,
    merchant_id: uuid.UUID,
    store: uuid.UUID | None,
    *,
    q: str = "",
    lines: list[tuple[uuid.UUID, int]] | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    key: str | None = None,
    placed: uuid.UUID | None = None,
    status: int = 200,
) -> Response:
    db: Database = request.app.state.db
    options, current = chosen_store(request, merchant_id, store)
    base = staff_context(request, merchant_id, "aisle")
    currency = base["merchant"]["currency"]
    sale = _sale(db, merchant_id, lines or [])
    hidden = [f"{line['variant_id']}:{line['quantity']}" for line in sale]
    context: dict[str, Any] = {
        **base,
        "stores": options,
        "store": current,
        "q": q,
        "results": _search(db, merchant_id, q, currency) if current else None,
        "sale": sale,
        "hidden_lines": hidden,
        "values": {"fulfilment": "delivery", **(values or {})},
        "errors": errors or {},
        "key": key or str(uuid.uuid4()),
        "placed": _placed(db, merchant_id, placed),
        "currency": currency,
    }
    return page(request, "staff/aisle.html", context, status=status)


@router.get("/aisle")
def aisle(
    request: Request,
    merchant_id: uuid.UUID,
    store: uuid.UUID | None = None,
    q: str = Query("", max_length=200),
    line: list[str] = Query([], max_length=MAX_LINES * 2),
    add: uuid.UUID | None = None,
    remove: uuid.UUID | None = None,
    placed: uuid.UUID | None = None,
    _: Principal = Depends(aisle_access),
) -> Response:
    """Search, and the sale so far (``line=<variant>:<qty>``; ``add``/``remove`` change it)."""
    lines = parse_lines([*line, *([f"{add}:1"] if add else [])])
    if remove is not None:
        lines = [(vid, qty) for vid, qty in lines if vid != remove]
    return _render(request, merchant_id, store, q=q, lines=lines, placed=placed)


def _error_field(loc: tuple[Any, ...]) -> str:
    parts = [str(x) for x in loc]
    if not parts:
        return "_form"
    if parts[0] == "shipping_address" and len(parts) > 1:
        field = parts[1]
    elif parts[0] == "payment":
        field = "payment"
    else:
        field = parts[0]
    return field if field in LABELS else "_form"


def _field_errors(exc: ValidationError) -> dict[str, str]:
    return field_errors(exc, _error_field, LABELS.get)


@router.post("/aisle/checkout")
def place_sale(
    request: Request,
    merchant_id: uuid.UUID,
    store: uuid.UUID = Query(),
    line: list[str] = Form([], max_length=MAX_LINES * 2),
    email: str = Form("", max_length=254),
    fulfilment: str = Form("delivery", max_length=20),
    name: str = Form("", max_length=200),
    line1: str = Form("", max_length=200),
    line2: str = Form("", max_length=200),
    city: str = Form("", max_length=200),
    postal_code: str = Form("", max_length=20),
    country: str = Form("", max_length=2),
    payment: str = Form("", max_length=100),
    key: str = Form("", max_length=255),
    db: Database = Depends(get_db),
    p: Principal = Depends(aisle_access),
) -> Response:
    """Place the sale with the endless-aisle checkout (same function as the API)."""
    lines = parse_lines(line)
    values = {
        "email": email,
        "fulfilment": fulfilment,
        "name": name,
        "line1": line1,
        "line2": line2,
        "city": city,
        "postal_code": postal_code,
        "country": country.upper(),
        "payment": payment,
    }
    collect_here = fulfilment == "collect"
    data: dict[str, Any] = {
        "lines": [{"variant_id": str(vid), "quantity": qty} for vid, qty in lines],
        "email": email.strip(),
        "currency": staff_context(request, merchant_id, "aisle")["merchant"]["currency"],
        "payment": {"token": payment.strip()},
    }
    if collect_here:
        data["collect_in_store"] = True
    else:
        data["shipping_address"] = {f: values[f] for f in ADDRESS_FIELDS}

    def again(errors: dict[str, str], status: int, same_key: bool = False) -> Response:
        return _render(
            request,
            merchant_id,
            store,
            lines=lines,
            values=values,
            errors=errors,
            key=key if same_key else None,
            status=status,
        )

    if not lines:
        return again({"lines": "Add at least one item to the sale."}, 422)
    try:
        body = EndlessAisleIn.model_validate(data)
    except ValidationError as exc:
        return again(_field_errors(exc), 422)
    settings = request.app.state.settings
    try:
        response = collect_api.endless_aisle_checkout(
            merchant_id,
            store,
            body,
            request,
            db,
            p,
            key if key and idem.KEY_PATTERN.match(key) else None,
            ordering_api.get_provider(request),
            settings,
        )
    except ProblemError as exc:
        message = MESSAGES.get(exc.kind.slug)
        if (message is None and exc.status >= 500) or exc.status in (401, 403, 404):
            raise
        return again({"_form": message or exc.detail}, exc.status)
    result = json.loads(bytes(response.body))
    if response.status_code != 201:
        slug = str(result.get("type", "")).rsplit("/", 1)[-1]
        message = MESSAGES.get(slug) or str(result.get("detail", "The sale failed."))
        return again({"_form": message}, response.status_code, same_key=slug == "payment-pending")
    order = result["orders"][0]
    query = urlencode({"store": str(store), "placed": order["id"]})
    return redirect(
        f"/staff/{merchant_id}/aisle?{query}",
        flash=f"Order {order['number']} placed for {result['email']}.",
    )
