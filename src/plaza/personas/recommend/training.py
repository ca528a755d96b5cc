"""Offline training: embeddings, the implicit-feedback matrix, ALS factors, co-purchases.

``plaza recommend train`` runs ``train``. It writes a *new* ``RecommenderModel`` row and
deletes all but the newest ``KEEP_MODELS``; serving always reads the newest row, so it
never waits for training and never sees half a model.

The matrix (users × items, confidence weights) is built from ``CustomerActivity`` of
customers who grant ``personalisation`` consent:

* purchase: ``PURCHASE_WEIGHT`` per unit; a return of the item cancels that many units;
* cart add: ``CART_WEIGHT``; view: ``VIEW_WEIGHT`` (interest, weaker evidence).

ALS (``implicit.cpu.als.AlternatingLeastSquares``): ``factors=32`` (the catalog is small:
hundreds of products; more factors overfit the few interactions per customer),
``regularization=0.05``, ``iterations=20``, ``alpha=4`` (confidence = 1 + alpha × weight),
``random_state=42`` so a retrain on the same data gives the same model. ``implicit`` and
``sentence_transformers`` are imported inside the functions that use them: the API process
imports this module (for ``ModelData``) but never loads either library.

Co-purchases ("bought together") count pairs of products in one basket: a customer's
purchases within ``BASKET_WINDOW`` of each other (the lines of one order, and the orders
of one multi-shop checkout, are paid together; activity carries no order id).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plaza.db import Database
from plaza.personas.models import ActivityKind, CustomerActivity, RecommenderModel
from plaza.privacy.service import has_consent

KIND = "als"
KEEP_MODELS = 3
PURCHASE_WEIGHT = 1.0
CART_WEIGHT = 0.3
VIEW_WEIGHT = 0.1
BASKET_WINDOW = dt.timedelta(hours=1)

FloatArray = NDArray[np.float32]


@dataclass(frozen=True)
class TrainParams:
    factors: int = 32
    regularization: float = 0.05
    iterations: int = 20
    alpha: float = 4.0
    random_state: int = 42


@dataclass
class Interactions:
    user_ids: list[uuid.UUID]
    item_ids: list[uuid.UUID]
    matrix: sparse.csr_matrix  # users × items, weights
    baskets: list[list[uuid.UUID]] = field(default_factory=list)


@dataclass
class ModelData:
    """A trained model as serving uses it (decoded from the npz payload)."""

    id: uuid.UUID | None
    user_ids: list[uuid.UUID]
    item_ids: list[uuid.UUID]
    user_factors: FloatArray
    item_factors: FloatArray
    co_rows: NDArray[np.int32]
    co_cols: NDArray[np.int32]
    co_counts: NDArray[np.int32]
    item_baskets: NDArray[np.int32]
    n_baskets: int
    user_row: dict[uuid.UUID, int] = field(default_factory=dict)
    item_row: dict[uuid.UUID, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.user_row = {u: i for i, u in enumerate(self.user_ids)}
        self.item_row = {p: i for i, p in enumerate(self.item_ids)}

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            user_ids=np.array([str(u) for u in self.user_ids], dtype="U36"),
            item_ids=np.array([str(p) for p in self.item_ids], dtype="U36"),
            user_factors=self.user_factors.astype(np.float32),
            item_factors=self.item_factors.astype(np.float32),
            co_rows=self.co_rows,
            co_cols=self.co_cols,
            co_counts=self.co_counts,
            item_baskets=self.item_baskets,
            n_baskets=np.array([self.n_baskets], dtype=np.int64),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, raw: bytes, model_id: uuid.UUID | None = None) -> ModelData:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            return cls(
                id=model_id,
                user_ids=[uuid.UUID(u) for u in z["user_ids"].tolist()],
                item_ids=[uuid.UUID(p) for p in z["item_ids"].tolist()],
                user_factors=z["user_factors"].astype(np.float32),
                item_factors=z["item_factors"].astype(np.float32),
                co_rows=z["co_rows"].astype(np.int32),
                co_cols=z["co_cols"].astype(np.int32),
                co_counts=z["co_counts"].astype(np.int32),
                item_baskets=z["item_baskets"].astype(np.int32),
                n_baskets=int(z["n_baskets"][0]),
            )

    def without_user(self, user_id: uuid.UUID) -> ModelData:
        """The same model with one customer's row removed (erasure)."""
        keep = [i for i, u in enumerate(self.user_ids) if u != user_id]
        return ModelData(
            self.id,
            [self.user_ids[i] for i in keep],
            self.item_ids,
            self.user_factors[keep],
            self.item_factors,
            self.co_rows,
            self.co_cols,
            self.co_counts,
            self.item_baskets,
            self.n_baskets,
        )


# ------------------------------------------------------------------- the matrix


@dataclass(frozen=True)
class Event:
    """One interaction, independent of the database (the offline evaluation makes them)."""

    user_id: uuid.UUID
    product_id: uuid.UUID
    kind: ActivityKind
    quantity: int
    at: dt.datetime


def weights_of(events: Sequence[Event]) -> dict[tuple[uuid.UUID, uuid.UUID], float]:
    """(user, item) -> weight: units bought net of returns, plus cart and view interest."""
    bought: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
    interest: dict[tuple[uuid.UUID, uuid.UUID], float] = defaultdict(float)
    for e in events:
        key = (e.user_id, e.product_id)
        if e.kind == ActivityKind.PURCHASE:
            bought[key] += max(e.quantity, 1)
        elif e.kind == ActivityKind.RETURN:
            bought[key] -= max(e.quantity, 1)
        elif e.kind == ActivityKind.CART_ADD:
            interest[key] += CART_WEIGHT
        elif e.kind == ActivityKind.VIEW:
            interest[key] += VIEW_WEIGHT
    out: dict[tuple[uuid.UUID, uuid.UUID], float] = {}
    for key in set(bought) | set(interest):
        w = PURCHASE_WEIGHT * max(bought.get(key, 0), 0) + min(interest.get(key, 0.0), 1.0)
        if w > 0:
            out[key] = w
    return out


def baskets_of(events: Sequence[Event]) -> list[list[uuid.UUID]]:
    """Purchases of one customer within ``BASKET_WINDOW`` of the previous one form a basket."""
    by_user: dict[uuid.UUID, list[Event]] = defaultdict(list)
    for e in events:
        if e.kind == ActivityKind.PURCHASE:
            by_user[e.user_id].append(e)
    baskets: list[list[uuid.UUID]] = []
    for items in by_user.values():
        items.sort(key=lambda e: e.at)
        current: list[uuid.UUID] = []
        last: dt.datetime | None = None
        for e in items:
            if last is not None and e.at - last > BASKET_WINDOW:
                baskets.append(current)
                current = []
            if e.product_id not in current:
                current.append(e.product_id)
            last = e.at
        if current:
            baskets.append(current)
    return baskets


def build_interactions(events: Sequence[Event]) -> Interactions:
    weights = weights_of(events)
    users = sorted({u for u, _ in weights})
    items = sorted(
        {p for _, p in weights} | {e.product_id for e in events if e.kind == ActivityKind.PURCHASE}
    )
    urow = {u: i for i, u in enumerate(users)}
    irow = {p: i for i, p in enumerate(items)}
    rows = [urow[u] for u, _ in weights]
    cols = [irow[p] for _, p in weights]
    matrix = sparse.csr_matrix(
        (np.array(list(weights.values()), dtype=np.float32), (rows, cols)),
        shape=(len(users), len(items)),
    )
    return Interactions(users, items, matrix, baskets_of(events))


def load_events(s: Session, *, consent_only: bool = True) -> list[Event]:
    """Activity with a product, of customers who grant personalisation (checked per
    customer through the privacy service: contexts do not read each other's tables)."""
    rows = s.execute(
        select(
            CustomerActivity.user_id,
            CustomerActivity.product_id,
            CustomerActivity.kind,
            CustomerActivity.quantity,
            CustomerActivity.occurred_at,
        ).where(CustomerActivity.product_id.is_not(None))
    ).all()
    allowed: dict[uuid.UUID, bool] = {}
    events: list[Event] = []
    for user_id, product_id, kind, quantity, at in rows:
        if product_id is None:
            continue
        if consent_only:
            if user_id not in allowed:
                allowed[user_id] = has_consent(s, user_id, "personalisation")
            if not allowed[user_id]:
                continue
        events.append(Event(user_id, product_id, ActivityKind(kind), quantity or 1, at))
    return events


# ----------------------------------------------------------------------- models


def fit_als(matrix: sparse.csr_matrix, params: TrainParams) -> tuple[FloatArray, FloatArray]:
    """ALS factors (users, items). Imports ``implicit`` here only: never in the API process."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit warns (and slows) otherwise
    from implicit.cpu.als import AlternatingLeastSquares

    n_users, n_items = matrix.shape
    if n_users == 0 or n_items == 0:
        return (
            np.zeros((n_users, params.factors), dtype=np.float32),
            np.zeros((n_items, params.factors), dtype=np.float32),
        )
    model = AlternatingLeastSquares(
        factors=params.factors,
        regularization=params.regularization,
        alpha=params.alpha,
        iterations=params.iterations,
        random_state=params.random_state,
        num_threads=2,
    )
    model.fit(matrix.tocsr().astype(np.float32), show_progress=False)
    return np.asarray(model.user_factors, np.float32), np.asarray(model.item_factors, np.float32)


def co_purchases(
    baskets: Sequence[Sequence[uuid.UUID]], item_row: dict[uuid.UUID, int]
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
    """Sparse symmetric pair counts (rows, cols, counts) and per-item basket counts."""
    pairs: dict[tuple[int, int], int] = defaultdict(int)
    per_item = np.zeros(len(item_row), dtype=np.int32)
    for basket in baskets:
        idx = sorted({item_row[p] for p in basket if p in item_row})
        for i in idx:
            per_item[i] += 1
        for a in range(len(idx)):
            for b in range(a + 1, len(idx)):
                pairs[(idx[a], idx[b])] += 1
                pairs[(idx[b], idx[a])] += 1
    rows = np.array([k[0] for k in pairs], dtype=np.int32)
    cols = np.array([k[1] for k in pairs], dtype=np.int32)
    counts = np.array(list(pairs.values()), dtype=np.int32)
    return rows, cols, counts, per_item


def model_from(inter: Interactions, params: TrainParams) -> ModelData:
    users, items = fit_als(inter.matrix, params)
    item_row = {p: i for i, p in enumerate(inter.item_ids)}
    rows, cols, counts, per_item = co_purchases(inter.baskets, item_row)
    return ModelData(
        None,
        inter.user_ids,
        inter.item_ids,
        users,
        items,
        rows,
        cols,
        counts,
        per_item,
        len(inter.baskets),
    )


# -------------------------------------------------------------------- embeddings


def sentence_transformers_encode(batch_size: int = 64) -> Callable[[Sequence[str]], FloatArray]:
    """Batch encoder for training (the library DESIGN.md names), offline, 2 threads."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # never download: the model is packaged
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    from plaza.personas.recommend.encoder import model_dir

    torch.set_num_threads(2)
    hf_logging.disable_progress_bar()  # Plaza's own Rich progress bar says what is going on
    model = SentenceTransformer(str(model_dir()), device="cpu")

    def encode(texts: Sequence[str]) -> FloatArray:
        out = model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(out, dtype=np.float32)

    return encode


# ------------------------------------------------------------------------ train


@dataclass
class TrainResult:
    model_id: uuid.UUID | None
    users: int
    items: int
    interactions: int
    baskets: int
    embedded: int
    seconds: float
    params: dict[str, Any]


Step = Callable[[str, int, int], None]  # (what, done, total)


def train(
    db: Database,
    params: TrainParams | None = None,
    *,
    embed: bool = True,
    encode: Callable[[Sequence[str]], FloatArray] | None = None,
    on_step: Step | None = None,
) -> TrainResult:
    """Embed changed products, fit ALS on consenting customers' activity and store a new
    model (keeping the newest ``KEEP_MODELS``). Reads and writes in short transactions."""
    from plaza.personas.recommend.embeddings import embed_products

    params = params or TrainParams()
    step = on_step or (lambda what, done, total: None)
    started = time.perf_counter()
    embedded = 0
    if embed:
        enc = encode
        if enc is None:
            try:
                enc = sentence_transformers_encode()
            except ImportError:  # the NumPy encoder gives the same vectors, more slowly
                enc = None
        embedded = embed_products(
            db, encode=enc, on_progress=lambda done, total: step("embed", done, total)
        )
    step("activity", 0, 1)
    with db.reading() as s:
        events = load_events(s)
    inter = build_interactions(events)
    step("activity", 1, 1)
    step("als", 0, 1)
    fit_started = time.perf_counter()
    data = model_from(inter, params)
    fit_seconds = time.perf_counter() - fit_started
    step("als", 1, 1)
    model_id: uuid.UUID | None = None
    with db.transaction() as s:
        row = RecommenderModel(
            kind=KIND,
            params=asdict(params),
            metrics={
                "users": len(inter.user_ids),
                "items": len(inter.item_ids),
                "interactions": int(inter.matrix.nnz),
                "baskets": len(inter.baskets),
                "fit_seconds": round(fit_seconds, 3),
            },
            payload=data.to_bytes(),
        )
        s.add(row)
        s.flush()
        model_id = row.id
        keep = list(
            s.scalars(
                select(RecommenderModel.id)
                .where(RecommenderModel.kind == KIND)
                .order_by(RecommenderModel.trained_at.desc(), RecommenderModel.id.desc())
                .limit(KEEP_MODELS)
            )
        )
        s.execute(
            delete(RecommenderModel).where(
                RecommenderModel.kind == KIND, RecommenderModel.id.not_in(keep)
            )
        )
    step("save", 1, 1)
    return TrainResult(
        model_id,
        len(inter.user_ids),
        len(inter.item_ids),
        int(inter.matrix.nnz),
        len(inter.baskets),
        embedded,
        time.perf_counter() - started,
        asdict(params),
    )
