"""HTTP endpoints of recommendations, semantic search and persona-ranked listings.

All are reads over precomputed data (see ``service.py``): no write transaction, no
waiting on training. Sync handlers: the NumPy work runs in the thread pool.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from plaza.catalog.cache import cached_response
from plaza.db import Database
from plaza.deps import get_db
from plaza.errors import VALIDATION, ProblemError
from plaza.identity.auth import Customer, Principal, Public
from plaza.money import Currency
from plaza.pagination import MAX_PAGE_SIZE, Page
from plaza.personas.recommend import search as search_service
from plaza.personas.recommend import service
from plaza.personas.recommend.schemas import (
    ForYou,
    MatchKind,
    PersonaProduct,
    ReasonKind,
    Recommended,
    RelatedProducts,
    SearchHit,
    SearchResults,
    Strategy,
)
from plaza.personas.recommend.search import SearchMode

router = APIRouter(tags=["recommendations"])

MAX_RECOMMENDATIONS = 50
CurrencyQuery = Annotated[Currency, Query(description="ISO 4217 currency of the prices.")]
Limit = Annotated[
    int, Query(ge=1, le=MAX_RECOMMENDATIONS, description=f"How many, 1–{MAX_RECOMMENDATIONS}.")
]


def _no_nul(*values: str | None) -> None:
    if any(v is not None and "\x00" in v for v in values):
        raise ProblemError(
            VALIDATION,
            "query parameters cannot contain NUL characters",
            errors=[{"loc": ["query"], "msg": "NUL character"}],
        )


def _items(s: Session, recs: list[service.Recommendation], currency: str) -> list[Recommended]:
    found = service.summaries(s, [r.product_id for r in recs], currency)
    return [
        Recommended(
            product=found[r.product_id],
            score=r.score,
            reason_kind=ReasonKind(r.reason_kind),
            reason=r.reason,
            reasons=r.reasons,
        )
        for r in recs
        if r.product_id in found
    ]


@router.get("/me/recommendations", response_model=ForYou)
def for_you(
    persona_id: uuid.UUID | None = Query(
        None, description="Filter and rank for this persona of yours (default: your default one)."
    ),
    currency: CurrencyQuery = "EUR",
    limit: Limit = 10,
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> ForYou:
    """Products for the signed-in customer: collaborative filtering (ALS) blended with
    similarity to their recent items and popularity, without what they already bought,
    filtered and re-ranked for the persona. Without `personalisation` consent, or for a new
    customer, popular products (see docs/recommendations.md). Each item says why."""
    assert p.user_id is not None
    with db.reading() as s:
        answer = service.for_you(s, p.user_id, persona_id=persona_id, limit=limit)
        return ForYou(
            items=_items(s, answer.items, currency),
            strategy=Strategy(answer.strategy),
            persona_id=str(answer.persona_id) if answer.persona_id is not None else None,
        )


@router.get("/products/{product_id}/similar", response_model=RelatedProducts)
def similar_products(
    product_id: uuid.UUID,
    currency: CurrencyQuery = "EUR",
    limit: Limit = 10,
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> RelatedProducts:
    """Products like this one: text-embedding similarity blended with collaborative
    (ALS item-item) similarity; a product the model has not seen yet gets text similarity
    alone. 404 for a product the storefront does not show."""
    with db.reading() as s:
        return RelatedProducts(
            items=_items(s, service.similar(s, product_id, limit=limit), currency)
        )


@router.get("/products/{product_id}/bought-together", response_model=RelatedProducts)
def bought_together(
    product_id: uuid.UUID,
    currency: CurrencyQuery = "EUR",
    limit: Limit = 10,
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> RelatedProducts:
    """Products often bought in the same checkout (at least 2 baskets, lift above 1,
    ranked by confidence); without such data, similar products of the same category."""
    with db.reading() as s:
        return RelatedProducts(
            items=_items(s, service.bought_together(s, product_id, limit=limit), currency)
        )


@router.get("/search", response_model=SearchResults)
async def search_products(
    q: str = Query(..., min_length=1, max_length=200, description="What you are looking for."),
    mode: SearchMode = Query(
        SearchMode.HYBRID, description="`hybrid` (default), `keyword` or `semantic`."
    ),
    currency: CurrencyQuery = "EUR",
    merchant_id: uuid.UUID | None = Query(None, description="Only this merchant's products."),
    limit: Annotated[int, Query(ge=1, le=MAX_RECOMMENDATIONS, description="1–50.")] = 20,
    db: Database = Depends(get_db),
    _: Principal = Depends(Public()),
) -> Response:
    """Search by meaning and by words: the catalog's keyword search fused with embedding
    nearest neighbours (reciprocal rank fusion), so "warm jacket for rain" finds
    waterproof coats. Only products you can buy now. Answers are cached in-process like
    catalog listings and invalidated by every catalog or embedding change."""
    _no_nul(q)
    text = " ".join(q.split())

    def build(s: Session) -> SearchResults:
        hits, known = search_service.search(
            s, text, mode=mode, currency=currency, limit=limit, merchant_id=merchant_id
        )
        found = search_service.with_summaries(s, [h.product_id for h in hits], known, currency)
        items = [
            SearchHit(
                product=found[h.product_id],
                score=round(h.score, 8),
                matched=(
                    MatchKind.BOTH
                    if h.keyword_rank and h.semantic_rank
                    else MatchKind.KEYWORD
                    if h.keyword_rank
                    else MatchKind.SEMANTIC
                ),
                keyword_rank=h.keyword_rank,
                semantic_rank=h.semantic_rank,
            )
            for h in hits
            if h.product_id in found
        ]
        return SearchResults(items=items, mode=mode.value)

    key = ("search", text.lower(), mode.value, currency, merchant_id, limit)
    return await cached_response(db, key, build)


@router.get("/me/personas/{persona_id}/products", response_model=Page[PersonaProduct])
def persona_products(
    persona_id: uuid.UUID,
    q: str | None = Query(None, max_length=200, description="Search text (hybrid search)."),
    category: str | None = Query(
        None, max_length=64, description="Category id or slug; includes sub-categories."
    ),
    currency: CurrencyQuery = "EUR",
    limit: int = Query(20, ge=1, le=MAX_PAGE_SIZE, description=f"Page size, 1–{MAX_PAGE_SIZE}."),
    cursor: str | None = Query(
        None, max_length=512, description="Opaque cursor from `next_cursor`."
    ),
    db: Database = Depends(get_db),
    p: Principal = Depends(Customer()),
) -> Page[PersonaProduct]:
    """Products for one of your personas: the listing (or a search with `q`) without what
    the persona excludes (sizes, avoided colours and materials, budget, sustainability) and
    re-ranked by its preferences. Cursor-paginated, at most 100 per page, over the best
    500 candidates."""
    assert p.user_id is not None
    _no_nul(q, category)
    with db.reading() as s:
        items, next_cursor, known = search_service.persona_listing(
            s,
            p.user_id,
            persona_id,
            q=q,
            category=category,
            currency=currency,
            limit=limit,
            cursor=cursor,
        )
        found = search_service.with_summaries(s, [i.product_id for i in items], known, currency)
        return Page[PersonaProduct](
            items=[
                PersonaProduct(
                    product=found[i.product_id], score=round(i.score, 8), matches_persona=i.matches
                )
                for i in items
                if i.product_id in found
            ],
            next_cursor=next_cursor,
        )
