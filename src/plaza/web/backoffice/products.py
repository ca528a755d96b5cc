"""Back-office catalog pages: the product list, new product, product edit (optimistic
concurrency on the product version), variants with their prices, archive.

Handlers call the catalog service exactly as ``catalog/api.py`` does, with the same
schemas; form fields are turned into those schemas and their errors shown by the field."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from plaza.catalog import service
from plaza.catalog.api import can_read, can_write
from plaza.catalog.models import ProductStatus, VariantStatus
from plaza.catalog.schemas import (
    PriceSet,
    ProductIn,
    ProductOut,
    ProductPatch,
    VariantIn,
    VariantOut,
    VariantPatch,
)
from plaza.catalog.search import ProductQuery, parse_query
from plaza.errors import ProblemError, not_found
from plaza.identity.auth import Principal
from plaza.money import CURRENCIES, minor_unit_exponent
from plaza.web import forms
from plaza.web.backoffice.common import office_context
from plaza.web.forms import form_data
from plaza.web.render import page, redirect

router = APIRouter(prefix="/back-office/{merchant_id}")

PAGE_SIZE = 25
STATUS_CHOICES = [(s.value, s.value.title()) for s in ProductStatus]
VARIANT_STATUS_CHOICES = [(s.value, s.value.title()) for s in VariantStatus]
FIELD_NAMES = {
    "title": "Title",
    "handle": "Handle",
    "description": "Description",
    "brand": "Brand",
    "status": "Status",
    "category_id": "Category",
    "tags": "Tags",
    "options": "Options",
    "sku": "SKU",
    "gtin": "GTIN",
    "weight_grams": "Weight (grams)",
    "variant_options": "Variant options",
    "price": "Price",
    "compare_at": "Compare-at price",
}
FIELD_LABEL = forms.labels(FIELD_NAMES, str.title)
MAX_TEXT = 20_000
# The form field a catalog problem belongs to, by the problem's slug.
PROBLEM_FIELDS = {
    "handle-taken": "handle",
    "unknown-category": "category_id",
    "option-value-in-use": "options",
    "variant-options-taken": "variant_options",
    "invalid-variant-options": "variant_options",
    "sku-taken": "sku",
    "gtin-taken": "gtin",
    "invalid-gtin": "gtin",
}
M = TypeVar("M", bound=BaseModel)


# ------------------------------------------------------------------ form helpers


def parse_amount(raw: str, currency: str) -> int:
    """``"12.50"`` in ``currency`` → minor units; ValueError with a message for people."""
    amount = forms.parse_amount(raw, currency)
    if amount is None:
        raise ValueError("enter an amount, e.g. 12.50")
    return amount


def show_amount(amount: int | None, currency: str) -> str:
    """Minor units → ``"12.50"`` for an input's value."""
    if amount is None:
        return ""
    exp = minor_unit_exponent(currency)
    if exp == 0:
        return str(amount)
    whole, frac = divmod(amount, 10**exp)
    return f"{whole}.{frac:0{exp}d}"


def parse_options_text(raw: str) -> list[dict[str, Any]]:
    """``size: S, M, L`` per line → option definitions (the schema checks names/values)."""
    out: list[dict[str, Any]] = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        name, sep, values = line.partition(":")
        if not sep:
            raise ValueError(f"{line.strip()[:40]!r}: write name: value, value")
        out.append({"name": name.strip(), "values": [v.strip() for v in values.split(",")]})
    return out


def options_text(options: list[Any]) -> str:
    return "\n".join(f"{o.name}: {', '.join(o.values)}" for o in options)


def parse_variant_options(raw: str) -> dict[str, str]:
    """``size=M, colour=Blue`` → ``{"size": "M", "colour": "Blue"}``."""
    out: dict[str, str] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"{part.strip()[:40]!r}: write name=value")
        out[name.strip()] = value.strip()
    return out


def _validated(
    schema: type[M],
    data: dict[str, Any],
    errors: dict[str, str],
    field_of: forms.FieldOf = forms.first_part,
) -> M | None:
    """``data`` as ``schema`` when no error was found before; its errors are added to
    ``errors`` (labelled like the form) otherwise."""
    if errors:
        return None
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        errors.update(forms.field_errors(exc, field_of, FIELD_LABEL))
        return None


def _saved(request: Request, action: Callable[[Session], object], errors: dict[str, str]) -> bool:
    """``action`` in a transaction; a catalog refusal (409, 422) is added to ``errors``
    next to its field."""
    try:
        with request.app.state.db.transaction() as s:
            action(s)
    except ProblemError as exc:
        if exc.status not in (409, 422):
            raise
        errors[forms.problem_field(exc, PROBLEM_FIELDS)] = exc.detail
        return False
    return True


def is_conflict(exc: ProblemError) -> bool:
    return exc.kind is service.PRODUCT_VERSION_MISMATCH


def categories(request: Request) -> list[tuple[str, str]]:
    with request.app.state.db.reading() as s:
        rows = service.list_categories(s, tree=False, limit=10_000, cursor=None).items
    return [(str(c.id), c.name) for c in rows]


def load_product(request: Request, merchant_id: uuid.UUID, product_id: uuid.UUID) -> ProductOut:
    with request.app.state.db.reading() as s:
        return service.product_view(s, service.get_product(s, merchant_id, product_id))


def _product_base(request: Request, merchant_id: uuid.UUID) -> dict[str, Any]:
    ctx = office_context(request, merchant_id, "catalog")
    ctx["base"] = f"/back-office/{merchant_id}"
    ctx["status_choices"] = STATUS_CHOICES
    return ctx


# ------------------------------------------------------------------ product list


@router.get("/products")
def product_list(
    request: Request,
    merchant_id: uuid.UUID,
    q: str = Query("", max_length=200),
    status_filter: str = Query("", alias="status", max_length=20),
    cursor: str | None = Query(None, max_length=512),
    _: Principal = Depends(can_read),
) -> Response:
    # "All statuses" submits an empty value; an unknown one is ignored like it.
    known = {s.value: s for s in ProductStatus}
    status = known.get(status_filter)
    ctx = _product_base(request, merchant_id)
    query = ProductQuery(
        text=parse_query(q),
        merchant_id=merchant_id,
        currency=ctx["merchant"]["currency"],
        statuses=(status,) if status else tuple(ProductStatus),
        public=False,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    with request.app.state.db.reading() as s:
        result = service.list_merchant_products(s, query)
    currency = ctx["merchant"]["currency"]
    rows = []
    for p in result.items:
        amounts = [
            price.amount
            for v in p.variants
            if v.status == VariantStatus.ACTIVE
            for price in v.prices
            if price.currency == currency
        ]
        rows.append(
            {
                "id": p.id,
                "title": p.title,
                "status": p.status.value,
                "variants": sum(1 for v in p.variants if v.status == VariantStatus.ACTIVE),
                "min": min(amounts) if amounts else None,
                "max": max(amounts) if amounts else None,
                "customisable": p.customisation is not None,
                "updated_at": p.updated_at,
            }
        )
    next_url = None
    if result.next_cursor:
        params = {"q": q, "status": status.value if status else "", "cursor": result.next_cursor}
        next_url = f"{ctx['base']}/products?" + urlencode({k: v for k, v in params.items() if v})
    ctx.update(
        {"products": rows, "q": q, "status": status.value if status else "", "next_url": next_url}
    )
    return page(request, "office/products.html", ctx)


# ------------------------------------------------------------------ new product


def _new_values(form: FormData | None, currency: str) -> dict[str, str]:
    keys = ["title", "handle", "description", "brand", "status", "category_id", "tags"]
    keys += ["options", "sku", "gtin", "variant_options", "price", "currency"]
    values = {
        k: forms.text(form, k, MAX_TEXT, strip=False) if form is not None else "" for k in keys
    }
    values["status"] = values["status"] or ProductStatus.DRAFT.value
    values["currency"] = values["currency"] or currency
    return values


@router.get("/products/new")
def new_product_form(
    request: Request, merchant_id: uuid.UUID, _: Principal = Depends(can_write)
) -> Response:
    ctx = _product_base(request, merchant_id)
    ctx.update(
        values=_new_values(None, ctx["merchant"]["currency"]),
        errors={},
        categories=categories(request),
    )
    return page(request, "office/product_new.html", ctx)


def _product_fields(values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """The product fields shared by the new and edit forms, as schema input."""
    data: dict[str, Any] = {
        "title": values["title"].strip(),
        "description": values["description"],
        "brand": values["brand"].strip(),
        "status": values["status"],
        "category_id": values["category_id"] or None,
        "tags": [t.strip() for t in values["tags"].split(",") if t.strip()],
    }
    if values["handle"].strip():
        data["handle"] = values["handle"].strip()
    try:
        data["options"] = parse_options_text(values["options"])
    except ValueError as exc:
        errors["options"] = f"Options: {exc}"
    return data


@router.post("/products/new")
def create_product(
    request: Request,
    merchant_id: uuid.UUID,
    form: FormData = Depends(form_data),
    p: Principal = Depends(can_write),
) -> Response:
    ctx = _product_base(request, merchant_id)
    values = _new_values(form, ctx["merchant"]["currency"])
    errors: dict[str, str] = {}
    data = _product_fields(values, errors)
    if values["sku"].strip():
        variant: dict[str, Any] = {"sku": values["sku"], "gtin": values["gtin"].strip() or None}
        try:
            variant["options"] = parse_variant_options(values["variant_options"])
        except ValueError as exc:
            errors["variant_options"] = f"Variant options: {exc}"
        if values["price"].strip():
            try:
                amount = parse_amount(values["price"], values["currency"])
                variant["prices"] = [{"currency": values["currency"], "amount": amount}]
            except (ValueError, KeyError) as exc:
                errors["price"] = f"Price: {exc}"
        data["variants"] = [variant]
    body = _validated(ProductIn, data, errors, _product_in_field)
    created: list[uuid.UUID] = []
    if body is not None and _saved(
        request, lambda s: created.append(service.create_product(s, merchant_id, body).id), errors
    ):
        return redirect(
            f"{ctx['base']}/products/{created[0]}", flash=f"Product “{body.title}” created."
        )
    ctx.update(values=values, errors=errors, categories=categories(request))
    return page(request, "office/product_new.html", ctx, status=422)


def _product_in_field(loc: tuple[Any, ...]) -> str:
    """ProductIn's error locations: the first variant's fields map onto the variant inputs."""
    parts = [str(x) for x in loc]
    field = parts[0] if parts else "_form"
    if field == "variants" and len(parts) >= 3:
        field = {"options": "variant_options", "prices": "price"}.get(parts[2], parts[2])
    return field


# ------------------------------------------------------------------ product edit


def _edit_values(product: ProductOut) -> dict[str, str]:
    return {
        "title": product.title,
        "handle": product.handle,
        "description": product.description,
        "brand": product.brand,
        "status": product.status.value,
        "category_id": str(product.category_id) if product.category_id else "",
        "tags": ", ".join(product.tags),
        "options": options_text(product.options),
        "version": str(product.version),
    }


def _edit_page(
    request: Request,
    merchant_id: uuid.UUID,
    product: ProductOut,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status: int = 200,
    conflict: list[dict[str, str]] | None = None,
) -> Response:
    ctx = _product_base(request, merchant_id)
    currency = ctx["merchant"]["currency"]
    ctx.update(
        product=product,
        values=values,
        errors=errors,
        conflict=conflict,
        categories=categories(request),
        variants=[_variant_row(v, currency) for v in product.variants],
    )
    return page(request, "office/product_edit.html", ctx, status=status)


def _variant_row(v: VariantOut, currency: str) -> dict[str, Any]:
    return {
        "id": v.id,
        "sku": v.sku,
        "gtin": v.gtin or "",
        "options": ", ".join(f"{k}: {val}" for k, val in v.options.items()),
        "status": v.status.value,
        "prices": [(pr.amount, pr.currency) for pr in v.prices],
    }


@router.get("/products/{product_id}")
def edit_product_form(
    request: Request,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    _: Principal = Depends(can_read),
) -> Response:
    product = load_product(request, merchant_id, product_id)
    return _edit_page(request, merchant_id, product, _edit_values(product), {})


@router.post("/products/{product_id}")
def save_product(
    request: Request,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(can_write),
) -> Response:
    keys = ("title", "handle", "description", "brand", "status", "category_id", "tags")
    values = {k: forms.text(form, k, MAX_TEXT, strip=False) for k in (*keys, "options", "version")}
    errors: dict[str, str] = {}
    data = _product_fields(values, errors)
    if (version := forms.parse_int(values["version"], lo=0)) is not None:
        data["expected_version"] = version
    if not values["handle"].strip():
        errors["handle"] = "Handle: enter the product's URL slug, e.g. linen-shirt"
    body = _validated(ProductPatch, data, errors)
    if body is not None:
        try:
            with request.app.state.db.transaction() as s:
                service.update_product(s, merchant_id, product_id, body)
        except ProblemError as exc:
            if is_conflict(exc):
                return _conflict_page(request, merchant_id, product_id, values)
            if exc.status not in (409, 422):
                raise
            errors[forms.problem_field(exc, PROBLEM_FIELDS)] = exc.detail
        else:
            return redirect(
                f"/back-office/{merchant_id}/products/{product_id}", flash="Product saved."
            )
    product = load_product(request, merchant_id, product_id)
    return _edit_page(request, merchant_id, product, values, errors, status=422)


def _conflict_page(
    request: Request, merchant_id: uuid.UUID, product_id: uuid.UUID, values: dict[str, str]
) -> Response:
    """Someone saved the product since this form was read: keep the person's input, show
    what changed, and carry the current version so that saving again is deliberate."""
    product = load_product(request, merchant_id, product_id)
    current = _edit_values(product)
    labels = {k: FIELD_NAMES.get(k, k.title()) for k in current if k != "version"}
    diff = [
        {"field": labels[k], "saved": current[k], "yours": values.get(k, "")}
        for k in labels
        if current[k].strip() != values.get(k, "").strip()
    ]
    values = {**values, "version": current["version"]}
    errors = {
        "_form": "Someone else changed this product since you opened it. Your changes are "
        "below and are not saved yet: check the saved values, then Save again to keep yours."
    }
    return _edit_page(request, merchant_id, product, values, errors, status=409, conflict=diff)


@router.post("/products/{product_id}/archive")
def archive_product(
    request: Request,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(can_write),
) -> Response:
    raw = forms.text(form, "version", MAX_TEXT, strip=False)
    expected = forms.parse_int(raw, lo=0)
    try:
        with request.app.state.db.transaction() as s:
            service.archive_product(s, merchant_id, product_id, expected_version=expected)
    except ProblemError as exc:
        if not is_conflict(exc):
            raise
        product = load_product(request, merchant_id, product_id)
        errors = {
            "_form": "Someone else changed this product since you opened it: check it, "
            "then archive again."
        }
        return _edit_page(request, merchant_id, product, _edit_values(product), errors, status=409)
    return redirect(
        f"/back-office/{merchant_id}/products/{product_id}",
        flash="Product archived: it left the storefront. Set its status to restore it.",
    )


# ------------------------------------------------------------------ variants


def _variant_values(
    product: ProductOut, variant: VariantOut | None, currency: str
) -> dict[str, Any]:
    prices = {p.currency: p for p in (variant.prices if variant else [])}
    currencies = list(prices) or [currency]
    if currency not in currencies:
        currencies.insert(0, currency)
    return {
        "sku": variant.sku if variant else "",
        "gtin": (variant.gtin or "") if variant else "",
        "weight_grams": str(variant.weight_grams)
        if variant and variant.weight_grams is not None
        else "",
        "status": variant.status.value if variant else VariantStatus.ACTIVE.value,
        "options": dict(variant.options) if variant else {o.name: "" for o in product.options},
        "prices": [
            {
                "currency": c,
                "amount": show_amount(prices[c].amount, c) if c in prices else "",
                "compare_at": show_amount(prices[c].compare_at_amount, c) if c in prices else "",
            }
            for c in currencies
        ],
        "new_currency": "",
        "new_amount": "",
        "new_compare_at": "",
    }


def _variant_page(
    request: Request,
    merchant_id: uuid.UUID,
    product: ProductOut,
    variant: VariantOut | None,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    status: int = 200,
) -> Response:
    ctx = _product_base(request, merchant_id)
    ctx.update(
        product=product,
        variant=variant,
        values=values,
        errors=errors,
        variant_status_choices=VARIANT_STATUS_CHOICES,
    )
    return page(request, "office/product_variant.html", ctx, status=status)


def _read_variant_form(
    form: FormData, product: ProductOut, values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, tuple[int, int | None] | None], dict[str, str]]:
    """The posted variant: schema input, prices per currency (None: remove), errors."""
    errors: dict[str, str] = {}
    values["sku"] = forms.text(form, "sku", 200, strip=False)
    values["gtin"] = forms.text(form, "gtin", 100, strip=False)
    values["weight_grams"] = forms.text(form, "weight_grams", 20, strip=False)
    values["status"] = forms.text(form, "status", 20, strip=False) or values["status"]
    values["options"] = {
        o.name: forms.text(form, f"option.{o.name}", 100, strip=False) for o in product.options
    }
    data: dict[str, Any] = {
        "sku": values["sku"],
        "gtin": values["gtin"].strip() or None,
        "options": values["options"],
        "status": values["status"],
    }
    weight = values["weight_grams"].strip()
    if weight:
        if (grams := forms.parse_int(weight, lo=0, hi=10**9)) is not None:
            data["weight_grams"] = grams
        else:
            errors["weight_grams"] = "Weight (grams): enter a whole number of grams"
    else:
        data["weight_grams"] = None
    prices: dict[str, tuple[int, int | None] | None] = {}
    rows = []
    for row in values["prices"]:
        c = row["currency"]
        amount_raw = forms.text(form, f"price.{c}", 40, strip=False)
        compare_raw = forms.text(form, f"compare.{c}", 40, strip=False)
        rows.append({"currency": c, "amount": amount_raw, "compare_at": compare_raw})
        prices[c] = _read_price(c, amount_raw, compare_raw, f"price.{c}", errors)
    values["prices"] = rows
    new_c = forms.text(form, "new_currency", 10, strip=False).strip().upper()
    values["new_currency"] = new_c
    values["new_amount"] = forms.text(form, "new_amount", 40, strip=False)
    values["new_compare_at"] = forms.text(form, "new_compare_at", 40, strip=False)
    if new_c or values["new_amount"].strip():
        if new_c not in CURRENCIES:
            errors["new_currency"] = "Currency: enter an ISO 4217 code, e.g. USD"
        elif new_c in prices:
            errors["new_currency"] = f"Currency: {new_c} has a price already (above)"
        else:
            got = _read_price(
                new_c, values["new_amount"], values["new_compare_at"], "new_amount", errors
            )
            if got is None and "new_amount" not in errors:
                errors["new_amount"] = "Price: enter the price in the new currency"
            prices[new_c] = got
    return data, prices, errors


def _read_price(
    currency: str, amount_raw: str, compare_raw: str, field: str, errors: dict[str, str]
) -> tuple[int, int | None] | None:
    if not amount_raw.strip():
        return None
    try:
        amount = parse_amount(amount_raw, currency)
        compare = parse_amount(compare_raw, currency) if compare_raw.strip() else None
        PriceSet(amount=amount, compare_at_amount=compare)
    except ValidationError as exc:
        errors[field] = f"Price {currency}: " + str(exc.errors()[0]["msg"]).removeprefix(
            "Value error, "
        )
        return None
    except ValueError as exc:
        errors[field] = f"Price {currency}: {exc}"
        return None
    return amount, compare


@router.get("/products/{product_id}/variants/new")
def new_variant_form(
    request: Request,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    _: Principal = Depends(can_write),
) -> Response:
    product = load_product(request, merchant_id, product_id)
    currency = office_context(request, merchant_id, "catalog")["merchant"]["currency"]
    values = _variant_values(product, None, currency)
    return _variant_page(request, merchant_id, product, None, values, {})


@router.post("/products/{product_id}/variants/new")
def create_variant(
    request: Request,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(can_write),
) -> Response:
    product = load_product(request, merchant_id, product_id)
    currency = office_context(request, merchant_id, "catalog")["merchant"]["currency"]
    values = _variant_values(product, None, currency)
    data, prices, errors = _read_variant_form(form, product, values)
    data["prices"] = [
        {"currency": c, "amount": p[0], "compare_at_amount": p[1]}
        for c, p in prices.items()
        if p is not None
    ]
    field_of = forms.renamed({"options": "variant_options", "prices": "price"})
    body = _validated(VariantIn, data, errors, field_of)
    if body is not None and _saved(
        request, lambda s: service.add_variant(s, merchant_id, product_id, body), errors
    ):
        return redirect(
            f"/back-office/{merchant_id}/products/{product_id}",
            flash=f"Variant {body.sku} added.",
        )
    return _variant_page(request, merchant_id, product, None, values, errors, status=422)


def _product_variant(
    request: Request, merchant_id: uuid.UUID, product_id: uuid.UUID, variant_id: uuid.UUID
) -> tuple[ProductOut, VariantOut]:
    product = load_product(request, merchant_id, product_id)
    variant = next((v for v in product.variants if v.id == variant_id), None)
    if variant is None:
        raise not_found("variant", variant_id)
    return product, variant


@router.get("/products/{product_id}/variants/{variant_id}")
def edit_variant_form(
    request: Request,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    variant_id: uuid.UUID,
    _: Principal = Depends(can_read),
) -> Response:
    product, variant = _product_variant(request, merchant_id, product_id, variant_id)
    currency = office_context(request, merchant_id, "catalog")["merchant"]["currency"]
    values = _variant_values(product, variant, currency)
    return _variant_page(request, merchant_id, product, variant, values, {})


@router.post("/products/{product_id}/variants/{variant_id}")
def save_variant(
    request: Request,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    variant_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(can_write),
) -> Response:
    product, variant = _product_variant(request, merchant_id, product_id, variant_id)
    currency = office_context(request, merchant_id, "catalog")["merchant"]["currency"]
    values = _variant_values(product, variant, currency)
    data, prices, errors = _read_variant_form(form, product, values)
    body = _validated(VariantPatch, data, errors, forms.renamed({"options": "variant_options"}))
    if body is None:
        return _variant_page(request, merchant_id, product, variant, values, errors, status=422)
    existing = {p.currency: (p.amount, p.compare_at_amount) for p in variant.prices}

    def save(s: Session) -> None:
        assert body is not None
        service.update_variant(s, merchant_id, variant_id, body)
        for c, price in prices.items():
            if price is None and c in existing:
                service.remove_price(s, merchant_id, variant_id, c)
            elif price is not None and existing.get(c) != price:
                service.set_price(s, merchant_id, variant_id, c, price[0], price[1])

    if _saved(request, save, errors):
        return redirect(
            f"/back-office/{merchant_id}/products/{product_id}",
            flash=f"Variant {body.sku} saved.",
        )
    return _variant_page(request, merchant_id, product, variant, values, errors, status=422)


@router.post("/products/{product_id}/variants/{variant_id}/archive")
def archive_variant(
    request: Request,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    variant_id: uuid.UUID,
    _: Principal = Depends(can_write),
) -> Response:
    variant = _product_variant(request, merchant_id, product_id, variant_id)[1]
    with request.app.state.db.transaction() as s:
        service.archive_variant(s, merchant_id, variant_id)
    return redirect(
        f"/back-office/{merchant_id}/products/{product_id}",
        flash=f"Variant {variant.sku} archived: it can no longer be sold.",
    )
