"""Offline evaluation of the recommenders: popularity, ALS, content, and the served blend.

    .venv/bin/python bench/recommend_eval.py                  # generated, planted structure
    .venv/bin/python bench/recommend_eval.py --users 300 --items 120   # quicker
    .venv/bin/python bench/recommend_eval.py --demo           # the demo database's activity

The generated dataset has taste clusters whose items share words in their text (so text
embeddings can see the structure), a few popular items everyone buys now and then, and
noise; every interaction has a timestamp. Each user's last 20 % of interactions (by time)
are the test set; models see only the rest. Reported: recall@10 (hits / min(10, |test|))
and NDCG@10, per method, plus training time and the latency of one recommendation call
(scoring every item for one user, the in-memory core of ``GET /me/recommendations``).

The blend is scored with the same functions serving uses (``service.blend``,
``service.centroid``, ``training.build_interactions``/``fit_als``), and ``--grid`` also
prints the weights it tried, so the defaults in ``service.py`` can be checked honestly.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np

from plaza.personas.models import ActivityKind
from plaza.personas.recommend import service
from plaza.personas.recommend.training import (
    Event,
    TrainParams,
    build_interactions,
    fit_als,
)

K = 10
THEMES = {
    "hiking": (
        "hiking boots",
        "trail backpack",
        "trekking poles",
        "mountain jacket",
        "hiking socks",
    ),
    "coffee": (
        "espresso machine",
        "coffee grinder",
        "espresso cups",
        "milk frother",
        "coffee beans",
    ),
    "yoga": ("yoga mat", "yoga blocks", "meditation cushion", "yoga leggings", "yoga strap"),
    "baby": ("baby romper", "toddler toy", "baby blanket", "teething ring", "baby bottle"),
    "garden": ("garden trowel", "plant pot", "potting soil", "watering can", "pruning shears"),
    "cycling": ("bike helmet", "bike lights", "cycling gloves", "bike pannier", "bike lock"),
    "running": ("running shoes", "running shorts", "sports watch", "running vest", "water bottle"),
    "winter": ("wool scarf", "knit beanie", "winter gloves", "wool sweater", "thermal socks"),
    "beach": ("beach towel", "swim shorts", "sun hat", "flip flops", "sunscreen lotion"),
    "office": ("desk lamp", "notebook", "fountain pen", "desk organiser", "office chair"),
    "camping": ("camping tent", "sleeping bag", "camp stove", "head torch", "camping chair"),
    "baking": ("bread tin", "mixing bowl", "stand mixer", "baking tray", "rolling pin"),
}
ADJECTIVES = (
    "classic",
    "lightweight",
    "premium",
    "compact",
    "everyday",
    "deluxe",
    "recycled",
    "handmade",
    "organic",
    "sturdy",
)


@dataclass
class Dataset:
    events: list[Event]
    item_ids: list[uuid.UUID]
    texts: dict[uuid.UUID, str]


def generate(users: int, items: int, seed: int = 7) -> Dataset:
    rng = random.Random(seed)
    themes = list(THEMES)
    popular_n = max(items // 20, 3)
    per_theme = (items - popular_n) // len(themes)
    item_ids: list[uuid.UUID] = []
    texts: dict[uuid.UUID, str] = {}
    by_theme: dict[str, list[uuid.UUID]] = defaultdict(list)
    for t in themes:
        for j in range(per_theme):
            pid = uuid.UUID(int=rng.getrandbits(128))
            noun = THEMES[t][j % len(THEMES[t])]
            adj = ADJECTIVES[(j // len(THEMES[t])) % len(ADJECTIVES)]
            texts[pid] = f"{adj.title()} {noun.title()}. {t}. {adj} {noun} for {t} lovers."
            by_theme[t].append(pid)
            item_ids.append(pid)
    popular: list[uuid.UUID] = []
    for j in range(popular_n):
        pid = uuid.UUID(int=rng.getrandbits(128))
        texts[pid] = f"Gift Card {j}. gifts. A gift card for any occasion."
        popular.append(pid)
        item_ids.append(pid)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    events: list[Event] = []
    for _ in range(users):
        uid = uuid.UUID(int=rng.getrandbits(128))
        liked = rng.sample(themes, rng.choice((1, 1, 2)))
        # Within a theme, a user favours a few items (zipf-like): the signal ALS can learn.
        for _ in range(rng.randint(6, 20)):
            r = rng.random()
            if r < 0.75:
                pool = by_theme[rng.choice(liked)]
                pid = pool[min(int(rng.paretovariate(1.2)) - 1, len(pool) - 1)]
                pid = pid if rng.random() < 0.6 else rng.choice(pool)
            elif r < 0.9:
                pid = popular[min(int(rng.paretovariate(1.0)) - 1, len(popular) - 1)]
            else:
                pid = rng.choice(item_ids)
            at = start + dt.timedelta(minutes=rng.randint(0, 180 * 24 * 60))
            events.append(Event(uid, pid, ActivityKind.PURCHASE, 1, at))
    return Dataset(events, item_ids, texts)


def load_demo() -> Dataset:
    from plaza.catalog.features import product_features
    from plaza.db import get_database
    from plaza.personas.recommend.training import load_events

    db = get_database()
    with db.reading() as s:
        events = load_events(s)
        feats = product_features(s)
    return Dataset(events, list(feats), {pid: f.text() for pid, f in feats.items()})


def split(
    events: Sequence[Event], test_share: float = 0.2
) -> tuple[list[Event], dict[uuid.UUID, set[uuid.UUID]]]:
    """Per user, the last ``test_share`` of their purchases (by time) are the test set."""
    by_user: dict[uuid.UUID, list[Event]] = defaultdict(list)
    for e in events:
        by_user[e.user_id].append(e)
    train: list[Event] = []
    test: dict[uuid.UUID, set[uuid.UUID]] = {}
    for uid, evs in by_user.items():
        evs.sort(key=lambda e: e.at)
        buys = [e for e in evs if e.kind == ActivityKind.PURCHASE]
        n_test = int(len(buys) * test_share)
        if n_test == 0 or len(buys) - n_test < 1:
            train.extend(evs)
            continue
        cut = buys[-n_test].at
        seen = {e.product_id for e in evs if e.at < cut}
        train.extend(e for e in evs if e.at < cut)
        held = {e.product_id for e in buys[-n_test:]} - seen
        if held:
            test[uid] = held
    return train, test


def metrics(ranked: Sequence[uuid.UUID], truth: set[uuid.UUID]) -> tuple[float, float]:
    top = list(ranked[:K])
    hits = [1.0 if p in truth else 0.0 for p in top]
    recall = sum(hits) / min(len(truth), K)
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(truth), K)))
    return recall, dcg / idcg if idcg else 0.0


def encode_items(data: Dataset) -> np.ndarray:
    from plaza.personas.recommend.encoder import encode

    return encode([data.texts[p] for p in data.item_ids])


Scorer = Callable[[uuid.UUID], np.ndarray]


def evaluate(data: Dataset, *, grid: bool = False, params: TrainParams | None = None) -> None:
    params = params or TrainParams()
    train_events, test = split(data.events)
    items = data.item_ids
    irow = {p: i for i, p in enumerate(items)}

    t0 = time.perf_counter()
    vectors = encode_items(data)
    embed_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    inter = build_interactions(train_events)
    users_f, items_f = fit_als(inter.matrix, params)
    train_s = time.perf_counter() - t0
    urow = {u: i for i, u in enumerate(inter.user_ids)}
    m_irow = {p: i for i, p in enumerate(inter.item_ids)}
    model_item = np.array([m_irow.get(p, -1) for p in items])
    in_model = model_item >= 0

    split_at = max(e.at for e in train_events)
    pop = np.zeros(len(items), dtype=np.float32)
    for e in train_events:
        if e.kind == ActivityKind.PURCHASE and e.product_id in irow:
            age = (split_at - e.at).total_seconds() / 86400
            pop[irow[e.product_id]] += service.decayed([age], [e.quantity])
    history: dict[uuid.UUID, list[Event]] = defaultdict(list)
    for e in train_events:
        history[e.user_id].append(e)

    def als_of(uid: uuid.UUID) -> np.ndarray | None:
        if uid not in urow:
            return None
        raw = items_f @ users_f[urow[uid]]
        out = np.full(len(items), np.nan, dtype=np.float32)
        out[in_model] = raw[model_item[in_model]]
        return out

    def content_of(uid: uuid.UUID) -> np.ndarray | None:
        evs = sorted(history[uid], key=lambda e: e.at, reverse=True)
        recent = list(dict.fromkeys(e.product_id for e in evs))[: service.HISTORY_ITEMS]
        rows = [irow[p] for p in recent if p in irow]
        c = service.centroid(vectors[rows], [1.0] * len(rows)) if rows else None
        return None if c is None else vectors @ c

    def rank(scores: np.ndarray, uid: uuid.UUID) -> list[uuid.UUID]:
        seen = {irow[e.product_id] for e in history[uid] if e.product_id in irow}
        s = scores.copy()
        s[list(seen)] = -np.inf
        top = np.argpartition(-s, K)[:K]
        return [items[i] for i in top[np.argsort(-s[top])]]

    methods: dict[str, Callable[[uuid.UUID], np.ndarray]] = {
        "popularity": lambda uid: service.minmax(pop),
        "ALS": lambda uid: (
            service.blend(als_of(uid), None, pop, (1.0, 0.0, 0.0))
            if uid in urow
            else service.minmax(pop)
        ),
        "content": lambda uid: (
            service.blend(None, content_of(uid), pop, (0.0, 1.0, 0.0))
            if history[uid]
            else service.minmax(pop)
        ),
        "blend (served)": lambda uid: service.blend(als_of(uid), content_of(uid), pop),
    }
    if grid:
        for wa, wc, wp in (
            (1.0, 0.0, 0.0),
            (0.7, 0.3, 0.0),
            (0.5, 0.4, 0.1),
            (0.5, 0.3, 0.2),
            (0.6, 0.2, 0.2),
            (0.6, 0.1, 0.3),
            (0.5, 0.2, 0.3),
        ):
            methods[f"blend {wa}/{wc}/{wp}"] = lambda uid, w=(wa, wc, wp): service.blend(
                als_of(uid), content_of(uid), pop, w
            )

    users = sorted(test, key=str)
    print(
        f"dataset: {len({e.user_id for e in data.events})} users × {len(items)} items, "
        f"{len(data.events)} interactions; test users: {len(users)}"
    )
    print(
        f"embedding {len(items)} items (NumPy encoder): {embed_s:.1f} s; "
        f"ALS training ({params.factors} factors, {params.iterations} iterations): {train_s:.2f} s"
    )
    print()
    print(f"{'method':<22} {'recall@10':>10} {'NDCG@10':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for name, fn in methods.items():
        recalls, ndcgs, lat = [], [], []
        for uid in users:
            t = time.perf_counter()
            ranked = rank(fn(uid), uid)
            lat.append((time.perf_counter() - t) * 1000)
            r, n = metrics(ranked, test[uid])
            recalls.append(r)
            ndcgs.append(n)
        lat.sort()
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(
            f"{name:<22} {statistics.fmean(recalls):>10.4f} {statistics.fmean(ndcgs):>10.4f} "
            f"{statistics.median(lat):>8.2f} {p99:>8.2f}"
        )
    print()
    print(
        "Most common test items:",
        Counter(p for t in test.values() for p in t).most_common(1)[0][1],
        "users share the top one",
    )


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--items", type=int, default=600)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--demo", action="store_true", help="Evaluate on the demo database.")
    ap.add_argument("--grid", action="store_true", help="Also print other blend weights.")
    args = ap.parse_args(argv)
    data = load_demo() if args.demo else generate(args.users, args.items, args.seed)
    evaluate(data, grid=args.grid)


if __name__ == "__main__":
    main()
