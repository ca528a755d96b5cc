"""Catalog logic: categories, products, variants, prices, storefront reads and search.

Functions take a session first and never commit. Every write locks the product row it
touches (so concurrent writes to one product serialise), bumps the product's ``version``,
re-indexes the product for search and bumps the merchant's catalog version (which
invalidates the public response caches).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Uuid, and_, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from plaza.catalog import customisation, search
from plaza.catalog.cache import mark_dirty
from plaza.catalog.gtin import normalise_gtin
from plaza.catalog.models import (
    CatalogVersion,
    Category,
    Product,
    ProductStatus,
    ProductTag,
    Variant,
    VariantPrice,
    VariantStatus,
)
from plaza.catalog.schemas import (
    CategoryIn,
    CategoryNode,
    CategoryOut,
    CategoryPatch,
    MediaOut,
    OptionOut,
    PriceIn,
    PriceOut,
    PriceRange,
    ProductIn,
    ProductOut,
    ProductPatch,
    StorefrontProduct,
    StorefrontProductSummary,
    StorefrontVariant,
    VariantIn,
    VariantOut,
    VariantPatch,
)
from plaza.db import utcnow
from plaza.errors import (
    INVALID_CURSOR,
    NOT_FOUND,
    VALIDATION,
    ProblemError,
    not_found,
    problem_type,
)
from plaza.events import emit, event_type
from plaza.identity import service as identity
from plaza.money import CURRENCIES
from plaza.pagination import Page, decode_cursor, encode_cursor

# ------------------------------------------------------------------- problem types

HANDLE_TAKEN = problem_type(
    "handle-taken", "Product handle taken", 409, "The merchant already has a product with it."
)
SKU_TAKEN = problem_type(
    "sku-taken", "SKU taken", 409, "SKUs are unique per merchant, archived variants included."
)
GTIN_TAKEN = problem_type(
    "gtin-taken", "GTIN taken", 409, "A GTIN identifies one variant of the merchant."
)
INVALID_GTIN = problem_type(
    "invalid-gtin",
    "Invalid GTIN",
    422,
    "GTINs have 8, 12, 13 or 14 digits and a valid GS1 mod-10 check digit.",
)
INVALID_VARIANT_OPTIONS = problem_type(
    "invalid-variant-options",
    "Variant options do not match the product",
    422,
    "A variant gives exactly one defined value for each of its product's options. "
    "`unknown_options`, `unknown_values` and `missing_options` name the faults.",
)
VARIANT_OPTIONS_TAKEN = problem_type(
    "variant-options-taken",
    "Another variant has these options",
    409,
    "When a product defines options, each of its live variants has a distinct combination "
    "of option values.",
)
OPTION_VALUE_IN_USE = problem_type(
    "option-value-in-use",
    "Option value in use",
    422,
    "An option value cannot be removed while a live variant uses it; archive or change "
    "those variants first (`in_use` lists them).",
)
PRODUCT_VERSION_MISMATCH = problem_type(
    "product-version-mismatch",
    "Product changed since you read it",
    409,
    "The product's `version` differs from `expected_version` (or If-Match); re-read it, "
    "re-apply your change and retry. `current_version` is in the body.",
)
UNKNOWN_CATEGORY = problem_type(
    "unknown-category", "Unknown category", 422, "`category_id` names no category."
)
CATEGORY_SLUG_TAKEN = problem_type(
    "category-slug-taken", "Category slug taken", 409, "Category slugs are platform-wide unique."
)
CATEGORY_CYCLE = problem_type(
    "category-cycle",
    "Category cycle",
    422,
    "A category cannot be its own ancestor.",
)
PRICE_UNAVAILABLE = problem_type(
    "price-unavailable",
    "No price in this currency",
    422,
    "The variant has no price in the requested currency (`variant_ids`, `currency`).",
)

# ------------------------------------------------------------------------- events

PRODUCT_CREATED = event_type("product.created", "A merchant created a product (any status).")
PRODUCT_UPDATED = event_type(
    "product.updated", "A product's fields changed (`fields` lists them; status included)."
)
PRODUCT_ARCHIVED = event_type("product.archived", "A product was archived: it left the storefront.")
VARIANT_CREATED = event_type("variant.created", "A variant was added to a product.")
VARIANT_UPDATED = event_type(
    "variant.updated", "A variant's SKU, GTIN, options, weight, status or position changed."
)
PRICE_CHANGED = event_type(
    "price.changed",
    "A variant's price in one currency was set, changed or removed (`amount` null).",
)
CATEGORY_CREATED = event_type("category.created", "A platform category was created.")
CATEGORY_UPDATED = event_type("category.updated", "A platform category changed.")

PLATFORM = uuid.UUID(int=0)  # catalog_versions row for platform-wide (taxonomy) changes
MAX_CATEGORIES = 10_000


# ---------------------------------------------------------------- shared plumbing


def _dialect(s: Session) -> str:
    return s.get_bind().dialect.name


def bump_catalog_version(s: Session, merchant_id: uuid.UUID | None) -> None:
    """Count a catalog write (same transaction) so every process's cache drops stale pages."""
    insert = pg_insert if _dialect(s) == "postgresql" else sqlite_insert
    stmt = insert(CatalogVersion).values(merchant_id=merchant_id or PLATFORM, version=1)
    s.execute(
        stmt.on_conflict_do_update(
            index_elements=[CatalogVersion.merchant_id],
            set_={"version": CatalogVersion.version + 1},
        )
    )
    mark_dirty(s)


def _integrity_problem(exc: IntegrityError) -> ProblemError:
    """Map a unique violation that slipped past the pre-checks (a concurrent writer)."""
    msg = str(exc.orig).lower()
    if "sku" in msg:
        return ProblemError(SKU_TAKEN)
    if "gtin" in msg:
        return ProblemError(GTIN_TAKEN)
    if "handle" in msg:
        return ProblemError(HANDLE_TAKEN)
    if "slug" in msg:
        return ProblemError(CATEGORY_SLUG_TAKEN)
    raise exc


def _flush(s: Session) -> None:
    try:
        s.flush()
    except IntegrityError as exc:
        raise _integrity_problem(exc) from exc
    except StaleDataError as exc:  # another writer bumped the version first
        raise ProblemError(PRODUCT_VERSION_MISMATCH) from exc


def _slugify(value: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")[:90].strip("-")
    return slug or "product"


def _free_handle(s: Session, merchant_id: uuid.UUID, base: str) -> str:
    taken = set(
        s.scalars(
            select(Product.handle).where(
                Product.merchant_id == merchant_id, Product.handle.startswith(base)
            )
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _gtin(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    try:
        return normalise_gtin(value)
    except ValueError as exc:
        raise ProblemError(INVALID_GTIN, str(exc), gtin=value) from exc


def _check_currency(currency: str) -> str:
    if currency not in CURRENCIES:
        raise ProblemError(
            VALIDATION,
            f"unknown ISO 4217 currency {currency[:10]!r}",
            errors=[{"loc": ["currency"], "msg": "unknown ISO 4217 currency", "type": "value"}],
        )
    return currency


def check_variant_options(
    definition: list[dict[str, Any]], values: dict[str, str], sku: str | None = None
) -> None:
    """A variant names every option of its product once, with a defined value."""
    allowed = {o["name"]: set(o["values"]) for o in definition}
    unknown_options = sorted(set(values) - set(allowed))
    missing = [name for name in allowed if name not in values]
    unknown_values = {n: v for n, v in values.items() if n in allowed and v not in allowed[n]}
    if not (unknown_options or missing or unknown_values):
        return
    faults = []
    if unknown_options:
        faults.append("unknown options " + ", ".join(repr(n) for n in unknown_options))
    for name, value in unknown_values.items():
        faults.append(f"{value!r} is not a value of option {name!r}")
    if missing:
        faults.append("missing options " + ", ".join(repr(n) for n in missing))
    raise ProblemError(
        INVALID_VARIANT_OPTIONS,
        ("variant " + sku + ": " if sku else "") + "; ".join(faults),
        sku=sku,
        unknown_options=unknown_options,
        unknown_values=unknown_values,
        missing_options=missing,
    )


def _combo(values: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(values.items()))


def _check_category(s: Session, category_id: uuid.UUID | None) -> None:
    if category_id is not None and s.get(Category, category_id) is None:
        raise ProblemError(UNKNOWN_CATEGORY, category_id=str(category_id))


def _sku_free(s: Session, merchant_id: uuid.UUID, sku: str, own: uuid.UUID | None = None) -> None:
    q = select(Variant.id).where(Variant.merchant_id == merchant_id, Variant.sku == sku)
    found = s.scalar(q)
    if found is not None and found != own:
        raise ProblemError(SKU_TAKEN, f"SKU {sku!r} is taken", sku=sku)


def _gtin_free(
    s: Session, merchant_id: uuid.UUID, gtin: str | None, own: uuid.UUID | None = None
) -> None:
    if gtin is None:
        return
    found = s.scalar(
        select(Variant.id).where(Variant.merchant_id == merchant_id, Variant.gtin == gtin)
    )
    if found is not None and found != own:
        raise ProblemError(GTIN_TAKEN, f"GTIN {gtin} is taken", gtin=gtin)


def _lock_product(s: Session, merchant_id: uuid.UUID, product_id: uuid.UUID) -> Product:
    """The merchant's product, row-locked for the rest of the transaction (404 otherwise)."""
    product = s.scalar(
        select(Product)
        .where(Product.id == product_id, Product.merchant_id == merchant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if product is None:
        raise not_found("product", product_id)
    return product


def _check_version(product: Product, expected: int | None) -> None:
    if expected is not None and expected != product.version:
        raise ProblemError(
            PRODUCT_VERSION_MISMATCH,
            f"expected version {expected}, the product is at {product.version}",
            current_version=product.version,
        )


def _live_variants(s: Session, product_id: uuid.UUID) -> list[Variant]:
    return list(
        s.scalars(
            select(Variant)
            .where(Variant.product_id == product_id, Variant.status == VariantStatus.ACTIVE)
            .order_by(Variant.position, Variant.id)
        )
    )


def _set_tags(s: Session, product: Product, tags: list[str]) -> None:
    unique_tags = list(dict.fromkeys(tags))
    if product.tags != unique_tags:
        product.tags = unique_tags
    s.execute(delete(ProductTag).where(ProductTag.product_id == product.id))
    s.add_all(
        ProductTag(product_id=product.id, tag=t, merchant_id=product.merchant_id)
        for t in unique_tags
    )


_FTS_DELETE = text(
    "DELETE FROM product_search WHERE rowid = "
    "(SELECT rowid FROM product_search_keys WHERE product_id = :pid)"
).bindparams(bindparam("pid", type_=Uuid()))
_FTS_KEY = text("INSERT OR IGNORE INTO product_search_keys (product_id) VALUES (:pid)").bindparams(
    bindparam("pid", type_=Uuid())
)
_FTS_INSERT = text(
    "INSERT INTO product_search (rowid, title, brand, tags, skus, description) VALUES ("
    "(SELECT rowid FROM product_search_keys WHERE product_id = :pid), "
    ":title, :brand, :tags, :skus, :description)"
).bindparams(bindparam("pid", type_=Uuid()))


def _codes_text(codes: Iterable[tuple[str, str | None]]) -> str:
    """SKUs and GTINs as searchable text (a SKU also split into its parts, so PostgreSQL's
    parser, which keeps e.g. ``ab.12`` whole, still finds ``ab`` and ``12``)."""
    out: list[str] = []
    for sku, gtin in codes:
        out.append(sku)
        split = " ".join(search.WORD.findall(sku))
        if split.lower() != sku.lower():
            out.append(split)
        if gtin:
            out += [gtin, gtin.lstrip("0")]
    return " ".join(out)


def _search_terms(tags: list[str], skus: str) -> str:
    return f"{' '.join(tags)} {skus}".strip()


def reindex(s: Session, product: Product) -> None:
    """Refresh the product's search document: ``search_terms`` (PostgreSQL's generated
    ``search_vector`` follows it) and, on SQLite, its FTS5 row."""
    skus = _codes_text(
        (sku, gtin)
        for sku, gtin in s.execute(
            select(Variant.sku, Variant.gtin)
            .where(Variant.product_id == product.id, Variant.status == VariantStatus.ACTIVE)
            .order_by(Variant.position, Variant.id)
        )
    )
    tags = " ".join(product.tags)
    terms = _search_terms(product.tags, skus)
    if product.search_terms != terms:
        product.search_terms = terms
    _flush(s)
    if _dialect(s) == "sqlite":
        s.execute(_FTS_DELETE, {"pid": product.id})
        s.execute(_FTS_KEY, {"pid": product.id})
        s.execute(
            _FTS_INSERT,
            {
                "pid": product.id,
                "title": product.title,
                "brand": product.brand,
                "tags": tags,
                "skus": skus,
                "description": product.description,
            },
        )


def _touch(s: Session, product: Product) -> None:
    """Mark the product changed (once per write): bumps ``version`` and ``updated_at``,
    re-indexes it and invalidates cached storefront pages."""
    product.version += 1
    product.updated_at = utcnow()
    reindex(s, product)
    bump_catalog_version(s, product.merchant_id)


def _event(
    s: Session,
    type_: str,
    *,
    aggregate: str,
    ident: uuid.UUID,
    merchant_id: uuid.UUID,
    **payload: Any,
) -> None:
    emit(
        s,
        type_,
        aggregate_type=aggregate,
        aggregate_id=ident,
        merchant_id=merchant_id,
        payload={"merchant_id": str(merchant_id), **payload},
    )


# ----------------------------------------------------------------------- products


def _add_prices(s: Session, variant: Variant, prices: Iterable[PriceIn]) -> None:
    for p in prices:
        s.add(
            VariantPrice(
                variant_id=variant.id,
                merchant_id=variant.merchant_id,
                currency=p.currency,
                amount=p.amount,
                compare_at_amount=p.compare_at_amount,
            )
        )


def _variant_created_events(s: Session, variant: Variant, prices: Iterable[PriceIn]) -> None:
    _event(
        s,
        VARIANT_CREATED,
        aggregate="variant",
        ident=variant.id,
        merchant_id=variant.merchant_id,
        variant_id=str(variant.id),
        product_id=str(variant.product_id),
        sku=variant.sku,
    )
    for p in prices:
        _price_event(s, variant, p.currency, p.amount, None, p.compare_at_amount)


def create_product(s: Session, merchant_id: uuid.UUID, data: ProductIn) -> Product:
    """Create a product with its variants and prices in one unit of work."""
    identity.get_merchant(s, merchant_id)
    _check_category(s, data.category_id)
    options = [o.model_dump() for o in data.options]
    handle = data.handle or _free_handle(s, merchant_id, _slugify(data.title))
    if data.handle and s.scalar(
        select(Product.id).where(Product.merchant_id == merchant_id, Product.handle == handle)
    ):
        raise ProblemError(HANDLE_TAKEN, f"handle {handle!r} is taken", handle=handle)
    skus = [v.sku for v in data.variants]
    dup_skus = sorted({x for x in skus if skus.count(x) > 1})
    if dup_skus:
        raise ProblemError(SKU_TAKEN, "SKUs repeat in the request", skus=dup_skus)
    gtins = [_gtin(v.gtin) for v in data.variants]
    present = [g for g in gtins if g]
    if len(set(present)) != len(present):
        raise ProblemError(GTIN_TAKEN, "GTINs repeat in the request")
    combos: set[tuple[tuple[str, Any], ...]] = set()
    for v in data.variants:
        check_variant_options(options, v.options, v.sku)
        if options and v.status == VariantStatus.ACTIVE:
            if _combo(v.options) in combos:
                raise ProblemError(
                    VARIANT_OPTIONS_TAKEN,
                    f"variant {v.sku}: another variant has options {v.options}",
                    sku=v.sku,
                )
            combos.add(_combo(v.options))
    if skus:  # one query each for the whole request, not one per variant
        taken = sorted(
            s.scalars(
                select(Variant.sku).where(Variant.merchant_id == merchant_id, Variant.sku.in_(skus))
            )
        )
        if taken:
            raise ProblemError(SKU_TAKEN, f"SKU {taken[0]!r} is taken", skus=taken)
    if present:
        used = sorted(
            g
            for g in s.scalars(
                select(Variant.gtin).where(
                    Variant.merchant_id == merchant_id, Variant.gtin.in_(present)
                )
            )
            if g is not None
        )
        if used:
            raise ProblemError(GTIN_TAKEN, f"GTIN {used[0]} is taken", gtin=used[0])

    tags = list(dict.fromkeys(data.tags))
    live = [
        (v.sku, g)
        for v, g in zip(data.variants, gtins, strict=True)
        if v.status == VariantStatus.ACTIVE
    ]
    product = Product(
        merchant_id=merchant_id,
        handle=handle,
        title=data.title,
        description=data.description,
        brand=data.brand,
        status=data.status,
        category_id=data.category_id,
        tags=tags,
        media=[m.model_dump() for m in data.media],
        options=options,
        search_terms=_search_terms(tags, _codes_text(live)),
    )
    s.add(product)
    _flush(s)
    _set_tags(s, product, data.tags)
    variants = []
    for i, (v, g) in enumerate(zip(data.variants, gtins, strict=True)):
        variant = Variant(
            product_id=product.id,
            merchant_id=merchant_id,
            sku=v.sku,
            gtin=g,
            option_values=dict(v.options),
            weight_grams=v.weight_grams,
            status=v.status,
            position=v.position if v.position is not None else i,
        )
        s.add(variant)
        variants.append((variant, v))
    _flush(s)
    for variant, v in variants:
        _add_prices(s, variant, v.prices)
    _flush(s)
    reindex(s, product)
    bump_catalog_version(s, merchant_id)
    _event(
        s,
        PRODUCT_CREATED,
        aggregate="product",
        ident=product.id,
        merchant_id=merchant_id,
        product_id=str(product.id),
        handle=product.handle,
        status=product.status.value,
        variant_ids=[str(variant.id) for variant, _ in variants],
    )
    for variant, v in variants:
        _variant_created_events(s, variant, v.prices)
    return product


def get_product(s: Session, merchant_id: uuid.UUID, product_id: uuid.UUID) -> Product:
    """The merchant's product in any status; 404 for another merchant's."""
    product = s.scalar(
        select(Product).where(Product.id == product_id, Product.merchant_id == merchant_id)
    )
    if product is None:
        raise not_found("product", product_id)
    return product


def _apply_options(
    s: Session, product: Product, new: list[dict[str, Any]]
) -> list[tuple[Variant, dict[str, Any]]]:
    """Carry live variants over to a new option definition; returns the changed ones."""
    old_names = [o["name"] for o in product.options]
    new_names = [o["name"] for o in new]
    added = {o["name"]: o["values"][0] for o in new if o["name"] not in old_names}
    allowed = {o["name"]: set(o["values"]) for o in new}
    changed: list[tuple[Variant, dict[str, Any]]] = []
    in_use: list[dict[str, str]] = []
    combos: dict[tuple[tuple[str, Any], ...], str] = {}
    for variant in _live_variants(s, product.id):
        values = {n: v for n, v in variant.option_values.items() if n in new_names}
        for name, first in added.items():
            values.setdefault(name, first)
        for name, value in values.items():
            if value not in allowed[name]:
                in_use.append({"sku": variant.sku, "option": name, "value": value})
        key = _combo(values)
        if new and key in combos:
            raise ProblemError(
                VARIANT_OPTIONS_TAKEN,
                f"variants {combos[key]} and {variant.sku} would have the same options",
                skus=[combos[key], variant.sku],
            )
        combos[key] = variant.sku
        if values != variant.option_values:
            changed.append((variant, values))
    if in_use:
        raise ProblemError(
            OPTION_VALUE_IN_USE,
            "; ".join(f"{u['sku']} uses {u['option']}={u['value']!r}" for u in in_use),
            in_use=in_use,
        )
    return changed


def update_product(
    s: Session,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    patch: ProductPatch,
    *,
    expected_version: int | None = None,
) -> Product:
    """Apply the fields set in ``patch``; ``expected_version`` (or ``patch.expected_version``)
    makes it conditional on the version the client last read."""
    product = _lock_product(s, merchant_id, product_id)
    _check_version(product, patch.expected_version)
    _check_version(product, expected_version)
    changes = patch.model_dump(exclude_unset=True, exclude={"expected_version"})
    fields: list[str] = []
    new_handle = changes.get("handle", product.handle)
    if new_handle != product.handle and s.scalar(
        select(Product.id).where(Product.merchant_id == merchant_id, Product.handle == new_handle)
    ):
        raise ProblemError(HANDLE_TAKEN, f"handle {new_handle!r} is taken", handle=new_handle)
    if "category_id" in changes:
        _check_category(s, changes["category_id"])
    variant_changes: list[tuple[Variant, dict[str, Any]]] = []
    if "options" in changes:
        variant_changes = _apply_options(s, product, changes["options"])
    for name, value in changes.items():
        if name == "tags":
            if value != product.tags:
                _set_tags(s, product, value)
                fields.append(name)
            continue
        current = getattr(product, name)
        if value != current:
            setattr(product, name, value)
            fields.append(name)
    for variant, values in variant_changes:
        variant.option_values = values
    if not fields:
        return product
    _touch(s, product)
    if fields != ["status"] or product.status != ProductStatus.ARCHIVED:
        _event(
            s,
            PRODUCT_UPDATED,
            aggregate="product",
            ident=product.id,
            merchant_id=merchant_id,
            product_id=str(product.id),
            fields=sorted(fields),
            status=product.status.value,
            version=product.version,
        )
    if "status" in fields and product.status == ProductStatus.ARCHIVED:
        _archived_event(s, product)
    for variant, _ in variant_changes:
        _event(
            s,
            VARIANT_UPDATED,
            aggregate="variant",
            ident=variant.id,
            merchant_id=merchant_id,
            variant_id=str(variant.id),
            product_id=str(product.id),
            fields=["options"],
        )
    return product


def _archived_event(s: Session, product: Product) -> None:
    _event(
        s,
        PRODUCT_ARCHIVED,
        aggregate="product",
        ident=product.id,
        merchant_id=product.merchant_id,
        product_id=str(product.id),
        version=product.version,
    )


def archive_product(
    s: Session,
    merchant_id: uuid.UUID,
    product_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> Product:
    """Archive (the DELETE of the API): the product leaves the storefront, data is kept."""
    product = _lock_product(s, merchant_id, product_id)
    _check_version(product, expected_version)
    if product.status == ProductStatus.ARCHIVED:
        return product
    product.status = ProductStatus.ARCHIVED
    _touch(s, product)
    _archived_event(s, product)
    return product


# ----------------------------------------------------------------------- variants


def _lock_variant(
    s: Session, merchant_id: uuid.UUID, variant_id: uuid.UUID
) -> tuple[Variant, Product]:
    """The merchant's variant and its product, the product row locked first (so every
    write to one product, variants and prices included, serialises on one lock)."""
    product_id = s.scalar(
        select(Variant.product_id).where(
            Variant.id == variant_id, Variant.merchant_id == merchant_id
        )
    )
    if product_id is None:
        raise not_found("variant", variant_id)
    product = _lock_product(s, merchant_id, product_id)
    variant = s.scalar(
        select(Variant).where(Variant.id == variant_id).execution_options(populate_existing=True)
    )
    assert variant is not None  # the product lock keeps it (variants are never deleted)
    return variant, product


def get_variant(s: Session, merchant_id: uuid.UUID, variant_id: uuid.UUID) -> Variant:
    variant = s.scalar(
        select(Variant).where(Variant.id == variant_id, Variant.merchant_id == merchant_id)
    )
    if variant is None:
        raise not_found("variant", variant_id)
    return variant


def _combo_free(
    s: Session, product_id: uuid.UUID, values: dict[str, Any], own: uuid.UUID | None, sku: str
) -> None:
    key = _combo(values)
    for other in _live_variants(s, product_id):
        if other.id != own and _combo(other.option_values) == key:
            raise ProblemError(
                VARIANT_OPTIONS_TAKEN,
                f"variant {other.sku} already has options {values}",
                sku=sku,
                other_sku=other.sku,
            )


def add_variant(
    s: Session, merchant_id: uuid.UUID, product_id: uuid.UUID, data: VariantIn
) -> Variant:
    product = _lock_product(s, merchant_id, product_id)
    check_variant_options(product.options, data.options, data.sku)
    gtin = _gtin(data.gtin)
    _sku_free(s, merchant_id, data.sku)
    _gtin_free(s, merchant_id, gtin)
    if product.options and data.status == VariantStatus.ACTIVE:
        _combo_free(s, product.id, data.options, None, data.sku)
    position = data.position
    if position is None:
        last = s.scalar(
            select(Variant.position)
            .where(Variant.product_id == product.id)
            .order_by(Variant.position.desc())
            .limit(1)
        )
        position = 0 if last is None else last + 1
    variant = Variant(
        product_id=product.id,
        merchant_id=merchant_id,
        sku=data.sku,
        gtin=gtin,
        option_values=dict(data.options),
        weight_grams=data.weight_grams,
        status=data.status,
        position=position,
    )
    s.add(variant)
    _flush(s)
    _add_prices(s, variant, data.prices)
    _touch(s, product)
    _variant_created_events(s, variant, data.prices)
    return variant


def update_variant(
    s: Session, merchant_id: uuid.UUID, variant_id: uuid.UUID, patch: VariantPatch
) -> Variant:
    variant, product = _lock_variant(s, merchant_id, variant_id)
    changes = patch.model_dump(exclude_unset=True)
    if "gtin" in changes:
        changes["gtin"] = _gtin(changes["gtin"])
    if "options" in changes:
        changes["option_values"] = changes.pop("options")
    fields = [k for k, v in changes.items() if getattr(variant, k) != v]
    if not fields:
        return variant
    values = changes.get("option_values", variant.option_values)
    status = changes.get("status", variant.status)
    if status == VariantStatus.ACTIVE:
        check_variant_options(product.options, values, changes.get("sku", variant.sku))
        if product.options:
            _combo_free(s, product.id, values, variant.id, changes.get("sku", variant.sku))
    if "sku" in fields:
        _sku_free(s, merchant_id, changes["sku"], variant.id)
    if "gtin" in fields:
        _gtin_free(s, merchant_id, changes["gtin"], variant.id)
    for name in fields:
        setattr(variant, name, changes[name])
    _flush(s)
    _touch(s, product)
    _event(
        s,
        VARIANT_UPDATED,
        aggregate="variant",
        ident=variant.id,
        merchant_id=merchant_id,
        variant_id=str(variant.id),
        product_id=str(product.id),
        fields=sorted("options" if f == "option_values" else f for f in fields),
        status=variant.status.value,
    )
    return variant


def archive_variant(s: Session, merchant_id: uuid.UUID, variant_id: uuid.UUID) -> Variant:
    """Archive (the DELETE of the API): no longer sellable; its SKU stays reserved."""
    return update_variant(s, merchant_id, variant_id, VariantPatch(status=VariantStatus.ARCHIVED))


def _price_event(
    s: Session,
    variant: Variant,
    currency: str,
    amount: int | None,
    previous: int | None,
    compare_at: int | None,
) -> None:
    _event(
        s,
        PRICE_CHANGED,
        aggregate="variant",
        ident=variant.id,
        merchant_id=variant.merchant_id,
        variant_id=str(variant.id),
        product_id=str(variant.product_id),
        currency=currency,
        amount=amount,
        previous_amount=previous,
        compare_at_amount=compare_at,
    )


def set_price(
    s: Session,
    merchant_id: uuid.UUID,
    variant_id: uuid.UUID,
    currency: str,
    amount: int,
    compare_at_amount: int | None = None,
) -> VariantPrice:
    """Create or replace the variant's price in ``currency`` (one price per currency)."""
    _check_currency(currency)
    variant, product = _lock_variant(s, merchant_id, variant_id)
    price = s.scalar(
        select(VariantPrice).where(
            VariantPrice.variant_id == variant.id, VariantPrice.currency == currency
        )
    )
    previous = price.amount if price is not None else None
    if price is None:
        price = VariantPrice(
            variant_id=variant.id,
            merchant_id=merchant_id,
            currency=currency,
            amount=amount,
            compare_at_amount=compare_at_amount,
        )
        s.add(price)
    elif price.amount == amount and price.compare_at_amount == compare_at_amount:
        return price
    else:
        price.amount = amount
        price.compare_at_amount = compare_at_amount
    _flush(s)
    _touch(s, product)
    _price_event(s, variant, currency, amount, previous, compare_at_amount)
    return price


def remove_price(s: Session, merchant_id: uuid.UUID, variant_id: uuid.UUID, currency: str) -> None:
    _check_currency(currency)
    variant, product = _lock_variant(s, merchant_id, variant_id)
    price = s.scalar(
        select(VariantPrice).where(
            VariantPrice.variant_id == variant.id, VariantPrice.currency == currency
        )
    )
    if price is None:
        raise not_found("price", f"{variant_id}/{currency}")
    previous = price.amount
    s.delete(price)
    _flush(s)
    _touch(s, product)
    _price_event(s, variant, currency, None, previous, None)


# ----------------------------------------------------------------- read models


def _prices_by_variant(s: Session, variant_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[PriceOut]]:
    out: dict[uuid.UUID, list[PriceOut]] = defaultdict(list)
    if not variant_ids:
        return out
    for vid, cur, amount, compare in s.execute(
        select(
            VariantPrice.variant_id,
            VariantPrice.currency,
            VariantPrice.amount,
            VariantPrice.compare_at_amount,
        )
        .where(VariantPrice.variant_id.in_(variant_ids))
        .order_by(VariantPrice.variant_id, VariantPrice.currency)
    ):
        out[vid].append(PriceOut(currency=cur, amount=amount, compare_at_amount=compare))
    return out


def _variants_out(s: Session, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[VariantOut]]:
    """Every variant of the products with all prices: two queries for a whole page."""
    out: dict[uuid.UUID, list[VariantOut]] = defaultdict(list)
    if not product_ids:
        return out
    variants = list(
        s.scalars(
            select(Variant)
            .where(Variant.product_id.in_(product_ids))
            .order_by(Variant.product_id, Variant.position, Variant.id)
        )
    )
    prices = _prices_by_variant(s, [v.id for v in variants])
    for v in variants:
        out[v.product_id].append(variant_out(v, prices.get(v.id, [])))
    return out


def variant_out(v: Variant, prices: list[PriceOut]) -> VariantOut:
    return VariantOut(
        id=v.id,
        product_id=v.product_id,
        merchant_id=v.merchant_id,
        sku=v.sku,
        gtin=v.gtin,
        options=v.option_values,
        weight_grams=v.weight_grams,
        status=v.status,
        position=v.position,
        prices=prices,
        created_at=v.created_at,
        updated_at=v.updated_at,
    )


def variant_view(s: Session, variant: Variant) -> VariantOut:
    return variant_out(variant, _prices_by_variant(s, [variant.id]).get(variant.id, []))


def _product_out(p: Product, variants: list[VariantOut]) -> ProductOut:
    return ProductOut(
        id=p.id,
        merchant_id=p.merchant_id,
        handle=p.handle,
        title=p.title,
        description=p.description,
        brand=p.brand,
        status=p.status,
        category_id=p.category_id,
        tags=p.tags,
        media=[MediaOut(**m) for m in p.media],
        options=[OptionOut(**o) for o in p.options],
        version=p.version,
        variants=variants,
        customisation=customisation.load_spec(p.customisation),
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def product_view(s: Session, product: Product) -> ProductOut:
    """The back-office representation of one product."""
    _flush(s)
    return _product_out(product, _variants_out(s, [product.id]).get(product.id, []))


def list_merchant_products(s: Session, query: search.ProductQuery) -> Page[ProductOut]:
    """The merchant's products in any status (``query.public`` False, merchant set)."""
    assert query.merchant_id is not None and not query.public
    ids_stmt, nkeys = search.build_listing(s, query, [Product.__table__.c.id])
    rows = list(s.execute(ids_stmt))
    ids = [r[0] for r in rows[: query.limit]]
    products = {p.id: p for p in s.scalars(select(Product).where(Product.id.in_(ids)))}
    variants = _variants_out(s, ids)
    items = [_product_out(products[i], variants.get(i, [])) for i in ids]
    return Page(items=items, next_cursor=search.next_cursor(query, rows, nkeys))


_P = Product.__table__
_V = Variant.__table__
_VP = VariantPrice.__table__
_SUMMARY_COLUMNS = [
    _P.c.id,
    _P.c.merchant_id,
    _P.c.handle,
    _P.c.title,
    _P.c.brand,
    _P.c.category_id,
    _P.c.tags,
    _P.c.media,
    _P.c.options,
    _P.c.created_at,
]


def _storefront_variants(
    s: Session, product_ids: list[uuid.UUID], currency: str
) -> dict[uuid.UUID, list[StorefrontVariant]]:
    """Live variants of the products, each with its price in ``currency``: one query."""
    out: dict[uuid.UUID, list[StorefrontVariant]] = defaultdict(list)
    if not product_ids:
        return out
    rows = s.execute(
        select(
            _V.c.product_id,
            _V.c.id,
            _V.c.sku,
            _V.c.gtin,
            _V.c.option_values,
            _V.c.weight_grams,
            _VP.c.amount,
            _VP.c.compare_at_amount,
        )
        .select_from(
            _V.outerjoin(_VP, and_(_VP.c.variant_id == _V.c.id, _VP.c.currency == currency))
        )
        .where(_V.c.product_id.in_(product_ids), _V.c.status == VariantStatus.ACTIVE)
        .order_by(_V.c.product_id, _V.c.position, _V.c.id)
    )
    for pid, vid, sku, gtin, options, weight, amount, compare in rows:
        price = (
            None
            if amount is None
            else PriceOut(currency=currency, amount=amount, compare_at_amount=compare)
        )
        out[pid].append(
            StorefrontVariant(
                id=vid, sku=sku, gtin=gtin, options=options, weight_grams=weight, price=price
            )
        )
    return out


def _price_range(variants: list[StorefrontVariant], currency: str) -> PriceRange | None:
    prices = [v.price for v in variants if v.price is not None]
    if not prices:
        return None
    compare = [p.compare_at_amount for p in prices if p.compare_at_amount is not None]
    return PriceRange(
        currency=currency,
        min_amount=min(p.amount for p in prices),
        max_amount=max(p.amount for p in prices),
        compare_at_max=max(compare) if compare else None,
    )


def _summary_fields(row: Any, variants: list[StorefrontVariant], currency: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "merchant_id": row.merchant_id,
        "handle": row.handle,
        "title": row.title,
        "brand": row.brand,
        "category_id": row.category_id,
        "tags": row.tags,
        "media": [MediaOut(**m) for m in row.media],
        "options": [OptionOut(**o) for o in row.options],
        "price": _price_range(variants, currency),
        "variants": variants,
        "created_at": row.created_at,
    }


def search_storefront(s: Session, query: search.ProductQuery) -> Page[StorefrontProductSummary]:
    """Public listing/search: two queries per page (products, then variants with prices)."""
    stmt, nkeys = search.build_listing(s, query, _SUMMARY_COLUMNS)
    rows = list(s.execute(stmt))
    page = rows[: query.limit]
    variants = _storefront_variants(s, [r.id for r in page], query.currency)
    items = [
        StorefrontProductSummary(**_summary_fields(r, variants.get(r.id, []), query.currency))
        for r in page
    ]
    return Page(items=items, next_cursor=search.next_cursor(query, rows, nkeys))


def storefront_product(s: Session, product_id: uuid.UUID, currency: str) -> StorefrontProduct:
    """An active product of an active merchant, as shoppers see it; 404 otherwise."""
    _check_currency(currency)
    row = s.execute(
        select(*_SUMMARY_COLUMNS, _P.c.description, _P.c.customisation).where(
            _P.c.id == product_id,
            _P.c.status == ProductStatus.ACTIVE,
            _P.c.merchant_id.in_(search.active_merchant_ids()),
        )
    ).first()
    if row is None:
        raise not_found("product", product_id)
    variants = _storefront_variants(s, [row.id], currency).get(row.id, [])
    return StorefrontProduct(
        **_summary_fields(row, variants, currency),
        description=row.description,
        customisation=customisation.load_spec(row.customisation),
    )


# --------------------------------------------------------------------- categories


def get_category(s: Session, category_id: uuid.UUID) -> Category:
    category = s.get(Category, category_id)
    if category is None:
        raise not_found("category", category_id)
    return category


def create_category(s: Session, data: CategoryIn) -> Category:
    if s.scalar(select(Category.id).where(Category.slug == data.slug)) is not None:
        raise ProblemError(CATEGORY_SLUG_TAKEN, slug=data.slug)
    if data.parent_id is not None:
        _parent(s, data.parent_id)
    count = s.scalar(select(Category.id).order_by(Category.id).offset(MAX_CATEGORIES).limit(1))
    if count is not None:
        raise ProblemError(VALIDATION, f"the taxonomy is limited to {MAX_CATEGORIES} categories")
    category = Category(**data.model_dump())
    s.add(category)
    _flush(s)
    bump_catalog_version(s, None)
    emit(
        s,
        CATEGORY_CREATED,
        aggregate_type="category",
        aggregate_id=category.id,
        payload={"category_id": str(category.id), "slug": category.slug},
    )
    return category


def _parent(s: Session, parent_id: uuid.UUID) -> Category:
    parent = s.get(Category, parent_id)
    if parent is None:
        raise ProblemError(
            UNKNOWN_CATEGORY, "the parent category does not exist", category_id=str(parent_id)
        )
    return parent


def update_category(s: Session, category_id: uuid.UUID, patch: CategoryPatch) -> Category:
    category = get_category(s, category_id)
    changes = patch.model_dump(exclude_unset=True)
    slug = changes.get("slug", category.slug)
    if slug != category.slug and s.scalar(select(Category.id).where(Category.slug == slug)):
        raise ProblemError(CATEGORY_SLUG_TAKEN, slug=slug)
    if changes.get("parent_id") is not None:
        # Walk up from the new parent: meeting this category means a cycle.
        node: uuid.UUID | None = changes["parent_id"]
        seen = 0
        while node is not None and seen <= MAX_CATEGORIES:
            if node == category.id:
                raise ProblemError(CATEGORY_CYCLE, "the new parent is this category or below it")
            node = _parent(s, node).parent_id
            seen += 1
    fields = [k for k, v in changes.items() if getattr(category, k) != v]
    for name in fields:
        setattr(category, name, changes[name])
    if fields:
        _flush(s)
        bump_catalog_version(s, None)
        emit(
            s,
            CATEGORY_UPDATED,
            aggregate_type="category",
            aggregate_id=category.id,
            payload={"category_id": str(category.id), "fields": sorted(fields)},
        )
    return category


def list_categories(
    s: Session, *, tree: bool, limit: int, cursor: str | None
) -> Page[CategoryNode]:
    """Flat: every category; tree: root categories with their nested sub-categories. Both
    ordered by (position, id) and keyset-paginated over the top-level items."""
    listing = "categories:tree" if tree else "categories:flat"
    rows = [
        CategoryNode(id=i, slug=sl, name=n, parent_id=pa, position=po)
        for i, sl, n, pa, po in s.execute(
            select(
                Category.id, Category.slug, Category.name, Category.parent_id, Category.position
            ).order_by(Category.position, Category.id)
        )
    ]
    top = rows
    if tree:
        by_id = {c.id: c for c in rows}
        top = []
        for c in rows:  # rows are in (position, id) order, so children stay ordered
            parent = by_id.get(c.parent_id) if c.parent_id else None
            (parent.children if parent is not None else top).append(c)
    if cursor:
        raw = decode_cursor(listing, cursor)
        try:
            after = (int(raw[0]), uuid.UUID(str(raw[1])))
        except (ValueError, TypeError, IndexError) as exc:
            raise ProblemError(INVALID_CURSOR) from exc
        top = [c for c in top if (c.position, c.id) > after]
    page = top[:limit]
    nxt = (
        encode_cursor(listing, [page[-1].position, str(page[-1].id)]) if len(top) > limit else None
    )
    return Page(items=page, next_cursor=nxt)


def category_view(category: Category) -> CategoryOut:
    return CategoryOut.model_validate(category)


# ------------------------------------------------------- for other contexts


@dataclass(frozen=True)
class SellableVariant:
    variant_id: uuid.UUID
    product_id: uuid.UUID
    merchant_id: uuid.UUID
    sku: str
    gtin: str | None
    title: str  # "Product title — M / Blue"
    unit_amount: int
    currency: str


def get_sellable_variants(
    s: Session, variant_ids: Iterable[uuid.UUID], currency: str
) -> dict[uuid.UUID, SellableVariant]:
    """Active variants of active products of active merchants, priced in `currency`.
    Raises ProblemError 404 (not-found / resource variant) for unknown or unsellable ids and a
    422 `price-unavailable` problem when a variant has no price in that currency."""
    ids = list(dict.fromkeys(variant_ids))
    if not ids:
        return {}
    _check_currency(currency)
    rows = s.execute(
        select(
            _V.c.id,
            _V.c.product_id,
            _V.c.merchant_id,
            _V.c.sku,
            _V.c.gtin,
            _V.c.option_values,
            _P.c.title,
            _P.c.options,
            _VP.c.amount,
        )
        .select_from(
            _V.join(_P, _P.c.id == _V.c.product_id).outerjoin(
                _VP, and_(_VP.c.variant_id == _V.c.id, _VP.c.currency == currency)
            )
        )
        .where(
            _V.c.id.in_(ids),
            _V.c.status == VariantStatus.ACTIVE,
            _P.c.status == ProductStatus.ACTIVE,
            _P.c.merchant_id.in_(search.active_merchant_ids()),
        )
    ).all()
    found = {r.id: r for r in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ProblemError(
            NOT_FOUND,
            f"variant {missing[0]} not found or not for sale",
            resource="variant",
            variant_ids=[str(i) for i in missing],
        )
    unpriced = [i for i in ids if found[i].amount is None]
    if unpriced:
        raise ProblemError(
            PRICE_UNAVAILABLE,
            f"variant {unpriced[0]} has no price in {currency}",
            variant_ids=[str(i) for i in unpriced],
            currency=currency,
        )
    out = {}
    for i in ids:
        r = found[i]
        names = [o["name"] for o in r.options]
        label = " / ".join(str(r.option_values[n]) for n in names if n in r.option_values)
        out[i] = SellableVariant(
            variant_id=r.id,
            product_id=r.product_id,
            merchant_id=r.merchant_id,
            sku=r.sku,
            gtin=r.gtin,
            title=f"{r.title} — {label}" if label else r.title,
            unit_amount=r.amount,
            currency=currency,
        )
    return out


def variant_merchant(s: Session, variant_id: uuid.UUID) -> uuid.UUID | None:
    """The merchant owning a variant (any status), or None if there is no such variant."""
    return s.scalar(select(Variant.merchant_id).where(Variant.id == variant_id))


def product_merchant(s: Session, product_id: uuid.UUID) -> uuid.UUID | None:
    return s.scalar(select(Product.merchant_id).where(Product.id == product_id))
