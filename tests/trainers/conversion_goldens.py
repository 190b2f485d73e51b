"""The Hugging Face golden files (tests/goldens/make_hf_goldens.py) and logits of converted models on their inputs."""
from __future__ import annotations

import os

import numpy as np
import safetensors.numpy
import tensorflow as tf

GOLDENS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "goldens", "huggingface")
# embedding width != hidden (sharing embeddings); equal widths (sharing none); a generator of the
# release's proportions (FFN 4x, width / 64 heads, 1 of 2 layers) beside a discriminator with FFN 2x
SIZES = ("small", "base", "uneven")
BERT_MODELS = ("pretraining", "model", "masked_lm")  # BertForPreTraining, BertModel, BertForMaskedLM


def golden_dir(size: str, role: str | None = None) -> str:
    return os.path.join(GOLDENS, size, role) if role else os.path.join(GOLDENS, size)


def expected(size: str) -> dict[str, np.ndarray]:
    """Token ids, attention mask, token types (B, T) and transformers' logits: discriminator (B, T),
    generator (B, T, V)."""
    with np.load(os.path.join(golden_dir(size), "expected.npz")) as data:
        return dict(data)


def golden_tensors(size: str, role: str) -> dict[str, np.ndarray]:
    with open(os.path.join(golden_dir(size, role), "model.safetensors"), "rb") as f:
        return safetensors.numpy.load(f.read())


def model_logits(model, batch: dict) -> tuple[np.ndarray, np.ndarray]:
    """(discriminator (B, T), generator (B, T, V)) logits of an ElectraPretrainer on `batch`, every position."""
    ids, mask, segments = (tf.constant(batch[k], tf.int32) for k in ("input_ids", "attention_mask", "token_type_ids"))
    positions = tf.tile(tf.range(ids.shape[1])[None], [ids.shape[0], 1])
    return (model.discriminate(ids, mask, segments, training=False).numpy(),
            model.generator_logits(ids, mask, segments, positions, training=False).numpy())


def max_differences(model, size: str) -> tuple[float, float]:
    """Largest |logit difference| from transformers' of the discriminator and of the generator."""
    batch = expected(size)
    disc, gen = model_logits(model, batch)
    return (float(np.abs(disc - batch["discriminator_logits"]).max()),
            float(np.abs(gen - batch["generator_logits"]).max()))


def bert_outputs(model, batch: dict) -> dict[str, np.ndarray]:
    """A BERT run's pretrainer (objective mlm) on `batch`: last hidden states (B, T, H), the pooled
    output (B, H) where it has a pooler, and masked-LM logits at every position (B, T, V)."""
    ids, mask, segments = (tf.constant(batch[k], tf.int32) for k in ("input_ids", "attention_mask", "token_type_ids"))
    hidden = model.discriminator(ids, mask, segments, training=False)
    out = {"hidden": hidden.numpy(), "mlm_logits": model.generator_head(hidden).numpy()}
    if model.config.pooler:
        out["pooled"] = model.pooler(hidden[:, 0]).numpy()
    return out
