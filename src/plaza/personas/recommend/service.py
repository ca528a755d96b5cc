"""Serving recommendations: "for you", "similar items", "bought together".

Everything here reads precomputed data: the newest ``RecommenderModel`` (ALS factors and
co-purchase counts, cached per process and swapped when a newer model appears) and the
embedding index (``embeddings.embedding_index``). Nothing waits on training.

**For you** scores every sellable product with three signals, each rescaled to 0–1 over
the candidates (min–max), and adds them with the weights below (tuned on the offline
evaluation, ``bench/recommend_eval.py``, see docs/recommendations.md):

* ALS ``user factors · item factors`` (``ALS_WEIGHT``), for customers in the model;
* content: cosine similarity to the weighted centroid of the customer's recent items
  (purchases 1, cart adds 0.5, views 0.25; ``CONTENT_WEIGHT``);
* time-decayed popularity (``POPULARITY_WEIGHT``).

Already purchased products are left out. The chosen customer persona (the one named, else
the customer's default) then filters and re-ranks the top ``CANDIDATES`` through
``rank_for_persona``. Cold start: a customer unknown to the model gets content + popularity;
one with no activity gets popularity (persona-matched). Without ``personalisation``
consent: popularity only (the persona the customer names in the request still filters:
it is what they asked for, not something inferred).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from plaza.catalog import service as catalog
from plaza.catalog.features import ProductFeatures, product_features, sellable_product_ids
from plaza.catalog.schemas import StorefrontProductSummary
from plaza.db import utcnow
from plaza.errors import NOT_FOUND, ProblemError
from plaza.personas.models import ActivityKind, CustomerActivity, CustomerPersona, RecommenderModel
from plaza.personas.recommend.embeddings import EmbeddingIndex, embedding_index
from plaza.personas.recommend.training import KIND, ModelData
from plaza.privacy.service import has_consent

FloatArray = NDArray[np.float32]

ALS_WEIGHT = 0.6
CONTENT_WEIGHT = 0.1
POPULARITY_WEIGHT = 0.3
HISTORY_ITEMS = 20  # recent distinct products that make the content centroid
HISTORY_WEIGHTS = {
    ActivityKind.PURCHASE: 1.0,
    ActivityKind.CART_ADD: 0.5,
    ActivityKind.VIEW: 0.25,
}
CANDIDATES = 200  # the top of the blend handed to the persona re-ranking
POPULARITY_HALF_LIFE_DAYS = 30.0
POPULARITY_WINDOW_DAYS = 365
POPULARITY_TTL = 60.0  # seconds a process reuses its popularity table
REASON_SIMILARITY = 0.45  # nearest history item at least this close: "because you bought X"
SIMILAR_CONTENT_WEIGHT = 0.6  # similar items: content vs ALS item-item
MIN_SUPPORT = 2  # baskets a pair must share to count as "bought together"

VERBS = {
    ActivityKind.PURCHASE: "bought",
    ActivityKind.CART_ADD: "added to your cart",
    ActivityKind.VIEW: "viewed",
}


@dataclass
class Recommendation:
    product_id: uuid.UUID
    score: float
    reason_kind: (
        str  # history | similar_taste | popular | new | persona | similar | bought_together
    )
    reason: str
    reasons: list[str] = field(default_factory=list)


@dataclass
class ForYouAnswer:
    items: list[Recommendation]
    strategy: str
    persona_id: uuid.UUID | None


# ------------------------------------------------------------------ pure scoring


def minmax(values: FloatArray) -> FloatArray:
    """Rescale to 0–1 (NaN: unknown, becomes 0); a constant signal becomes all zeros."""
    out = np.zeros(values.shape, dtype=np.float32)
    known = np.isfinite(values)
    if not known.any():
        return out
    lo = float(values[known].min())
    hi = float(values[known].max())
    if hi - lo > 1e-12:
        out[known] = (values[known] - lo) / (hi - lo)
    return out


def blend(
    als: FloatArray | None,
    content: FloatArray | None,
    popularity: FloatArray | None,
    weights: tuple[float, float, float] = (ALS_WEIGHT, CONTENT_WEIGHT, POPULARITY_WEIGHT),
) -> FloatArray:
    """The weighted sum of the rescaled signals (each aligned to the same candidates);
    a missing signal contributes nothing."""
    signals = [s for s in (als, content, popularity) if s is not None]
    if not signals:
        return np.zeros(0, dtype=np.float32)
    total = np.zeros(signals[0].shape, dtype=np.float32)
    for signal, weight in zip((als, content, popularity), weights, strict=True):
        if signal is not None and weight:
            total += np.float32(weight) * minmax(signal)
    return total


def centroid(vectors: FloatArray, weights: Sequence[float]) -> FloatArray | None:
    """The weighted mean direction of unit vectors, unit length (None if empty)."""
    if len(vectors) == 0:
        return None
    c = (vectors * np.asarray(weights, dtype=np.float32)[:, None]).sum(axis=0)
    norm = float(np.linalg.norm(c))
    return None if norm < 1e-12 else (c / norm).astype(np.float32)


def decayed(ages_days: Iterable[float], quantities: Iterable[float]) -> float:
    return float(
        sum(
            q * math.pow(0.5, a / POPULARITY_HALF_LIFE_DAYS)
            for a, q in zip(ages_days, quantities, strict=True)
        )
    )


# ------------------------------------------------------------- cached readers


_models: dict[str, ModelData | None] = {}
_model_ids: dict[str, uuid.UUID | None] = {}
_model_lock = threading.Lock()


def latest_model(s: Session) -> ModelData | None:
    """The newest trained model (one indexed query to check; decoded once per process)."""
    key = str(s.get_bind().engine.url)
    newest = s.scalar(
        select(RecommenderModel.id)
        .where(RecommenderModel.kind == KIND)
        .order_by(RecommenderModel.trained_at.desc(), RecommenderModel.id.desc())
        .limit(1)
    )
    if key in _model_ids and _model_ids[key] == newest:
        return _models.get(key)
    with _model_lock:
        if key in _model_ids and _model_ids[key] == newest:
            return _models.get(key)
        data: ModelData | None = None
        if newest is not None:
            raw = s.scalar(select(RecommenderModel.payload).where(RecommenderModel.id == newest))
            data = ModelData.from_bytes(raw, newest) if raw is not None else None
        _models[key] = data
        _model_ids[key] = newest
        return data


_popularity: dict[str, tuple[float, dict[uuid.UUID, float]]] = {}


def popularity(s: Session) -> dict[uuid.UUID, float]:
    """Units bought per product, each weighted by ``0.5 ** (age / half-life)`` (returns
    subtract); an aggregate over all customers, recomputed at most every minute."""
    key = str(s.get_bind().engine.url)
    cached = _popularity.get(key)
    now_mono = time.monotonic()
    if cached is not None and now_mono - cached[0] < POPULARITY_TTL:
        return cached[1]
    now = utcnow()
    since = now - dt.timedelta(days=POPULARITY_WINDOW_DAYS)
    rows = s.execute(
        select(
            CustomerActivity.product_id,
            CustomerActivity.kind,
            CustomerActivity.quantity,
            CustomerActivity.occurred_at,
        ).where(
            CustomerActivity.kind.in_([ActivityKind.PURCHASE, ActivityKind.RETURN]),
            CustomerActivity.product_id.is_not(None),
            CustomerActivity.occurred_at >= since,
        )
    ).all()
    scores: dict[uuid.UUID, float] = {}
    for pid, kind, qty, at in rows:
        if pid is None:
            continue
        age = max((now - at).total_seconds() / 86400.0, 0.0)
        sign = -1.0 if kind == ActivityKind.RETURN else 1.0
        scores[pid] = scores.get(pid, 0.0) + sign * decayed([age], [max(qty or 1, 1)])
    scores = {pid: v for pid, v in scores.items() if v > 0}
    _popularity[key] = (now_mono, scores)
    return scores


def clear_caches() -> None:
    """Forget cached models and popularity (tests; a process picks up new ones itself)."""
    with _model_lock:
        _models.clear()
        _model_ids.clear()
    _popularity.clear()


# -------------------------------------------------------------------- history


@dataclass
class HistoryItem:
    product_id: uuid.UUID
    kind: ActivityKind
    at: dt.datetime


def recent_history(s: Session, user_id: uuid.UUID) -> tuple[list[HistoryItem], set[uuid.UUID]]:
    """The customer's most recent distinct products (strongest kind per product) and the
    products they bought (returned or not: neither is worth recommending again)."""
    rows = s.execute(
        select(CustomerActivity.product_id, CustomerActivity.kind, CustomerActivity.occurred_at)
        .where(CustomerActivity.user_id == user_id, CustomerActivity.product_id.is_not(None))
        .order_by(CustomerActivity.occurred_at.desc(), CustomerActivity.id.desc())
        .limit(500)
    ).all()
    best: dict[uuid.UUID, HistoryItem] = {}
    bought: dict[uuid.UUID, int] = {}
    for pid, kind, at in rows:
        if pid is None:
            continue
        kind = ActivityKind(kind)
        if kind == ActivityKind.PURCHASE:
            bought[pid] = bought.get(pid, 0) + 1
        elif kind == ActivityKind.RETURN:
            bought[pid] = bought.get(pid, 0) - 1
            continue
        current = best.get(pid)
        if current is None or HISTORY_WEIGHTS[kind] > HISTORY_WEIGHTS[current.kind]:
            best[pid] = HistoryItem(pid, kind, at if current is None else current.at)
    items = sorted(best.values(), key=lambda h: h.at, reverse=True)[:HISTORY_ITEMS]
    # A returned purchase is still "seen" (not recommended again), but it is no taste signal.
    items = [
        h
        for h in items
        if not (h.kind == ActivityKind.PURCHASE and bought.get(h.product_id, 0) <= 0)
    ]
    return items, set(bought)


# -------------------------------------------------------------------- for you


def _persona_rank(
    s: Session,
    persona: CustomerPersona | None,
    scores: Mapping[uuid.UUID, float],
) -> tuple[list[tuple[uuid.UUID, float]], set[uuid.UUID]]:
    """Scores re-ranked for the persona (best first) and the products it gave a bonus."""
    ordered = sorted(scores.items(), key=lambda kv: (-kv[1], str(kv[0])))
    if persona is None:
        return ordered, set()
    from plaza.personas.customer.matching import features_for, persona_score, rank_for_persona

    features = features_for(s, persona, list(scores))
    ranked = rank_for_persona(persona, features, scores)
    liked = {pid for pid, _ in ranked if (persona_score(persona, features[pid]) or 0) > 0}
    return ranked, liked


def chosen_persona(
    s: Session, user_id: uuid.UUID, persona_id: uuid.UUID | None
) -> CustomerPersona | None:
    from plaza.personas.customer.service import chosen_persona

    return chosen_persona(s, user_id, persona_id)


def for_you(
    s: Session,
    user_id: uuid.UUID,
    *,
    persona_id: uuid.UUID | None = None,
    limit: int = 10,
) -> ForYouAnswer:
    """Recommendations for a customer, the strategy used (``blend``, ``content``,
    ``popular``, ``new``) and the persona applied; see the module docstring."""
    persona = chosen_persona(s, user_id, persona_id)
    universe = sellable_product_ids(s)
    pop_map = popularity(s)
    pop = np.array([pop_map.get(p, np.nan) for p in universe], dtype=np.float32)
    consent = has_consent(s, user_id, "personalisation")
    history: list[HistoryItem] = []
    purchased: set[uuid.UUID] = set()
    index = embedding_index(s)
    als: FloatArray | None = None
    content: FloatArray | None = None
    strategy = "popular"
    if consent:
        history, purchased = recent_history(s, user_id)
        model = latest_model(s)
        if model is not None and user_id in model.user_row and len(model.item_ids):
            u = model.user_factors[model.user_row[user_id]]
            raw = model.item_factors @ u
            als = np.array(
                [raw[model.item_row[p]] if p in model.item_row else np.nan for p in universe],
                dtype=np.float32,
            )
            strategy = "blend"
        vectors = [(index.vector(h.product_id), HISTORY_WEIGHTS[h.kind]) for h in history]
        known = [(v, w) for v, w in vectors if v is not None]
        c = centroid(np.array([v for v, _ in known]), [w for _, w in known]) if known else None
        if c is not None:
            content = np.array(
                [
                    float(index.matrix[index.row[p]] @ c) if p in index.row else np.nan
                    for p in universe
                ],
                dtype=np.float32,
            )
            if strategy == "popular":
                strategy = "content"
    if strategy == "popular":
        scores_arr = minmax(pop)
        if not np.isfinite(pop).any():
            strategy = "new"  # nothing bought anywhere yet: the newest products
    else:
        scores_arr = blend(als, content, pop)
    scores: dict[uuid.UUID, float] = {}
    order = np.argsort(-scores_arr, kind="stable")
    for i in order:
        pid = universe[int(i)]
        if pid in purchased:
            continue
        scores[pid] = float(scores_arr[int(i)])
        if len(scores) >= CANDIDATES:
            break
    if strategy == "new":
        created = {pid: f.created_at for pid, f in product_features(s, list(scores)).items()}
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        scores = {pid: (created.get(pid) or epoch).timestamp() for pid in scores}
    ranked, liked = _persona_rank(s, persona, scores)
    picked = ranked[:limit]
    items = _explain(s, picked, history, index, liked, persona, strategy, pop_map)
    return ForYouAnswer(items, strategy, persona.id if persona is not None else None)


def _explain(
    s: Session,
    picked: list[tuple[uuid.UUID, float]],
    history: list[HistoryItem],
    index: EmbeddingIndex,
    liked: set[uuid.UUID],
    persona: CustomerPersona | None,
    strategy: str,
    pop_map: Mapping[uuid.UUID, float],
) -> list[Recommendation]:
    """Why each product is there: the closest item of the customer's history, else the
    collaborative signal, else popularity; plus the persona when it matched."""
    titles = {
        pid: f.title for pid, f in product_features(s, [h.product_id for h in history]).items()
    }
    hist = [h for h in history if index.vector(h.product_id) is not None]
    hist_matrix = np.array([index.vector(h.product_id) for h in hist]) if hist else np.zeros((0, 1))
    out: list[Recommendation] = []
    for pid, score in picked:
        reasons: list[tuple[str, str]] = []
        v = index.vector(pid)
        if hist and v is not None:
            sims = hist_matrix @ v
            j = int(np.argmax(sims))
            if sims[j] >= REASON_SIMILARITY:
                h = hist[j]
                title = titles.get(h.product_id, "an item")
                reasons.append(("history", f"because you {VERBS[h.kind]} {title}"))
        if strategy == "blend" and not reasons:
            reasons.append(("similar_taste", "customers with similar taste bought this"))
        if pid in liked and persona is not None:
            reasons.append(("persona", f"matches persona {persona.name}"))
        if pop_map.get(pid, 0) > 0:
            reasons.append(("popular", "popular"))
        if not reasons:
            reasons.append(("new", "new in the shops"))
        out.append(
            Recommendation(
                pid, round(float(score), 6), reasons[0][0], reasons[0][1], [r for _, r in reasons]
            )
        )
    return out


# --------------------------------------------------------------- similar items


def _visible(s: Session, product_id: uuid.UUID) -> ProductFeatures:
    f = product_features(s, [product_id]).get(product_id)
    if f is None or not f.sellable:
        raise ProblemError(NOT_FOUND, f"product {product_id} not found", resource="product")
    return f


def product_vector(index: EmbeddingIndex, f: ProductFeatures) -> FloatArray:
    """The stored embedding, or (a product created since the last embedding) one computed
    now with the NumPy encoder: a new product still gets content similarity."""
    v = index.vector(f.id)
    if v is not None:
        return v
    from plaza.personas.recommend.encoder import encode

    return encode([f.text()])[0]


def similar(s: Session, product_id: uuid.UUID, *, limit: int = 10) -> list[Recommendation]:
    """Products like this one: content similarity blended with ALS item-item similarity
    when the product is in the model (``SIMILAR_CONTENT_WEIGHT`` for content)."""
    f = _visible(s, product_id)
    index = embedding_index(s)
    sellable = set(sellable_product_ids(s))
    cands = [p for p in index.ids if p in sellable and p != product_id]
    if not cands:
        return []
    v = product_vector(index, f)
    content = np.array([index.matrix[index.row[p]] @ v for p in cands], dtype=np.float32)
    model = latest_model(s)
    als: FloatArray | None = None
    if model is not None and product_id in model.item_row:
        factors = model.item_factors
        norms = np.linalg.norm(factors, axis=1)
        me = factors[model.item_row[product_id]]
        me_norm = float(np.linalg.norm(me)) or 1.0
        als = np.array(
            [
                float(factors[model.item_row[p]] @ me)
                / (me_norm * (norms[model.item_row[p]] or 1.0))
                if p in model.item_row
                else np.nan
                for p in cands
            ],
            dtype=np.float32,
        )
    if als is not None:
        scores = blend(als, content, None, (1 - SIMILAR_CONTENT_WEIGHT, SIMILAR_CONTENT_WEIGHT, 0))
    else:
        scores = content
    order = np.argsort(-scores, kind="stable")[:limit]
    reason = f"similar to {f.title}"
    return [
        Recommendation(cands[int(i)], round(float(scores[int(i)]), 6), "similar", reason, [reason])
        for i in order
    ]


def bought_together(s: Session, product_id: uuid.UUID, *, limit: int = 10) -> list[Recommendation]:
    """Products bought in the same basket: pairs seen in at least ``MIN_SUPPORT`` baskets
    with lift > 1, ranked by confidence (share of this product's baskets that hold the
    other), then lift. No such pair: similar items of the same category."""
    f = _visible(s, product_id)
    model = latest_model(s)
    out: list[Recommendation] = []
    if model is not None and product_id in model.item_row and model.n_baskets:
        i = model.item_row[product_id]
        mask = (model.co_rows == i) & (model.co_counts >= MIN_SUPPORT)
        sellable = set(sellable_product_ids(s))
        n_i = max(int(model.item_baskets[i]), 1)
        pairs: list[tuple[float, float, uuid.UUID, int]] = []
        for j, count in zip(model.co_cols[mask], model.co_counts[mask], strict=True):
            other = model.item_ids[int(j)]
            if other not in sellable:
                continue
            n_j = max(int(model.item_baskets[int(j)]), 1)
            confidence = int(count) / n_i
            lift = int(count) * model.n_baskets / (n_i * n_j)
            if lift > 1.0:
                pairs.append((confidence, lift, other, int(count)))
        pairs.sort(key=lambda p: (-p[0], -p[1], str(p[2])))
        for confidence, _, other, count in pairs[:limit]:
            reason = f"bought together with {f.title} in {count} orders"
            out.append(
                Recommendation(other, round(confidence, 6), "bought_together", reason, [reason])
            )
    if out:
        return out
    # No co-purchase data: the closest products of the same category.
    same = [r for r in similar(s, product_id, limit=200)]
    if f.category:
        cats = product_features(s, [r.product_id for r in same])
        same = [
            r for r in same if cats.get(r.product_id) and cats[r.product_id].category == f.category
        ]
    reason = f"goes with {f.title}"
    return [
        Recommendation(r.product_id, r.score, "similar", reason, [reason]) for r in same[:limit]
    ]


# ------------------------------------------------------------------- summaries


def summaries(
    s: Session, product_ids: Sequence[uuid.UUID], currency: str
) -> dict[uuid.UUID, StorefrontProductSummary]:
    """Storefront summaries (catalog's shape and visibility rules) of the products; ones the
    storefront does not show are left out."""
    fields = set(StorefrontProductSummary.model_fields)
    out: dict[uuid.UUID, StorefrontProductSummary] = {}
    for pid in dict.fromkeys(product_ids):
        try:
            product = catalog.storefront_product(s, pid, currency)
        except ProblemError:
            continue
        out[pid] = StorefrontProductSummary.model_validate(product.model_dump(include=fields))
    return out
