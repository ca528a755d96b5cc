"""Browsing the storefront: the category tree, a category's products, and search
(keyword, semantic or hybrid, with the catalog's filters, and for a signed-in customer
ranked for one of their personas). Also the product cards every storefront listing shows.

The pages call the services the JSON API calls: ``catalog.service.search_storefront`` and
``list_categories`` (``GET /products``, ``GET /categories``), the recommendations'
``search`` (``GET /search``) and ``persona_listing`` (``GET /me/personas/{id}/products``).
Hybrid and semantic answers are one ranked list (at most 50, as ``/search``); listings and
keyword searches are cursor-paginated ("More")."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from plaza.catalog import service as catalog
from plaza.catalog.schemas import CategoryNode, SortOrder, StorefrontProductSummary
from plaza.catalog.search import ProductQuery, parse_query
from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import VALIDATION, ProblemError, not_found
from plaza.identity import service as identity
from plaza.identity.auth import Principal, Public
from plaza.money import CURRENCIES, MAX_AMOUNT, format_amount
from plaza.pagination import MAX_PAGE_SIZE
from plaza.personas.customer import service as personas
from plaza.personas.recommend import search as search_service
from plaza.personas.recommend.search import LISTING_CAP, SearchMode
from plaza.web.forms import parse_amount
from plaza.web.render import image_origin, is_htmx, page

router = APIRouter(prefix="/shop")

DEFAULT_CURRENCY = "EUR"  # what GET /products and GET /search default to
PAGE_SIZE = 20
SEARCH_LIMIT = 50  # GET /search's maximum: hybrid and semantic answers are one list
SORTS: list[tuple[str, str]] = [
    ("", "Best match"),
    (SortOrder.NEWEST.value, "Newest"),
    (SortOrder.PRICE_ASC.value, "Price: low to high"),
    (SortOrder.PRICE_DESC.value, "Price: high to low"),
    (SortOrder.TITLE.value, "Name"),
]
MODES: list[tuple[str, str]] = [
    (SearchMode.HYBRID.value, "Words and meaning"),
    (SearchMode.KEYWORD.value, "Exact words"),
    (SearchMode.SEMANTIC.value, "Meaning"),
]
MATCHED = {
    "both": "Matches your words and their meaning",
    "keyword": "Matches your words",
    "semantic": "Close in meaning",
}


# --------------------------------------------------------------------------- cards


def image_src(request: Request, url: str | None) -> str | None:
    """A product image the page may show: the pages' CSP loads images from this site and
    ``PLAZA_IMAGE_ORIGINS`` only, so media hosted elsewhere get the neutral placeholder
    instead of a broken image."""
    if not url:
        return None
    settings = request.app.state.settings
    own = {urlsplit(str(request.base_url)).netloc}
    if settings.public_url:
        own.add(urlsplit(settings.public_url).netloc)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    allowed = parts.netloc in own or image_origin(url) in {
        image_origin(o) for o in settings.image_origins
    }
    return url if allowed else None


def merchant_names(s: Session, merchant_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Shop names for cards (identity's public merchant read; closed shops are left out)."""
    names: dict[uuid.UUID, str] = {}
    for merchant_id in set(merchant_ids):
        try:
            names[merchant_id] = identity.get_merchant(s, merchant_id).name
        except ProblemError:
            continue
    return names


def price_text(item: StorefrontProductSummary) -> str:
    if item.price is None:
        return ""
    low = format_amount(item.price.min_amount, item.price.currency)
    if item.price.min_amount == item.price.max_amount:
        return low
    return f"{low} – {format_amount(item.price.max_amount, item.price.currency)}"


def cards(
    s: Session,
    request: Request,
    items: Sequence[StorefrontProductSummary],
    notes: Mapping[uuid.UUID, str] | None = None,
) -> list[dict[str, Any]]:
    """What a product card shows: title (the link's name), price range, shop, one image."""
    names = merchant_names(s, (i.merchant_id for i in items))
    out = []
    for item in items:
        media = next((m for m in item.media if m.kind == "image"), None)
        out.append(
            {
                "id": str(item.id),
                "href": f"/shop/products/{item.id}",
                "title": item.title,
                "brand": item.brand,
                "price": price_text(item),
                "on_sale": bool(item.price and item.price.compare_at_max),
                "merchant": names.get(item.merchant_id, ""),
                "image": image_src(request, media.url if media else None),
                "note": (notes or {}).get(item.id, ""),
            }
        )
    return out


# ---------------------------------------------------------------------- parameters


def currency_of(value: str | None) -> str:
    code = (value or DEFAULT_CURRENCY).strip().upper()
    if code not in CURRENCIES:
        raise ProblemError(
            VALIDATION,
            "the currency is not an ISO 4217 code",
            errors=[{"loc": ["query", "currency"], "msg": "unknown currency"}],
        )
    return code


def sort_of(value: str | None) -> SortOrder | None:
    try:
        return SortOrder(value) if value else None
    except ValueError:
        return None


def parse_price(value: str | None, currency: str) -> int | None:
    """A price typed in major units ("12.50") as minor units; ValueError when it is not."""
    return parse_amount(value, currency)


def parse_uuid(value: str | None) -> uuid.UUID | None:
    if value is None or not value.strip():
        return None
    return uuid.UUID(value.strip())


def more_url(path: str, params: Mapping[str, Any], cursor: str | None) -> str | None:
    if not cursor:
        return None
    kept = {k: v for k, v in params.items() if v not in (None, "") and k != "cursor"}
    return f"{path}?{urlencode({**kept, 'cursor': cursor}, doseq=True)}"


# ---------------------------------------------------------------------- categories


def all_categories(s: Session) -> list[CategoryNode]:
    """The taxonomy, flat, in (position, id) order (every page of ``GET /categories``)."""
    out: list[CategoryNode] = []
    cursor: str | None = None
    while True:
        found = catalog.list_categories(s, tree=False, limit=MAX_PAGE_SIZE, cursor=cursor)
        out.extend(found.items)
        cursor = found.next_cursor
        if cursor is None:
            return out


def category_options(categories: Sequence[CategoryNode]) -> list[tuple[str, str]]:
    """(id, name indented by depth) pairs for a category select."""
    children: dict[uuid.UUID | None, list[CategoryNode]] = {}
    for c in categories:
        children.setdefault(c.parent_id, []).append(c)
    known = {c.id for c in categories}
    out: list[tuple[str, str]] = []

    def walk(parent: uuid.UUID | None, depth: int) -> None:
        for c in children.get(parent, []):
            out.append((str(c.id), "\u2014 " * depth + c.name))
            walk(c.id, depth + 1)

    walk(None, 0)
    for c in categories:  # orphans (a parent outside the listing) still show
        if c.parent_id is not None and c.parent_id not in known:
            out.append((str(c.id), c.name))
    return out


@router.get("/categories")
def categories(
    request: Request,
    cursor: str | None = Query(None, max_length=512),
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> Response:
    """The category tree: root categories (paginated) with their sub-categories."""
    with db.reading() as s:
        tree = catalog.list_categories(s, tree=True, limit=MAX_PAGE_SIZE, cursor=cursor)
    return page(
        request,
        "shop/categories.html",
        {"tree": tree.items, "more": more_url("/shop/categories", {}, tree.next_cursor)},
    )


@router.get("/categories/{category_id}")
def category(
    request: Request,
    category_id: uuid.UUID,
    sort: str | None = Query(None, max_length=20),
    currency: str | None = Query(None, max_length=3),
    cursor: str | None = Query(None, max_length=512),
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> Response:
    """A category: its path, sub-categories and products (with every sub-category's)."""
    code = currency_of(currency)
    order = sort_of(sort)
    with db.reading() as s:
        current = catalog.category_view(catalog.get_category(s, category_id))
        everything = all_categories(s)
        by_id = {c.id: c for c in everything}
        trail: list[CategoryNode] = []
        parent = current.parent_id
        while parent is not None and parent in by_id and len(trail) < 20:
            trail.insert(0, by_id[parent])
            parent = by_id[parent].parent_id
        subs = [c for c in everything if c.parent_id == category_id]
        found = catalog.search_storefront(
            s,
            ProductQuery(
                category=str(category_id),
                currency=code,
                sort=order,
                limit=PAGE_SIZE,
                cursor=cursor,
            ),
        )
        product_cards = cards(s, request, found.items)
    params = {"sort": order.value if order else None, "currency": currency}
    return page(
        request,
        "shop/categories_detail.html",
        {
            "category": current,
            "trail": trail,
            "subcategories": subs,
            "products": product_cards,
            "sorts": SORTS[1:],
            "sort": order.value if order else "",
            "more": more_url(f"/shop/categories/{category_id}", params, found.next_cursor),
        },
    )


# -------------------------------------------------------------------------- search


def _allowed(s: Session, query: ProductQuery) -> set[uuid.UUID]:
    """Products the catalog's filters let through (up to the persona listing's cap), for
    filters the semantic side cannot apply itself (price, like ``persona_listing``)."""
    ids: set[uuid.UUID] = set()
    cursor: str | None = None
    while len(ids) < LISTING_CAP:
        found = catalog.search_storefront(
            s,
            ProductQuery(
                merchant_id=query.merchant_id,
                category=query.category,
                min_price=query.min_price,
                max_price=query.max_price,
                currency=query.currency,
                limit=MAX_PAGE_SIZE,
                cursor=cursor,
            ),
        )
        ids.update(item.id for item in found.items)
        cursor = found.next_cursor
        if cursor is None:
            break
    return ids


def _reorder(
    items: list[StorefrontProductSummary], order: SortOrder | None
) -> list[StorefrontProductSummary]:
    """Ranked answers re-ordered by the sort a shopper picked (relevance keeps the rank)."""
    if order in (None, SortOrder.RELEVANCE):
        return items

    def low(i: StorefrontProductSummary) -> int:
        return i.price.min_amount if i.price else MAX_AMOUNT + 1

    if order == SortOrder.TITLE:
        return sorted(items, key=lambda i: (i.title.lower(), str(i.id)))
    if order == SortOrder.PRICE_ASC:
        return sorted(items, key=lambda i: (low(i), str(i.id)))
    if order == SortOrder.PRICE_DESC:
        return sorted(items, key=lambda i: (-(i.price.min_amount if i.price else -1), str(i.id)))
    return sorted(items, key=lambda i: i.created_at, reverse=True)


@router.get("/search")
def search(
    request: Request,
    q: str | None = Query(None, max_length=200),
    mode: str | None = Query(None, max_length=20),
    category: str | None = Query(None, max_length=64),
    merchant: str | None = Query(None, max_length=64),
    min_price: str | None = Query(None, max_length=24),
    max_price: str | None = Query(None, max_length=24),
    sort: str | None = Query(None, max_length=20),
    persona: str | None = Query(None, max_length=64),
    currency: str | None = Query(None, max_length=3),
    cursor: str | None = Query(None, max_length=512),
    db: Database = Depends(get_db),
    p: Principal = Depends(Public()),
) -> Response:
    """Search and browse: words and meaning (hybrid, the default), exact words (the
    catalog's keyword search, paginated) or meaning alone; filters by category, shop and
    price; a signed-in customer may rank the products for one of their personas."""
    if any("\x00" in (v or "") for v in (q, category, merchant, persona, cursor)):
        raise ProblemError(VALIDATION, "query parameters cannot contain NUL characters")
    code = currency_of(currency)
    text = " ".join((q or "").split())
    errors: dict[str, str] = {}
    try:
        search_mode = SearchMode(mode) if mode else SearchMode.HYBRID
    except ValueError:
        errors["mode"] = "Choose how to search: words and meaning, exact words or meaning."
        search_mode = SearchMode.HYBRID
    prices: dict[str, int | None] = {}
    for name, raw in (("min_price", min_price), ("max_price", max_price)):
        try:
            prices[name] = parse_price(raw, code)
        except ValueError as exc:
            label = "Lowest price" if name == "min_price" else "Highest price"
            errors[name] = f"{label}: {exc}."
            prices[name] = None
    low, high = prices["min_price"], prices["max_price"]
    if low is not None and high is not None and low > high:
        errors["max_price"] = "Highest price: must not be below the lowest price."
    try:
        merchant_id = parse_uuid(merchant)
    except ValueError:
        errors["merchant"] = "Shop: choose a shop from the list."
        merchant_id = None
    try:
        persona_id = parse_uuid(persona)
    except ValueError:
        raise not_found("persona", persona) from None
    order = sort_of(sort)
    signed_in = p.kind == "user" and p.user_id is not None
    if persona_id is not None and not signed_in:
        raise not_found("persona", persona_id)  # nobody else's personas, ever
    category_id = category.strip() if category and category.strip() else None

    results: list[dict[str, Any]] = []
    next_cursor: str | None = None
    chosen_persona = None
    with db.reading() as s:
        everything = all_categories(s)
        shops = identity.list_merchants(s, limit=MAX_PAGE_SIZE)
        my_personas = personas.list_personas(s, p.user_id) if signed_in and p.user_id else []
        if persona_id is not None and p.user_id is not None:
            chosen_persona = personas.get_persona(s, p.user_id, persona_id)  # 404: not yours
        if not errors:
            notes: dict[uuid.UUID, str] = {}
            items: list[StorefrontProductSummary]
            if chosen_persona is not None and p.user_id is not None:
                found_items, next_cursor, known = search_service.persona_listing(
                    s,
                    p.user_id,
                    chosen_persona.id,
                    q=text or None,
                    category=category_id,
                    currency=code,
                    limit=PAGE_SIZE,
                    cursor=cursor,
                )
                found = search_service.with_summaries(
                    s, [i.product_id for i in found_items], known, code
                )
                items = [found[i.product_id] for i in found_items if i.product_id in found]
                notes = {
                    i.product_id: f"Matches {chosen_persona.name}" for i in found_items if i.matches
                }
            elif text and search_mode != SearchMode.KEYWORD:
                allowed = (
                    _allowed(s, ProductQuery(min_price=low, max_price=high, currency=code))
                    if low is not None or high is not None
                    else None
                )
                hits, known = search_service.search(
                    s,
                    text,
                    mode=search_mode,
                    currency=code,
                    limit=SEARCH_LIMIT,
                    merchant_id=merchant_id,
                    category=category_id,
                    allowed=allowed,
                )
                found = search_service.with_summaries(s, [h.product_id for h in hits], known, code)
                items = _reorder(
                    [found[h.product_id] for h in hits if h.product_id in found], order
                )
                notes = {
                    h.product_id: MATCHED[
                        "both"
                        if h.keyword_rank and h.semantic_rank
                        else "keyword"
                        if h.keyword_rank
                        else "semantic"
                    ]
                    for h in hits
                }
            else:
                listing = catalog.search_storefront(
                    s,
                    ProductQuery(
                        text=parse_query(text),
                        merchant_id=merchant_id,
                        category=category_id,
                        min_price=low,
                        max_price=high,
                        currency=code,
                        sort=order,
                        limit=PAGE_SIZE,
                        cursor=cursor,
                    ),
                )
                items, next_cursor = listing.items, listing.next_cursor
            results = cards(s, request, items, notes)
    values = {
        "q": text,
        "mode": search_mode.value,
        "category": category_id or "",
        "merchant": str(merchant_id) if merchant_id else (merchant or ""),
        "min_price": min_price or "",
        "max_price": max_price or "",
        "sort": order.value if order else "",
        "persona": str(persona_id) if persona_id else "",
        "currency": currency or "",
    }
    context = {
        "values": values,
        "errors": errors,
        "results": results,
        "searched": bool(text),
        "currency": code,
        "modes": MODES,
        "sorts": SORTS,
        "categories": category_options(everything),
        "shops": [(str(m.id), m.name) for m in shops],
        "personas": [(str(x.id), x.name) for x in my_personas],
        "persona": chosen_persona,
        "paged": chosen_persona is not None or not text or search_mode == SearchMode.KEYWORD,
        "more": more_url("/shop/search", values, next_cursor),
    }
    status = 422 if errors else 200
    fragment = is_htmx(request) and request.headers.get("hx-target") == "search-results"
    name = "shop/_search_results.html" if fragment else "shop/search.html"
    return page(request, name, context, status=status)
