"""Sentence-order prediction, SOP (the ALBERT paper, sec. 3.1 and 4.6).

A two-segment example `[CLS] A [SEP] B [SEP]` (A and B consecutive text of
one document, as the pipeline packs them) is shown as `[CLS] B [SEP] A [SEP]`
with probability 1/2, drawn anew each time it is seen and keyed by its
content like the masking draws (models.hash_random); a pooler (dense + tanh
on [CLS], as BERT's) and a 2-way classifier predict whether it was swapped
(label 1). Single-segment examples are not swapped and carry no SOP loss.
"""

from __future__ import annotations

import keras
from keras import ops

from configs import EncoderConfig
from models import hash_random
from models.embeddings import truncated_normal


def two_segment_rows(segment_ids, input_mask):
    """(B,) bool: rows with a second segment (segment id 1 on a real token)."""
    return ops.any((segment_ids > 0) & (input_mask > 0), axis=1)


def swap_draws(keys):
    """keys (B,) uint32 -> (B,) bool, true with probability 1/2."""
    bits = hash_random.random_bits(keys, 0, hash_random.SEGMENT_SWAP)
    return hash_random.to_uniform(bits) < 0.5


def swap_segments(input_ids, segment_ids, input_mask, swap):
    """`[CLS] A [SEP] B [SEP]` -> `[CLS] B [SEP] A [SEP]` in the rows where swap (B,) is true.

    input_ids, segment_ids, input_mask (B, T) int; swapped rows must hold two
    segments. Returns (input_ids, segment_ids) (B, T): segment 0 is then
    `[CLS] B [SEP]`, segment 1 `A [SEP]`; padding is unchanged.
    """
    position = ops.arange(ops.shape(input_ids)[1], dtype="int32")[None, :]
    real = ops.cast(input_mask > 0, "int32")
    length = ops.sum(real, axis=1, keepdims=True)  # n = |A| + |B| + 3
    first = ops.sum(ops.cast(segment_ids == 0, "int32") * real, axis=1, keepdims=True)  # |A| + 2
    size_a, size_b = first - 2, length - first - 1
    source = ops.where(
        position == 0,
        0,  # [CLS]
        ops.where(
            position <= size_b,
            first + position - 1,  # B
            ops.where(
                position == size_b + 1,
                first - 1,  # the first [SEP]
                ops.where(position <= size_b + 1 + size_a, position - size_b - 1, position),
            ),
        ),
    )  # A, then the final [SEP] and padding in place
    swapped_ids = ops.take_along_axis(input_ids, source, axis=1)
    second = (position >= size_b + 2) & (position < length)
    swapped_segments = ops.cast(second, segment_ids.dtype)
    swap = swap[:, None]
    return ops.where(swap, swapped_ids, input_ids), ops.where(swap, swapped_segments, segment_ids)


class SentenceOrderHead(keras.layers.Layer):
    """Pooler (dense H + tanh on the first token) and a 2-way classifier.

    Call: hidden (B, T, H) -> logits (B, 2); class 1 = segments swapped.
    """

    def __init__(self, config: EncoderConfig, **kwargs):
        super().__init__(**kwargs)
        init = truncated_normal(config.initializer_range)
        self.pooler = keras.layers.Dense(
            config.hidden_size, activation="tanh", kernel_initializer=init, name="pooler"
        )
        self.classifier = keras.layers.Dense(2, kernel_initializer=init, name="classifier")

    def call(self, hidden):
        return self.classifier(self.pooler(hidden[:, 0]))


def sentence_order_sums(logits, labels, weights):
    """(loss sum, correct sum) of the 2-way softmax over rows: logits (B, 2),
    labels (B,) int, weights (B,) float (1 for two-segment rows)."""
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    labels = ops.cast(labels, "int32")
    nll = -ops.squeeze(ops.take_along_axis(log_probs, labels[:, None], axis=-1), -1)
    correct = ops.cast(ops.equal(ops.cast(ops.argmax(log_probs, axis=-1), "int32"), labels), "float32")
    return ops.sum(nll * weights), ops.sum(correct * weights)
