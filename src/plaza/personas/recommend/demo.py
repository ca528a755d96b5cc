"""Demo hook: embed the demo catalog and train the first model (after the personas demo
has recorded customers' activity and consents)."""

from __future__ import annotations

import random

from plaza.db import Database
from plaza.personas.recommend.training import TrainParams, train


def seed(db: Database, rng: random.Random) -> dict[str, int]:
    """Embed every product (sentence-transformers when installed, else the NumPy encoder)
    and fit one ALS model; deterministic (ALS has a fixed random state)."""
    result = train(db, TrainParams())
    return {
        "products_embedded": result.embedded,
        "recommender_customers": result.users,
        "recommender_products": result.items,
    }
