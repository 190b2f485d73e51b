"""Counter-based random numbers keyed by example content, the same on any replica layout.

Under tf.distribute each replica holds a slice of the global batch. A draw of
the slice's shape from a shared seed would give an example another mask and
other samples than it gets in a single-device run. Here every random number is
a hash of (a 32-bit word drawn once per call from a SeedGenerator, the
example's token ids, a stream id, the element's counters such as its position
or vocabulary index), so it does not depend on the example's row in the
batch or on the replica.

All arithmetic is uint32 and wraps modulo 2**32 (multiply, add, xor, shifts:
defined alike on the TensorFlow and JAX backends). The mixer is the
"lowbias32" integer finaliser (C. Wellons, "Prospecting for hash functions",
2018), a bijection of uint32 with low avalanche bias.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

GOLDEN = 0x9E3779B9  # 2**32 / golden ratio, odd: counter * GOLDEN is a bijection

# Independent streams: one per kind of draw.
MASK_SCORES, MASK_CHOICE, RANDOM_IDS, SAMPLE_KEYS, GUMBEL_NOISE = range(1, 6)
SEGMENT_SWAP, SPAN_LENGTHS, SPAN_ORDER, SPAN_BOUNDARY = range(6, 10)
DROPOUT = 10
GENERATION = 11  # models.generation: sampling keys per (row seed, step)

# Name of the SeedGenerator whose words key `row_keys` (models.pretrainer): one word per
# batch, so micro-batches that re-use their batch's word draw what the whole batch would.
ROW_KEY_SEED = "rtd_seed"


def u32(value):
    """A uint32 scalar tensor (Python ints would promote uint32 operands to int64)."""
    return ops.convert_to_tensor(np.asarray(value, dtype=np.uint32))


def mix32(x):
    """uint32 (...) -> uint32 (...): a bijective finaliser with full avalanche."""
    x = ops.bitwise_xor(x, ops.right_shift(x, u32(16)))
    x = ops.multiply(x, u32(0x7FEB352D))
    x = ops.bitwise_xor(x, ops.right_shift(x, u32(15)))
    x = ops.multiply(x, u32(0x846CA68B))
    return ops.bitwise_xor(x, ops.right_shift(x, u32(16)))


def draw_word(seed):
    """One uint32 scalar from `seed` (a SeedGenerator: advances its state once)."""
    halves = ops.cast(keras.random.randint((2,), 0, 1 << 16, seed=seed, dtype="int32"), "uint32")
    return ops.bitwise_or(ops.left_shift(halves[0], u32(16)), halves[1])


def row_keys(input_ids, seed):
    """input_ids (B, T) int -> keys (B,) uint32: a hash of each row's ids and positions,
    keyed by a fresh word from `seed`. Rows with equal ids get equal keys."""
    word = draw_word(seed)
    length = ops.shape(input_ids)[1]
    position_words = mix32(ops.bitwise_xor(ops.cast(ops.arange(length), "uint32"), word))
    tokens = ops.multiply(ops.cast(input_ids, "uint32"), u32(GOLDEN))
    content = ops.sum(mix32(ops.add(tokens, position_words[None, :])), axis=1)  # wraps
    return mix32(ops.bitwise_xor(content, word))


def random_bits(keys, counters, stream: int):
    """uint32 bits for (key, counter) pairs of one stream; keys and counters
    (uint32 or int >= 0) broadcast against each other to the output's shape."""
    counters = ops.add(ops.cast(counters, "uint32"), u32((stream * GOLDEN) % 2**32))
    return mix32(ops.bitwise_xor(keys, mix32(counters)))


def to_uniform(bits):
    """uint32 (...) -> float32 (...) uniform on [0, 1) in steps of 2**-24."""
    return ops.cast(ops.right_shift(bits, u32(8)), "float32") * (2.0**-24)
