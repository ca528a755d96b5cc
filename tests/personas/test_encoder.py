"""The NumPy MiniLM encoder (serving) agrees with sentence-transformers (training)."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from plaza.personas.recommend.encoder import DIM, get_encoder

TEXTS = [
    "Storm Shell Coat. Northwind. outerwear. waterproof. A fully waterproof hooded coat.",
    "warm jacket for rain",
    "Espresso Cup Set. kitchen. Four porcelain espresso cups with saucers.",
    "Linen Beach Shorts — light linen shorts for hot, sunny days! 100% linen.",
    "Ünïcödé Grüße: Käse & Brötchen 🧀",
    "x",
    "word " * 400,  # longer than 256 tokens: truncated like the library does
]


def test_unit_vectors_and_order_independence() -> None:
    enc = get_encoder()
    out = enc.encode(TEXTS)
    assert out.shape == (len(TEXTS), DIM) and out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    alone = enc.encode([TEXTS[1]])[0]
    assert float(alone @ out[1]) > 0.9999  # padding in a batch changes nothing
    assert get_encoder() is enc  # one per process
    assert enc.encode([]).shape == (0, DIM)


def test_meaning() -> None:
    q, coat, cups = get_encoder().encode(TEXTS[1:2] + TEXTS[0:1] + TEXTS[2:3])
    assert float(q @ coat) > float(q @ cups) + 0.2


@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None,
    reason="sentence-transformers is not installed (training extra)",
)
def test_agrees_with_sentence_transformers() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    from plaza.personas.recommend.training import sentence_transformers_encode

    reference = sentence_transformers_encode()(TEXTS)
    mine = get_encoder().encode(TEXTS)
    cosines = (reference * mine).sum(axis=1)
    assert cosines.min() > 0.999, cosines
