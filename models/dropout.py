"""Inverted dropout (JMLR 2014) on 16 hashed random bits per element."""

from __future__ import annotations

import keras
from keras import ops

from models import hash_random

RESOLUTION = 1 << 16  # an element's random number is one of 2**16 values


class Dropout(keras.layers.Layer):
    """In training, zeroes each element with probability `rate` and scales the others by 1 / (1 - rate).

    Call: x (any shape) -> same shape and dtype. The random bits are
    `hash_random.random_bits` of a word drawn once per call from the layer's
    SeedGenerator (a variable: checkpoints resume the same masks) and of the
    element's index; each uint32 covers two elements (16 bits each), so an
    element is dropped with probability round(rate * 2**16) / 2**16, within
    8e-6 of `rate`. This costs about half of `keras.layers.Dropout`'s 32-bit
    Philox uniforms on CPU. As with Keras dropout, the masks depend on how a
    batch is split across replicas.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.threshold = round(rate * RESOLUTION)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True  # no weights

    def call(self, x, training=None):
        if not training or not self.threshold:
            return x
        shape, count = ops.shape(x), ops.size(x)
        words = hash_random.random_bits(
            hash_random.draw_word(self.seed_generator),
            ops.arange((count + 1) // 2),
            hash_random.DROPOUT,
        )
        halves = ops.reshape(ops.view(words, "uint16"), (-1,))[:count]
        keep = ops.greater_equal(halves, ops.cast(self.threshold, "uint16"))
        scale = ops.where(keep, 1.0 / (1.0 - self.rate), 0.0)
        return x * ops.stop_gradient(ops.cast(ops.reshape(scale, shape), x.dtype))
