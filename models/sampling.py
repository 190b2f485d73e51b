"""Sampling replacement tokens from the generator (ELECTRA paper, sec. 2)."""
from __future__ import annotations

import keras
from keras import ops


def gumbel_max_sample(logits, temperature: float, seed):
    """One token per row from softmax(logits / temperature), by the Gumbel-max trick.

    logits (..., V) float -> ids (...,) int32. No gradient flows to `logits`:
    the generator is trained by maximum likelihood only.
    """
    logits = ops.stop_gradient(ops.cast(logits, "float32")) / temperature
    uniform = keras.random.uniform(ops.shape(logits), minval=0.0, maxval=1.0, seed=seed)
    gumbel = -ops.log(-ops.log(uniform + 1e-9) + 1e-9)
    return ops.cast(ops.argmax(logits + gumbel, axis=-1), "int32")
