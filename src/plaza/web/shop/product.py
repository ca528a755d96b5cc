"""The product page: images, description, variant choice, price in the shop's currency,
availability online and stock in the stores, the customiser of a customisable product
(live price through the quote service), similar items and items bought together, and the
add-to-cart form (posted to ``/shop/cart/add``).

Services, as the JSON API uses them: ``catalog.service.storefront_product`` (``GET
/products/{id}``), ``customisation.quote`` (``POST …/configurations/quote``),
``inventory.service.variant_availability`` (``GET /variants/{id}/availability``), the O2O
find-in-store ``variant_stores`` (``GET /variants/{id}/stores``, with coordinates),
``recommend.similar`` / ``bought_together`` and ``personas.activity.track`` (``POST
/me/activity``: a signed-in customer's view, recorded only with personalisation
consent)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from plaza.catalog import customisation
from plaza.catalog import service as catalog
from plaza.catalog.customisation import (
    CONFIGURATION_INVALID,
    ConfigurationIn,
    CustomisationSpec,
    GroupKind,
    QuoteIn,
    QuoteOut,
)
from plaza.catalog.schemas import StorefrontProduct, StorefrontVariant
from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import ProblemError, not_found
from plaza.identity import service as identity
from plaza.identity.auth import Principal, Public
from plaza.inventory import service as inventory
from plaza.money import format_amount
from plaza.o2o.stores import service as stores
from plaza.ordering.schemas import MAX_LINE_QUANTITY
from plaza.personas import activity
from plaza.personas.models import ActivityKind
from plaza.personas.recommend import service as recommend
from plaza.web.render import is_htmx, page, redirect
from plaza.web.shop.catalog import cards, currency_of, image_src

router = APIRouter(prefix="/shop")

OPTION_PREFIX = "opt."  # the add-to-cart form's customisation fields (see the contracts)
RELATED = 8
STORE_RADIUS_KM = 25.0
STORES_SHOWN = 10
VIEW_WINDOW = 3600  # one recorded view per customer, product and hour (reloads repeat it)
VIEW_NAMESPACE = uuid.UUID("5b0f0d6e-3c43-4d35-9a55-8f1d2a0c6b71")


# -------------------------------------------------------------------------- helpers


def variant_label(product: StorefrontProduct, variant: StorefrontVariant) -> str:
    names = [o.name for o in product.options]
    label = " / ".join(str(variant.options[n]) for n in names if n in variant.options)
    return label or variant.sku


def variant_field_label(product: StorefrontProduct) -> str:
    """'Size / colour': the product's option names, or that when it has none."""
    names = [o.name.replace("_", " ") for o in product.options]
    text = " / ".join(names) if names else "size / colour"
    return text[:1].upper() + text[1:]


def selections_of(
    spec: CustomisationSpec | None, items: Iterable[tuple[str, str]]
) -> dict[str, str | list[str]]:
    """``opt.<group>`` fields as the configuration's selections: lists for multi-choice
    groups, single values otherwise (what the cart's add does); empty fields left out."""
    kinds = {g.code: g.kind for g in spec.groups} if spec else {}
    raw: dict[str, list[str]] = {}
    for key, value in items:
        if key.startswith(OPTION_PREFIX):
            raw.setdefault(key[len(OPTION_PREFIX) :][:64], []).append(value[:200])
    out: dict[str, str | list[str]] = {}
    for code, values in list(raw.items())[:20]:
        filled = [v for v in values if v.strip()]
        if kinds.get(code) == GroupKind.MULTI:
            if filled:
                out[code] = filled[:50]
        elif len(filled) == 1:
            out[code] = filled[0]
        elif filled:
            out[code] = filled[:50]  # the quote says: choose one
    return out


def _quote(
    s: Session,
    product_id: uuid.UUID,
    variant_id: uuid.UUID,
    currency: str,
    selections: dict[str, str | list[str]],
) -> tuple[QuoteOut | None, dict[str, str], str | None]:
    """The configuration's quote, or its violations per group, or a general problem."""
    try:
        body = QuoteIn(
            variant_id=variant_id,
            currency=currency,
            configuration=ConfigurationIn(selections=selections),
        )
    except ValidationError:
        return None, {}, "The options chosen are not valid."
    try:
        return customisation.quote(s, product_id, body), {}, None
    except ProblemError as exc:
        if exc.status >= 500:
            raise
        if exc.kind is CONFIGURATION_INVALID:
            errors: dict[str, str] = {}
            for v in exc.extensions.get("violations", []):
                group = str(v.get("group", ""))
                errors[group] = (errors[group] + " " if group in errors else "") + str(
                    v.get("message", "")
                )
            return None, errors, None
        return None, {}, exc.detail


def _related(
    s: Session, request: Request, recs: list[recommend.Recommendation], currency: str
) -> list[dict[str, Any]]:
    found = recommend.summaries(s, [r.product_id for r in recs], currency)
    return cards(s, request, [found[r.product_id] for r in recs if r.product_id in found])


def _stock(
    s: Session, variant_id: uuid.UUID, lat: float | None, lon: float | None
) -> dict[str, Any]:
    """Online availability and the stores holding the variant: nearest first with
    coordinates (find in store), else by name."""
    counts = inventory.variant_availability(s, variant_id)
    exact = stores.QUANTITY_EXACT_UP_TO
    rows: list[dict[str, Any]] = []
    if lat is not None and lon is not None:
        near = stores.variant_stores(
            s, variant_id, lat=lat, lon=lon, radius_km=STORE_RADIUS_KM, limit=STORES_SHOWN
        )
        for item in near.items:
            rows.append(
                {
                    "name": item.store.name,
                    "city": item.store.city,
                    "distance": item.store.distance_km,
                    "open_now": item.store.open_now,
                    "quantity": item.quantity,
                }
            )
    else:
        held = sorted(
            (st for st in counts.stores if st.available > 0),
            key=lambda st: (st.location.name.lower(), str(st.location.id)),
        )
        for st in held[:STORES_SHOWN]:
            rows.append(
                {
                    "name": st.location.name,
                    "city": st.location.city,
                    "distance": None,
                    "open_now": None,
                    "quantity": st.available if st.available <= exact else None,
                }
            )
    return {
        "online": counts.online,
        "online_quantity": counts.online if 0 < counts.online <= exact else None,
        "stores": rows,
        "near": lat is not None and lon is not None,
    }


def _chosen(product: StorefrontProduct, wanted: str | None) -> StorefrontVariant | None:
    for v in product.variants:
        if wanted and str(v.id) == wanted.strip():
            return v
    return product.variants[0] if product.variants else None


def _load(
    s: Session, product_id: uuid.UUID, currency: str | None
) -> tuple[Any, StorefrontProduct, str]:
    """The shop, the product as shoppers see it and the currency of its prices: the
    shop's own unless asked (404 for drafts, archived products and closed shops)."""
    merchant_id = catalog.product_merchant(s, product_id)
    if merchant_id is None:
        raise not_found("product", product_id)
    merchant = identity.get_merchant(s, merchant_id)
    code = currency_of(currency) if currency else merchant.default_currency
    return merchant, catalog.storefront_product(s, product_id, code), code


def _view(db: Database, p: Principal, product_id: uuid.UUID) -> None:
    """Record a signed-in customer's view as ``POST /me/activity`` does (nothing without
    personalisation consent: ``track`` answers ``no-consent``)."""
    if p.kind != "user" or p.user_id is None:
        return
    now = int(dt.datetime.now(dt.UTC).timestamp()) // VIEW_WINDOW
    event_id = uuid.uuid5(VIEW_NAMESPACE, f"{product_id}:{now}")
    try:
        with db.transaction() as s:
            activity.track(s, p.user_id, ActivityKind.VIEW, product_id, event_id)
    except ProblemError:
        return  # tracking never stands in the way of the page


def _price_context(
    product: StorefrontProduct,
    variant: StorefrontVariant | None,
    quote: QuoteOut | None,
    errors: dict[str, str],
    problem: str | None,
) -> dict[str, Any]:
    price = variant.price if variant is not None else None
    return {
        "unit": format_amount(quote.unit_amount, quote.currency)
        if quote
        else (format_amount(price.amount, price.currency) if price else ""),
        "was": format_amount(price.compare_at_amount, price.currency)
        if price and price.compare_at_amount and not quote
        else "",
        "quote": quote,
        "group_errors": errors,
        "problem": problem,
        "groups": [g.code for g in product.customisation.groups] if product.customisation else [],
    }


# ---------------------------------------------------------------------------- pages


@router.get("/products/{product_id}")
def product_page(
    request: Request,
    product_id: uuid.UUID,
    variant: str | None = Query(None, max_length=64),
    currency: str | None = Query(None, max_length=3),
    lat: float | None = Query(None, ge=-90, le=90, allow_inf_nan=False),
    lon: float | None = Query(None, ge=-180, le=180, allow_inf_nan=False),
    db: Database = Depends(get_db),
    p: Principal = Depends(Public()),
) -> Response:
    """One product for shoppers; ``?variant=`` preselects a variant (Digital Links land
    here), ``opt.<group>`` fields prefill (and price) the customiser."""
    with db.reading() as s:
        merchant, product, code = _load(s, product_id, currency)
        chosen = _chosen(product, variant)
        selections = selections_of(product.customisation, request.query_params.multi_items())
        quote: QuoteOut | None = None
        errors: dict[str, str] = {}
        problem: str | None = None
        if product.customisation is not None and selections and chosen is not None:
            quote, errors, problem = _quote(s, product_id, chosen.id, code, selections)
        stock = _stock(s, chosen.id, lat, lon) if chosen is not None else None
        similar: list[dict[str, Any]] = []
        together: list[dict[str, Any]] = []
        try:
            similar = _related(s, request, recommend.similar(s, product_id, limit=RELATED), code)
            together = _related(
                s, request, recommend.bought_together(s, product_id, limit=RELATED), code
            )
        except ProblemError:
            pass
    _view(db, p, product_id)
    images = [
        {"src": src, "alt": m.alt or product.title}
        for m in product.media
        if m.kind == "image" and (src := image_src(request, m.url))
    ]
    context = {
        "product": product,
        "merchant": {"id": merchant.id, "name": merchant.name},
        "variants": [
            {
                "id": str(v.id),
                "label": variant_label(product, v),
                "price": format_amount(v.price.amount, v.price.currency) if v.price else "",
            }
            for v in product.variants
        ],
        "chosen": str(chosen.id) if chosen else "",
        "variant_label": variant_field_label(product),
        "selections": selections,
        "images": images,
        "stock": stock,
        "similar": similar,
        "together": together,
        "max_quantity": MAX_LINE_QUANTITY,
        "currency": code,
        **_price_context(product, chosen, quote, errors, problem),
    }
    return page(request, "shop/product.html", context, status=422 if errors or problem else 200)


@router.get("/products/{product_id}/price")
def product_price(
    request: Request,
    product_id: uuid.UUID,
    variant_id: str | None = Query(None, max_length=64),
    currency: str | None = Query(None, max_length=3),
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> Response:
    """The live price of the chosen variant and options (htmx), with the stock of that
    variant and the customiser's errors next to their groups (out-of-band swaps). Without
    htmx: the product page with the same choices."""
    if not is_htmx(request):
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "variant_id"]
        if variant_id:
            params.insert(0, ("variant", variant_id))
        return redirect(f"/shop/products/{product_id}?{urlencode(params)}")
    with db.reading() as s:
        _, product, code = _load(s, product_id, currency)
        chosen = _chosen(product, variant_id)
        selections = selections_of(product.customisation, request.query_params.multi_items())
        quote: QuoteOut | None = None
        errors: dict[str, str] = {}
        problem: str | None = None
        if product.customisation is not None and selections and chosen is not None:
            quote, errors, problem = _quote(s, product_id, chosen.id, code, selections)
        stock = _stock(s, chosen.id, None, None) if chosen is not None else None
    context = {
        "product": product,
        "stock": stock,
        "oob": True,
        "currency": code,
    }
    context.update(_price_context(product, chosen, quote, errors, problem))
    return page(request, "shop/_product_price.html", context, status=422 if errors else 200)
