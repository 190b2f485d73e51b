"""Generators that are fixed distributions: uniform and unigram (ELECTRA paper, sec. 3.2).

The uniform generator is the release's `uniform_generator` (every id of the
vocabulary equally likely). The unigram generator samples tokens by their
frequency in the training corpus; its log-probabilities live in a
non-trainable weight (so checkpoints keep them) set from counts.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

# Logit of ids that are never sampled; exp(-1e4) is 0 in float32.
NEVER = -1e4


def unigram_logits(counts, never_ids) -> np.ndarray:
    """Log-probabilities (V,) float32 from token counts (V,), add-one smoothed.

    never_ids (the special tokens) get logit NEVER, i.e. probability 0.
    """
    counts = np.asarray(counts, dtype=np.float64) + 1.0
    counts[list(never_ids)] = 0.0
    logits = np.full(counts.shape, NEVER, dtype=np.float64)
    seen = counts > 0
    logits[seen] = np.log(counts[seen] / counts[seen].sum())
    return logits.astype(np.float32)


class FixedDistributionHead(keras.layers.Layer):
    """The same logits at every prediction slot, from a non-trainable (V,) weight.

    Call: positions (B, P) int -> logits (B, P, V). Zeros (uniform) until
    `set_logits` is called.
    """

    def __init__(self, vocab_size: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.logits = self.add_weight(
            shape=(vocab_size,), initializer="zeros", trainable=False, name="logits"
        )

    def set_logits(self, logits) -> None:
        self.logits.assign(ops.convert_to_tensor(logits, "float32"))

    def call(self, positions):
        shape = (ops.shape(positions)[0], ops.shape(positions)[1], self.vocab_size)
        return ops.broadcast_to(self.logits[None, None, :], shape)
