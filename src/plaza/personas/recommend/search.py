"""Semantic and hybrid product search, and listings ranked for a customer persona.

**Hybrid search** fuses two ranked lists by reciprocal rank fusion (RRF, ``k = 60``:
``score = Σ 1 / (60 + rank)``), which needs no score calibration between them:

* keyword: the catalog's own storefront search (``catalog.service.search_storefront``,
  bm25 on SQLite, ``ts_rank`` on PostgreSQL), first with every word required (what
  ``GET /products?q=`` does), then, to widen recall for natural sentences ("warm jacket for
  rain" has no product with all four words), with any word matching, ranked below;
* semantic: cosine nearest neighbours of the query's MiniLM embedding (the NumPy encoder,
  a few milliseconds per query) among the stored product embeddings.

``keyword`` and ``semantic`` modes return one list alone. Only sellable products are
returned (active, open shop, a live variant).
"""

from __future__ import annotations

import enum
import hashlib
import math
import uuid
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from sqlalchemy.orm import Session

from plaza.catalog import service as catalog
from plaza.catalog.features import sellable_product_ids
from plaza.catalog.schemas import StorefrontProductSummary
from plaza.catalog.search import ProductQuery, TextQuery, parse_query
from plaza.errors import INVALID_CURSOR, ProblemError
from plaza.pagination import MAX_PAGE_SIZE, decode_cursor, encode_cursor
from plaza.personas.recommend.embeddings import embedding_index
from plaza.personas.recommend.encoder import FloatArray
from plaza.personas.recommend.service import minmax, popularity, summaries

RRF_K = 60
KEYWORD_CANDIDATES = 100  # one storefront page (its maximum)
SEMANTIC_CANDIDATES = 100
LISTING_CAP = 500  # candidates a persona listing ranks (pages of 100 from the catalog)


class SearchMode(enum.StrEnum):
    HYBRID = "hybrid"
    KEYWORD = "keyword"
    SEMANTIC = "semantic"


@dataclass
class Hit:
    product_id: uuid.UUID
    score: float
    keyword_rank: int | None = None  # 1-based
    semantic_rank: int | None = None


def _any_word(text: TextQuery) -> TextQuery:
    """The same words, any of them (one OR group), exclusions kept."""
    atoms = tuple(a for group in text.groups for a in group)
    return TextQuery((atoms,), text.excluded)


def keyword_ids(
    s: Session,
    q: str,
    currency: str,
    *,
    merchant_id: uuid.UUID | None = None,
    category: str | None = None,
    widen: bool = True,
) -> tuple[list[uuid.UUID], dict[uuid.UUID, StorefrontProductSummary]]:
    """Keyword matches best first (all words, then any word when ``widen``) and their
    summaries as the storefront shows them."""
    text = parse_query(q)
    if text is None:
        return [], {}
    found: dict[uuid.UUID, StorefrontProductSummary] = {}
    queries = [text]
    if widen and (len(text.groups) > 1):
        queries.append(_any_word(text))
    for t in queries:
        page = catalog.search_storefront(
            s,
            ProductQuery(
                text=t,
                merchant_id=merchant_id,
                category=category,
                currency=currency,
                limit=KEYWORD_CANDIDATES,
            ),
        )
        for item in page.items:
            found.setdefault(item.id, item)
        if len(found) >= KEYWORD_CANDIDATES:
            break
    return list(found), found


@lru_cache(maxsize=2048)
def query_vector(q: str) -> FloatArray:
    """A query's embedding, remembered: shoppers repeat the same few thousand queries, and
    encoding one costs milliseconds of CPU (the embedding depends on the text alone)."""
    from plaza.personas.recommend.encoder import encode

    vector = encode([q])[0]
    vector.setflags(write=False)
    return vector


def semantic_ids(
    s: Session,
    q: str,
    *,
    merchant_id: uuid.UUID | None = None,
    allowed: set[uuid.UUID] | None = None,
) -> list[tuple[uuid.UUID, float]]:
    """Nearest products to the query's embedding, best first, with their cosine."""
    index = embedding_index(s)
    if not index.ids or not q.strip():
        return []
    sims = index.similarities(query_vector(" ".join(q.lower().split())))
    order = np.argsort(-sims, kind="stable")
    out: list[tuple[uuid.UUID, float]] = []
    for i in order:
        pid = index.ids[int(i)]
        if merchant_id is not None and index.merchants[int(i)] != merchant_id:
            continue
        if allowed is not None and pid not in allowed:
            continue
        out.append((pid, float(sims[int(i)])))
        if len(out) >= SEMANTIC_CANDIDATES:
            break
    return out


def search(
    s: Session,
    q: str,
    *,
    mode: SearchMode = SearchMode.HYBRID,
    currency: str = "EUR",
    limit: int = 20,
    merchant_id: uuid.UUID | None = None,
    category: str | None = None,
    allowed: set[uuid.UUID] | None = None,
) -> tuple[list[Hit], dict[uuid.UUID, StorefrontProductSummary]]:
    """Ranked hits (at most ``limit``) and the summaries the keyword side already built."""
    sellable = set(sellable_product_ids(s))
    if allowed is not None:
        sellable &= allowed
    hits: dict[uuid.UUID, Hit] = {}
    known: dict[uuid.UUID, StorefrontProductSummary] = {}
    if mode in (SearchMode.HYBRID, SearchMode.KEYWORD):
        ids, known = keyword_ids(
            s,
            q,
            currency,
            merchant_id=merchant_id,
            category=category,
            widen=mode == SearchMode.HYBRID,
        )
        for rank, pid in enumerate((p for p in ids if p in sellable), start=1):
            hits[pid] = Hit(pid, 1.0 / (RRF_K + rank), keyword_rank=rank)
    if mode in (SearchMode.HYBRID, SearchMode.SEMANTIC):
        for rank, (pid, _) in enumerate(
            semantic_ids(s, q, merchant_id=merchant_id, allowed=sellable), start=1
        ):
            hit = hits.setdefault(pid, Hit(pid, 0.0))
            hit.score += 1.0 / (RRF_K + rank)
            hit.semantic_rank = rank
    ranked = sorted(hits.values(), key=lambda h: (-h.score, str(h.product_id)))
    return ranked[:limit], known


def with_summaries(
    s: Session,
    ids: list[uuid.UUID],
    known: dict[uuid.UUID, StorefrontProductSummary],
    currency: str,
) -> dict[uuid.UUID, StorefrontProductSummary]:
    missing = [pid for pid in ids if pid not in known]
    return {**{pid: known[pid] for pid in ids if pid in known}, **summaries(s, missing, currency)}


# ------------------------------------------------------------- persona listing


@dataclass
class PersonaItem:
    product_id: uuid.UUID
    score: float
    matches: bool  # the persona gave it a bonus (a preferred colour, style, material…)


def _listing_ids(s: Session, category: str | None, currency: str) -> list[uuid.UUID]:
    """The storefront listing (newest first), up to ``LISTING_CAP`` products."""
    ids: list[uuid.UUID] = []
    cursor: str | None = None
    while len(ids) < LISTING_CAP:
        page = catalog.search_storefront(
            s, ProductQuery(category=category, currency=currency, limit=100, cursor=cursor)
        )
        ids.extend(item.id for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return ids[:LISTING_CAP]


def persona_listing(
    s: Session,
    user_id: uuid.UUID,
    persona_id: uuid.UUID,
    *,
    q: str | None,
    category: str | None,
    currency: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[PersonaItem], str | None, dict[uuid.UUID, StorefrontProductSummary]]:
    """One page of the products the persona allows, best first: with ``q`` the hybrid
    search order, else popularity, each re-ranked with the
    persona's bonus (``rank_for_persona``). Keyset-paginated on (score, id) with a signed
    cursor bound to the persona and the query; at most ``LISTING_CAP`` candidates."""
    from plaza.personas.customer.matching import features_for, persona_score, rank_for_persona
    from plaza.personas.customer.service import get_persona

    limit = max(1, min(limit, MAX_PAGE_SIZE))
    persona = get_persona(s, user_id, persona_id)
    known: dict[uuid.UUID, StorefrontProductSummary] = {}
    if q and q.strip():
        hits, known = search(
            s,
            q,
            currency=currency,
            limit=LISTING_CAP,
            category=category,
            allowed=set(_listing_ids(s, category, currency)) if category else None,
        )
        scores = {h.product_id: h.score for h in hits}
    else:
        ids = [p for p in _listing_ids(s, category, currency) if p in set(sellable_product_ids(s))]
        pop_map = popularity(s)
        pop = minmax(np.array([pop_map.get(p, np.nan) for p in ids], dtype=np.float32))
        # Popularity alone: rank_for_persona rescales base scores to 0–1, so any
        # tie-breaker here would weigh as much as popularity; equals stay in id order.
        scores = {p: float(pop[i]) for i, p in enumerate(ids)}
    features = features_for(s, persona, list(scores))
    # Keyset order is (score desc, id): ties must break the same way on every page.
    ranked = sorted(rank_for_persona(persona, features, scores), key=lambda r: (-r[1], str(r[0])))
    listing = (
        "persona-products:"
        + hashlib.sha256(
            repr((str(persona_id), q or "", category or "", currency)).encode()
        ).hexdigest()[:24]
    )
    if cursor:
        raw = decode_cursor(listing, cursor)
        try:
            after_score, after_id = float(raw[0]), str(uuid.UUID(str(raw[1])))
            if not math.isfinite(after_score):
                raise ValueError("score")
        except (ValueError, TypeError, IndexError) as exc:
            raise ProblemError(INVALID_CURSOR) from exc
        ranked = [
            (pid, sc)
            for pid, sc in ranked
            if sc < after_score or (sc == after_score and str(pid) > after_id)
        ]
    page = ranked[:limit]
    next_cursor = (
        encode_cursor(listing, [page[-1][1], str(page[-1][0])]) if len(ranked) > limit else None
    )
    items = [
        PersonaItem(pid, sc, (persona_score(persona, features[pid]) or 0) > 0) for pid, sc in page
    ]
    return items, next_cursor, known
