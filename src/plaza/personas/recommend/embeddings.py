"""Product text embeddings: kept current in ``product_embeddings``, served from memory.

``embed_products`` embeds every product whose text changed (``text_digest``), in batches,
outside any write transaction (encoding is the slow part; a write lock must not wait on
it). ``embed_product`` is the one-product path the ``product.created``/``product.updated``
subscriber takes, with the NumPy encoder. ``embedding_index`` gives serving the whole
matrix from an in-process cache that is re-checked with one cheap query (row count and
newest ``updated_at``), so requests do not reload it while nothing changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plaza.catalog.features import product_features
from plaza.catalog.service import bump_catalog_version
from plaza.db import Database, utcnow
from plaza.personas.models import ProductEmbedding
from plaza.personas.recommend.encoder import DIM, MODEL_NAME

FloatArray = NDArray[np.float32]
Encode = Callable[[Sequence[str]], FloatArray]


def text_digest(text: str) -> str:
    return hashlib.sha256(f"{MODEL_NAME}\n{text}".encode()).hexdigest()


def to_bytes(vector: FloatArray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(raw: bytes) -> FloatArray:
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def numpy_encode(texts: Sequence[str]) -> FloatArray:
    from plaza.personas.recommend.encoder import encode

    return encode(texts)


def _stale(
    s: Session, product_ids: Iterable[uuid.UUID] | None
) -> dict[uuid.UUID, tuple[uuid.UUID, str]]:
    """Products whose embedding is missing or was made from other text: id -> (merchant, text)."""
    features = product_features(s, product_ids)
    if not features:
        return {}
    digests: dict[uuid.UUID, str] = {}
    ids = list(features)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        rows = s.execute(
            select(ProductEmbedding.product_id, ProductEmbedding.text_digest).where(
                ProductEmbedding.product_id.in_(chunk), ProductEmbedding.model == MODEL_NAME
            )
        )
        # Not dict.update(rows): a Result has .keys() (its column names) and would be
        # taken for a mapping.
        for pid, digest in rows:
            digests[pid] = digest
    out: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}
    for pid, f in features.items():
        text = f.text()
        if digests.get(pid) != text_digest(text):
            out[pid] = (f.merchant_id, text)
    return out


def _store(s: Session, rows: list[tuple[uuid.UUID, uuid.UUID, str, FloatArray]]) -> None:
    existing = {
        e.product_id: e
        for e in s.scalars(
            select(ProductEmbedding).where(ProductEmbedding.product_id.in_([r[0] for r in rows]))
        )
    }
    for pid, merchant_id, text, vector in rows:
        row = existing.get(pid)
        if row is None:
            row = ProductEmbedding(product_id=pid, merchant_id=merchant_id)
            s.add(row)
        row.model = MODEL_NAME
        row.text_digest = text_digest(text)
        row.vector = to_bytes(vector)
        row.updated_at = utcnow()
    # Search answers depend on the vectors: cached ones must not outlive them.
    for merchant_id in sorted({r[1] for r in rows}):
        bump_catalog_version(s, merchant_id)


def embed_products(
    db: Database,
    product_ids: Iterable[uuid.UUID] | None = None,
    *,
    batch: int = 64,
    encode: Encode | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed the products (all non-archived when ``None``) whose text changed; returns how
    many were embedded. Each batch commits on its own, so serving sees progress and a
    crash loses at most one batch."""
    encode = encode or numpy_encode
    with db.reading() as s:
        stale = _stale(s, list(product_ids) if product_ids is not None else None)
    items = list(stale.items())
    if on_progress:
        on_progress(0, len(items))
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        vectors = encode([text for _, (_, text) in chunk])
        with db.transaction() as s:
            _store(s, [(pid, m, text, vectors[i]) for i, (pid, (m, text)) in enumerate(chunk)])
        if on_progress:
            on_progress(min(start + batch, len(items)), len(items))
    return len(items)


def embed_product(s: Session, product_id: uuid.UUID, encode: Encode | None = None) -> bool:
    """Embed one product inside the caller's transaction if its text changed (idempotent:
    a redelivered event finds the digest current and does nothing)."""
    stale = _stale(s, [product_id])
    if product_id not in stale:
        return False
    merchant_id, text = stale[product_id]
    vector = (encode or numpy_encode)([text])[0]
    _store(s, [(product_id, merchant_id, text, vector)])
    return True


# ----------------------------------------------------------------- serving index


@dataclass
class EmbeddingIndex:
    """Every stored embedding as one unit-row matrix (``ids[i]`` is row ``i``)."""

    ids: list[uuid.UUID] = field(default_factory=list)
    matrix: FloatArray = field(default_factory=lambda: np.zeros((0, DIM), dtype=np.float32))
    row: dict[uuid.UUID, int] = field(default_factory=dict)
    merchants: list[uuid.UUID] = field(default_factory=list)
    stamp: tuple[int, dt.datetime | None] = (0, None)

    def vector(self, product_id: uuid.UUID) -> FloatArray | None:
        i = self.row.get(product_id)
        return None if i is None else self.matrix[i]

    def similarities(self, query: FloatArray) -> FloatArray:
        """Cosine similarity of every indexed product to ``query`` (a unit vector)."""
        if not self.ids:
            return np.zeros(0, dtype=np.float32)
        return self.matrix @ query.astype(np.float32)


_indexes: dict[str, EmbeddingIndex] = {}
_index_lock = threading.Lock()


def _stamp(s: Session) -> tuple[int, dt.datetime | None]:
    count, newest = s.execute(
        select(func.count(), func.max(ProductEmbedding.updated_at)).where(
            ProductEmbedding.model == MODEL_NAME
        )
    ).one()
    return int(count or 0), newest


def embedding_index(s: Session) -> EmbeddingIndex:
    """The cached index for this database, reloaded when a row was added or changed (a
    deleted product's row goes with it through the foreign key, and changes the count)."""
    key = str(s.get_bind().engine.url)
    stamp = _stamp(s)
    current = _indexes.get(key)
    if current is not None and current.stamp == stamp:
        return current
    with _index_lock:
        current = _indexes.get(key)
        if current is not None and current.stamp == stamp:
            return current
        rows = s.execute(
            select(
                ProductEmbedding.product_id, ProductEmbedding.vector, ProductEmbedding.merchant_id
            )
            .where(ProductEmbedding.model == MODEL_NAME)
            .order_by(ProductEmbedding.product_id)
        ).all()
        ids = [r[0] for r in rows]
        matrix = (
            np.vstack([from_bytes(r[1]) for r in rows])
            if rows
            else np.zeros((0, DIM), dtype=np.float32)
        )
        index = EmbeddingIndex(
            ids, matrix, {pid: i for i, pid in enumerate(ids)}, [r[2] for r in rows], stamp
        )
        _indexes[key] = index
        return index
