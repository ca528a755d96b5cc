"""HTTP endpoints of the catalog context: storefront reads (cached), the merchant
back-office, and the platform taxonomy."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import StringConstraints

from plaza import idempotency
from plaza.catalog import customisation, service
from plaza.catalog.base import has_nul
from plaza.catalog.cache import cached_response
from plaza.catalog.models import ProductStatus
from plaza.catalog.schemas import (
    CategoryIn,
    CategoryNode,
    CategoryOut,
    CategoryPatch,
    PriceOut,
    PriceSet,
    ProductIn,
    ProductOut,
    ProductPatch,
    SortOrder,
    StorefrontProduct,
    StorefrontProductSummary,
    VariantIn,
    VariantOut,
    VariantPatch,
)
from plaza.catalog.search import ProductQuery, parse_query
from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import VALIDATION, ProblemError
from plaza.etags import if_match, with_etag
from plaza.identity.auth import MerchantAccess, PlatformAdmin, Principal, Public
from plaza.identity.models import MerchantRole
from plaza.money import MAX_AMOUNT, Currency
from plaza.pagination import MAX_PAGE_SIZE, Page, PageParams

router = APIRouter(tags=["catalog"])
can_read = MerchantAccess(MerchantRole.STAFF, "catalog:read")
can_write = MerchantAccess(MerchantRole.STAFF, "catalog:write")

Filter = Annotated[str, StringConstraints(min_length=1, max_length=100)]
OPTION_FILTER = re.compile(r"^([a-z][a-z0-9_]{0,29}):(.{1,50})$")


async def product_filters(
    q: str | None = Query(
        None,
        max_length=200,
        description="Search text (see docs/catalog.md: words, "
        '"phrases", OR, -exclusions; the last word matches as a prefix).',
    ),
    category: str | None = Query(
        None, max_length=64, description="Category id or slug; includes sub-categories."
    ),
    brand: list[Filter] = Query(
        [], max_length=20, description="Brand, case-insensitive; repeat for any of several."
    ),
    tag: list[Filter] = Query([], max_length=20, description="Tag; repeat to require all."),
    option: list[Filter] = Query(
        [],
        max_length=20,
        description="`name:value`, e.g. `size:M`; values of one option are OR-ed, "
        "options AND-ed, all on the same variant.",
    ),
    min_price: int | None = Query(None, ge=0, le=MAX_AMOUNT, description="Minor units."),
    max_price: int | None = Query(None, ge=0, le=MAX_AMOUNT, description="Minor units."),
    currency: Annotated[Currency, Query(description="ISO 4217; prices and price filters.")] = "EUR",
    sort: SortOrder | None = Query(None, description="Default: relevance with `q`, else newest."),
) -> dict[str, Any]:
    """Query parameters shared by the storefront and back-office listings, normalised (so
    equal searches share cache entries). Async dependencies skip the thread-pool hop."""
    # `q` is safe as is (only its letters and digits reach the database); filters are not.
    if has_nul([category, brand, tag, option]):
        raise ProblemError(
            VALIDATION,
            "query parameters cannot contain NUL characters",
            errors=[{"loc": ["query"], "msg": "NUL character"}],
        )
    options: dict[str, set[str]] = {}
    for item in option:
        m = OPTION_FILTER.match(item)
        if m is None:
            raise ProblemError(
                VALIDATION,
                "option filters look like name:value, e.g. size:M",
                errors=[{"loc": ["query", "option"], "msg": "expected name:value"}],
            )
        options.setdefault(m.group(1), set()).add(m.group(2))
    return {
        "text": parse_query(q),
        "category": category,
        "brands": tuple(sorted({b.strip().lower() for b in brand})),
        "tags": tuple(sorted({" ".join(t.split()).lower() for t in tag})),
        "options": tuple(sorted((n, tuple(sorted(v))) for n, v in options.items())),
        "min_price": min_price,
        "max_price": max_price,
        "currency": currency,
        "sort": sort,
    }


async def page_params(
    limit: int = Query(20, ge=1, le=MAX_PAGE_SIZE, description=f"Page size, 1–{MAX_PAGE_SIZE}."),
    cursor: str | None = Query(
        None, max_length=512, description="Opaque cursor from `next_cursor`."
    ),
) -> PageParams:
    """``PageParams`` as an async dependency (same parameters and limits)."""
    return PageParams(limit=limit, cursor=cursor)


async def database(request: Request) -> Database:
    return get_db(request)


# -------------------------------------------------------------------- storefront


@router.get("/products", response_model=Page[StorefrontProductSummary])
async def list_products(
    filters: dict[str, Any] = Depends(product_filters),
    merchant_id: uuid.UUID | None = Query(None, description="Only this merchant's products."),
    page: PageParams = Depends(page_params),
    db: Database = Depends(database),
    _: Principal = Depends(Public()),
) -> Response:
    """Search and browse active products of active merchants, with variants priced in
    `currency`. Cursor-paginated (at most 100 per page); responses are cached in-process
    and invalidated by every catalog write (see docs/catalog.md)."""
    query = ProductQuery(**filters, merchant_id=merchant_id, limit=page.limit, cursor=page.cursor)
    return await cached_response(
        db, ("products", *query.cache_key()), lambda s: service.search_storefront(s, query)
    )


@router.get("/products/{product_id}", response_model=StorefrontProduct)
async def get_storefront_product(
    product_id: uuid.UUID,
    currency: Annotated[Currency, Query(description="ISO 4217 currency of the prices.")] = "EUR",
    db: Database = Depends(database),
    _: Principal = Depends(Public()),
) -> Response:
    """An active product as shoppers see it (404 for drafts, archived or closed shops)."""
    return await cached_response(
        db,
        ("product", product_id, currency),
        lambda s: service.storefront_product(s, product_id, currency),
    )


@router.post("/products/{product_id}/configurations/quote", response_model=customisation.QuoteOut)
def quote_configuration(
    product_id: uuid.UUID,
    body: customisation.QuoteIn,
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> customisation.QuoteOut:
    """Validate and price a configuration of a customisable product's variant: unit price
    (variant price + option deltas) with a per-group breakdown, lead time, made-to-order,
    the canonical form and its digest. Changes nothing. Invalid: 422 `configuration-invalid`
    with `violations`."""
    with db.reading() as s:
        return customisation.quote(s, product_id, body)


@router.get("/categories", response_model=Page[CategoryNode])
async def list_categories(
    shape: str = Query("flat", pattern="^(flat|tree)$", description="`flat` or `tree`."),
    page: PageParams = Depends(page_params),
    db: Database = Depends(database),
    _: Principal = Depends(Public()),
) -> Response:
    """The platform taxonomy in (position, id) order: every category (`flat`), or root
    categories with nested `children` (`tree`, paginated over the roots)."""
    tree = shape == "tree"
    return await cached_response(
        db,
        ("categories", tree, page.limit, page.cursor),
        lambda s: service.list_categories(s, tree=tree, limit=page.limit, cursor=page.cursor),
    )


@router.get("/categories/{category_id}", response_model=CategoryOut)
def get_category(
    category_id: uuid.UUID, db: Database = Depends(get_db), _: Principal = Depends(Public())
) -> CategoryOut:
    """One category."""
    with db.reading() as s:
        return service.category_view(service.get_category(s, category_id))


@router.post("/categories", status_code=201, response_model=CategoryOut)
def create_category(
    body: CategoryIn,
    key: str | None = Depends(idempotency.idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(PlatformAdmin()),
) -> JSONResponse:
    """Add a category to the platform taxonomy (optionally under `parent_id`)."""
    return idempotency.idempotent_write(
        db,
        scope=p.actor,
        key=key,
        fp=idempotency.fingerprint("POST", "/categories", body),
        action=lambda s: service.category_view(service.create_category(s, body)),
    )


@router.patch("/categories/{category_id}", response_model=CategoryOut)
def patch_category(
    category_id: uuid.UUID,
    body: CategoryPatch,
    db: Database = Depends(get_db),
    _: Principal = Depends(PlatformAdmin()),
) -> CategoryOut:
    """Rename, re-slug, move (no cycles) or re-order a category."""
    with db.transaction() as s:
        return service.category_view(service.update_category(s, category_id, body))


# ------------------------------------------------------------------ back-office


_if_match = if_match("product")
_etag = with_etag


@router.get("/merchants/{merchant_id}/products", response_model=Page[ProductOut])
def list_merchant_products(
    merchant_id: uuid.UUID,
    filters: dict[str, Any] = Depends(product_filters),
    status: list[ProductStatus] = Query(
        [], max_length=3, description="Only these statuses (default: all)."
    ),
    page: PageParams = Depends(page_params),
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> Page[ProductOut]:
    """The merchant's products in every status (drafts and archived included), with all
    variants and prices; same search, filters and sorts as the storefront."""
    query = ProductQuery(
        **filters,
        merchant_id=merchant_id,
        statuses=tuple(sorted(set(status))) or tuple(ProductStatus),
        public=False,
        limit=page.limit,
        cursor=page.cursor,
    )
    with db.reading() as s:
        return service.list_merchant_products(s, query)


@router.post("/merchants/{merchant_id}/products", status_code=201, response_model=ProductOut)
def create_product(
    merchant_id: uuid.UUID,
    body: ProductIn,
    key: str | None = Depends(idempotency.idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(can_write),
) -> JSONResponse:
    """Create a product with its variants and their prices in one request."""
    return idempotency.idempotent_write(
        db,
        scope=p.actor,
        key=key,
        fp=idempotency.fingerprint("POST", f"/merchants/{merchant_id}/products", body),
        action=lambda s: service.product_view(s, service.create_product(s, merchant_id, body)),
    )


@router.get("/merchants/{merchant_id}/products/{product_id}", response_model=ProductOut)
def get_merchant_product(
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    response: Response,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> ProductOut:
    """One of the merchant's products in any status; `ETag` carries its version."""
    with db.reading() as s:
        return _etag(
            response, service.product_view(s, service.get_product(s, merchant_id, product_id))
        )


@router.patch("/merchants/{merchant_id}/products/{product_id}", response_model=ProductOut)
def patch_product(
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    body: ProductPatch,
    response: Response,
    expected: int | None = Depends(_if_match),
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> ProductOut:
    """Change product fields; send `expected_version` (or `If-Match`) to refuse the change
    with 409 when someone else changed the product since you read it."""
    with db.transaction() as s:
        product = service.update_product(
            s, merchant_id, product_id, body, expected_version=expected
        )
        return _etag(response, service.product_view(s, product))


@router.delete("/merchants/{merchant_id}/products/{product_id}", response_model=ProductOut)
def archive_product(
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    response: Response,
    expected: int | None = Depends(_if_match),
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> ProductOut:
    """Archive the product (data is kept; PATCH `status` restores it). Idempotent."""
    with db.transaction() as s:
        product = service.archive_product(s, merchant_id, product_id, expected_version=expected)
        return _etag(response, service.product_view(s, product))


@router.put(
    "/merchants/{merchant_id}/products/{product_id}/customisation", response_model=ProductOut
)
def put_customisation(
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    body: customisation.CustomisationSpec,
    response: Response,
    expected: int | None = Depends(_if_match),
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> ProductOut:
    """Make the product customisable, or replace its spec (see docs/customisation.md).
    The spec is checked as a whole (422 `customisation-spec-invalid` names each fault's
    path); `If-Match` makes the change conditional on the product version."""
    with db.transaction() as s:
        product = customisation.set_customisation(
            s, merchant_id, product_id, body, expected_version=expected
        )
        return _etag(response, service.product_view(s, product))


@router.delete(
    "/merchants/{merchant_id}/products/{product_id}/customisation", response_model=ProductOut
)
def delete_customisation(
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    response: Response,
    expected: int | None = Depends(_if_match),
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> ProductOut:
    """Make the product plain again (idempotent). Configured cart lines of it can no longer
    be checked out (`product-not-customisable`); placed orders keep their configuration."""
    with db.transaction() as s:
        product = customisation.remove_customisation(
            s, merchant_id, product_id, expected_version=expected
        )
        return _etag(response, service.product_view(s, product))


@router.post(
    "/merchants/{merchant_id}/products/{product_id}/variants",
    status_code=201,
    response_model=VariantOut,
)
def create_variant(
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    body: VariantIn,
    key: str | None = Depends(idempotency.idempotency_key),
    db: Database = Depends(get_db),
    p: Principal = Depends(can_write),
) -> JSONResponse:
    """Add a variant (with prices) to a product; its options must match the product's."""
    return idempotency.idempotent_write(
        db,
        scope=p.actor,
        key=key,
        fp=idempotency.fingerprint(
            "POST", f"/merchants/{merchant_id}/products/{product_id}/variants", body
        ),
        action=lambda s: service.variant_view(
            s, service.add_variant(s, merchant_id, product_id, body)
        ),
    )


@router.get("/merchants/{merchant_id}/variants/{variant_id}", response_model=VariantOut)
def get_variant(
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_read),
) -> VariantOut:
    """One of the merchant's variants with all its prices."""
    with db.reading() as s:
        return service.variant_view(s, service.get_variant(s, merchant_id, variant_id))


@router.patch("/merchants/{merchant_id}/variants/{variant_id}", response_model=VariantOut)
def patch_variant(
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    body: VariantPatch,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> VariantOut:
    """Change a variant's SKU, GTIN, options, weight, status or position."""
    with db.transaction() as s:
        return service.variant_view(s, service.update_variant(s, merchant_id, variant_id, body))


@router.delete("/merchants/{merchant_id}/variants/{variant_id}", response_model=VariantOut)
def archive_variant(
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> VariantOut:
    """Archive the variant: no longer sellable; its SKU stays reserved. Idempotent."""
    with db.transaction() as s:
        return service.variant_view(s, service.archive_variant(s, merchant_id, variant_id))


CurrencyPath = Annotated[Currency, Path(description="ISO 4217 code, e.g. EUR.")]


@router.put(
    "/merchants/{merchant_id}/variants/{variant_id}/prices/{currency}", response_model=PriceOut
)
def put_price(
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    currency: CurrencyPath,
    body: PriceSet,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> PriceOut:
    """Set the variant's price in a currency (creates or replaces; idempotent)."""
    with db.transaction() as s:
        price = service.set_price(
            s, merchant_id, variant_id, currency, body.amount, body.compare_at_amount
        )
        return PriceOut(
            currency=price.currency,
            amount=price.amount,
            compare_at_amount=price.compare_at_amount,
        )


@router.delete("/merchants/{merchant_id}/variants/{variant_id}/prices/{currency}", status_code=204)
def delete_price(
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    currency: CurrencyPath,
    db: Database = Depends(get_db),
    _: Principal = Depends(can_write),
) -> Response:
    """Stop selling the variant in this currency."""
    with db.transaction() as s:
        service.remove_price(s, merchant_id, variant_id, currency)
    return Response(status_code=204)
