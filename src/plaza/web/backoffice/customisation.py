"""Back-office customisation editor: which products are customisable, and per product its
spec (option groups, options, price deltas, requires/excludes constraints) as JSON next to
form fields for the lead time and made-to-order, checked by the catalog's own validation
(errors at the path it reports) and previewed as shoppers will see the options."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from plaza.catalog import customisation, service
from plaza.catalog.api import can_read, can_write
from plaza.catalog.customisation import CustomisationSpec, GroupKind
from plaza.catalog.models import ProductStatus
from plaza.catalog.schemas import ProductOut
from plaza.catalog.search import ProductQuery
from plaza.config import get_settings
from plaza.errors import ProblemError
from plaza.identity.auth import Principal
from plaza.money import format_amount
from plaza.web import forms
from plaza.web.backoffice.common import office_context
from plaza.web.backoffice.products import is_conflict, load_product
from plaza.web.forms import form_data
from plaza.web.render import page, redirect

router = APIRouter(prefix="/back-office/{merchant_id}")

MAX_SCAN = 1000  # products looked through for the list (ten pages of the catalog listing)
MAX_SPEC_CHARS = 200_000
STRUCTURED = ("lead_time_days", "made_to_order")
EXAMPLE: dict[str, Any] = {
    "groups": [
        {
            "code": "colour",
            "label": "Colour",
            "kind": "choice",
            "required": True,
            "options": [
                {"code": "natural", "label": "Natural"},
                {"code": "black", "label": "Black", "price_delta": {"EUR": 300}},
            ],
        },
        {
            "code": "initials",
            "label": "Initials",
            "kind": "text",
            "max_length": 3,
            "charset": ["ascii_letters"],
            "case": "upper",
        },
    ],
    "constraints": [{"kind": "requires", "if": "initials", "then": "colour.black"}],
}
CHARSETS = {
    "letters": "letters",
    "ascii_letters": "letters A–Z",
    "digits": "digits",
    "space": "spaces",
    "punctuation": f"punctuation {customisation.PUNCTUATION}",
}


def _base(request: Request, merchant_id: uuid.UUID) -> dict[str, Any]:
    ctx = office_context(request, merchant_id, "customisation")
    ctx["base"] = f"/back-office/{merchant_id}"
    return ctx


def _scan(request: Request, merchant_id: uuid.UUID, currency: str) -> list[ProductOut]:
    products: list[ProductOut] = []
    cursor: str | None = None
    with request.app.state.db.reading() as s:
        while len(products) < MAX_SCAN:
            query = ProductQuery(
                merchant_id=merchant_id,
                currency=currency,
                statuses=tuple(ProductStatus),
                public=False,
                limit=100,
                cursor=cursor,
            )
            result = service.list_merchant_products(s, query)
            products += result.items
            cursor = result.next_cursor
            if not cursor:
                break
    return products


@router.get("/customisation")
def customisation_list(
    request: Request,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID | None = Query(None),
    _: Principal = Depends(can_read),
) -> Response:
    base = f"/back-office/{merchant_id}"
    if product_id is not None:  # the "make customisable" chooser submits here
        return redirect(f"{base}/customisation/{product_id}")
    ctx = _base(request, merchant_id)
    products = _scan(request, merchant_id, ctx["merchant"]["currency"])
    ctx["customisable"] = [
        {
            "id": p.id,
            "title": p.title,
            "status": p.status.value,
            "groups": len(p.customisation.groups),
            "lead_time_days": p.customisation.lead_time_days,
            "made_to_order": p.customisation.made_to_order,
        }
        for p in products
        if p.customisation is not None
    ]
    ctx["plain"] = [
        (str(p.id), p.title)
        for p in products
        if p.customisation is None and p.status != ProductStatus.ARCHIVED
    ]
    return page(request, "office/customisation.html", ctx)


# ------------------------------------------------------------------ editor


def _spec_text(spec: CustomisationSpec | None) -> str:
    if spec is None:
        return json.dumps(EXAMPLE, indent=2, ensure_ascii=False)
    data = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    for key in STRUCTURED:
        data.pop(key, None)
    return json.dumps(data, indent=2, ensure_ascii=False)


def _delta(prices: dict[str, int] | None, currency: str) -> str:
    if not prices:
        return ""
    if currency in prices:
        amount = prices[currency]
        return ("+" if amount >= 0 else "−") + format_amount(abs(amount), currency)
    return "not sold in " + currency


def preview(spec: CustomisationSpec, currency: str) -> dict[str, Any]:
    """What the storefront's customiser offers, in words the template can lay out."""
    spec = customisation.check_spec(spec)  # normalised: the defaults shoppers get
    labels: dict[str, str] = {}
    groups = []
    for g in spec.groups:
        labels[g.code] = g.label
        hint = ""
        if g.kind == GroupKind.MULTI:
            lo, hi = g.min_selections or 0, g.max_selections or len(g.options)
            hint = f"Choose up to {hi}" if lo <= 1 else f"Choose {lo} to {hi}"
        elif g.kind == GroupKind.TEXT:
            allowed = ", ".join(CHARSETS[c.value] for c in g.charset or [])
            extra = f" and {g.extra_characters}" if g.extra_characters else ""
            size = f"{g.min_length or 1}–{g.max_length} characters"
            hint = f"{size}: {allowed}{extra}"
            if g.case and g.case != "as_typed":
                hint += f"; shown in {g.case} case"
        options = []
        for o in g.options:
            labels[f"{g.code}.{o.code}"] = f"{g.label}: {o.label}"
            options.append(
                {
                    "code": o.code,
                    "label": o.label,
                    "delta": _delta(o.price_delta, currency),
                    "available": o.available,
                }
            )
        groups.append(
            {
                "code": g.code,
                "label": g.label,
                "kind": g.kind.value,
                "required": g.required,
                "hint": hint,
                "options": options,
                "max_length": g.max_length,
                "delta": _delta(g.price_delta, currency),
            }
        )
    rules = []
    for c in spec.constraints:
        verb = "requires" if c.kind.value == "requires" else "cannot be combined with"
        rules.append(f"{labels.get(c.if_, c.if_)} {verb} {labels.get(c.then, c.then)}")
    return {
        "groups": groups,
        "rules": rules,
        "lead_time_days": spec.lead_time_days,
        "made_to_order": spec.made_to_order,
    }


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(spec)"


def _editor(
    request: Request,
    merchant_id: uuid.UUID,
    product: ProductOut,
    values: dict[str, str],
    errors: dict[str, str],
    spec_errors: list[dict[str, str]],
    shown: CustomisationSpec | None,
    *,
    status: int = 200,
    previewing: bool = False,
) -> Response:
    ctx = _base(request, merchant_id)
    currency = ctx["merchant"]["currency"]
    ctx.update(
        product=product,
        values=values,
        errors=errors,
        spec_errors=spec_errors,
        preview=preview(shown, currency) if shown is not None else None,
        previewing=previewing,
    )
    return page(request, "office/customisation_edit.html", ctx, status=status)


def _values(product: ProductOut) -> dict[str, str]:
    spec = product.customisation
    return {
        "lead_time_days": str(spec.lead_time_days if spec else 0),
        "made_to_order": "on" if spec and spec.made_to_order else "",
        "spec": _spec_text(spec),
        "version": str(product.version),
    }


@router.get("/customisation/{product_id}")
def customisation_form(
    request: Request,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    _: Principal = Depends(can_read),
) -> Response:
    product = load_product(request, merchant_id, product_id)
    return _editor(request, merchant_id, product, _values(product), {}, [], product.customisation)


def _read_spec(
    values: dict[str, str], errors: dict[str, str], spec_errors: list[dict[str, str]]
) -> CustomisationSpec | None:
    lead = forms.parse_int(values["lead_time_days"].strip() or "0", lo=0, hi=999_999)
    if lead is None:
        errors["lead_time_days"] = "Lead time (days): enter a whole number of days"
    try:
        data = forms.parse_json(values["spec"], max_depth=get_settings().max_json_depth)
    except json.JSONDecodeError as exc:
        spec_errors.append(
            {"path": f"line {exc.lineno}, column {exc.colno}", "msg": f"not valid JSON: {exc.msg}"}
        )
        return None
    except ValueError as exc:
        spec_errors.append({"path": "(spec)", "msg": str(exc)})
        return None
    if not isinstance(data, dict):
        spec_errors.append({"path": "(spec)", "msg": 'a JSON object: {"groups": [...]}'})
        return None
    for key in STRUCTURED:
        if key in data:
            field = "Lead time (days)" if key == "lead_time_days" else "Made to order"
            spec_errors.append({"path": key, "msg": f"set it with the {field} field instead"})
    if errors or spec_errors:
        return None
    data["lead_time_days"] = lead or 0
    data["made_to_order"] = values["made_to_order"] == "on"
    try:
        return CustomisationSpec.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            if loc and loc[0] == "lead_time_days":
                errors["lead_time_days"] = f"Lead time (days): {msg}"
            else:
                spec_errors.append({"path": _path(loc), "msg": msg})
        return None


@router.post("/customisation/{product_id}")
def save_customisation(
    request: Request,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(can_write),
) -> Response:
    product = load_product(request, merchant_id, product_id)
    values = {
        "lead_time_days": forms.text(form, "lead_time_days", 20, strip=False),
        "made_to_order": "on" if forms.text(form, "made_to_order", 10, strip=False) else "",
        "spec": forms.text(form, "spec", MAX_SPEC_CHARS, strip=False),
        "version": forms.text(form, "version", 12, strip=False),
    }
    previewing = forms.text(form, "action", 20, strip=False) == "preview"
    errors: dict[str, str] = {}
    spec_errors: list[dict[str, str]] = []
    spec = _read_spec(values, errors, spec_errors)
    if spec is not None:
        raw = values["version"]
        expected = forms.parse_int(raw, lo=0)
        try:
            if previewing:
                customisation.check_spec(spec)
            else:
                with request.app.state.db.transaction() as s:
                    customisation.set_customisation(
                        s, merchant_id, product_id, spec, expected_version=expected
                    )
        except ProblemError as exc:
            if is_conflict(exc):
                current = load_product(request, merchant_id, product_id)
                values["version"] = str(current.version)
                errors["_form"] = (
                    "Someone else changed this product since you opened it. Your spec is below "
                    "and is not saved yet: the preview shows the saved one. Save again to "
                    "replace it with yours."
                )
                return _editor(
                    request,
                    merchant_id,
                    current,
                    values,
                    errors,
                    [],
                    current.customisation,
                    status=409,
                )
            if exc.kind is not customisation.SPEC_INVALID:
                raise
            spec_errors += [
                {"path": str(e.get("path", "")), "msg": str(e.get("msg", ""))}
                for e in exc.extensions.get("errors", [])
            ]
        else:
            if previewing:
                return _editor(request, merchant_id, product, values, {}, [], spec, previewing=True)
            return redirect(
                f"/back-office/{merchant_id}/customisation/{product_id}",
                flash="Customisation saved.",
            )
    if spec_errors:
        count = len(spec_errors)
        errors["spec"] = (
            f"Specification (JSON): {count} problem{'s' if count > 1 else ''}, listed below it"
        )
    return _editor(
        request,
        merchant_id,
        product,
        values,
        errors,
        spec_errors,
        product.customisation,
        status=422,
    )


@router.post("/customisation/{product_id}/delete")
def delete_customisation(
    request: Request,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    form: FormData = Depends(form_data),
    _: Principal = Depends(can_write),
) -> Response:
    raw = forms.text(form, "version", 12, strip=False)
    expected = forms.parse_int(raw, lo=0)
    try:
        with request.app.state.db.transaction() as s:
            customisation.remove_customisation(
                s, merchant_id, product_id, expected_version=expected
            )
    except ProblemError as exc:
        if not is_conflict(exc):
            raise
        product = load_product(request, merchant_id, product_id)
        errors = {
            "_form": "Someone else changed this product since you opened it: check the spec, "
            "then remove it again."
        }
        return _editor(
            request,
            merchant_id,
            product,
            _values(product),
            errors,
            [],
            product.customisation,
            status=409,
        )
    return redirect(
        f"/back-office/{merchant_id}/customisation",
        flash="Customisation removed: the product is plain again.",
    )
