"""Texts and text pairs -> model inputs in the graph, equal to trainers/text_features.py's `encode_texts`.

One text: [CLS] A [SEP]; a pair: [CLS] A [SEP] B [SEP] with segment ids 0 then
1. A pair longer than the budget loses tokens from the end of its longer text,
one at a time, ties from the second (BERT's and ELECTRA's fine-tuning), in the
closed form of `truncated_lengths`.
"""
from __future__ import annotations

import tensorflow as tf

from pipelines.tokenization import make_text_tokenizer


def truncated_lengths(length_a: tf.Tensor, length_b: tf.Tensor, budget: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(B,) int64 lengths after BERT's pair truncation to at most `budget` tokens in all
    (the graph form of trainers.text_features.truncated_lengths)."""
    fits = length_a + length_b <= budget
    a = tf.minimum(length_a, tf.maximum(budget - length_b, (budget + 1) // 2))
    a = tf.where(fits, length_a, a)
    return a, tf.where(fits, length_b, tf.minimum(length_b, budget - a))


def _head(ids: tf.RaggedTensor, lengths: tf.Tensor) -> tf.RaggedTensor:
    """The first `lengths[i]` ids of each row i."""
    positions = tf.ragged.range(ids.row_lengths())
    return tf.ragged.boolean_mask(ids, positions < lengths[:, None])


class TextEncoder(tf.Module):
    """The run's tokenizer (WordPiece vocab.txt or SentencePiece .model, `tokenizer_path`) and
    BERT's input layout, in the graph.

    special_ids: {"cls", "sep", "pad", ...} ids; max_seq_length: tokens per
    example with [CLS] and [SEP] (texts are truncated to fit).
    """

    def __init__(self, tokenizer_path: str, lowercase: bool, special_ids: dict, max_seq_length: int):
        super().__init__()
        self.tokenizer = make_text_tokenizer(tokenizer_path, lowercase)
        self.special_ids = dict(special_ids)
        self.max_seq_length = max_seq_length

    def encode(self, texts_a: tf.Tensor, texts_b: tf.Tensor | None = None) -> dict:
        """(B,) strings (and (B,) second texts) -> {"input_ids", "input_mask", "segment_ids"}
        (B, L) int32, L the batch's longest example (<= max_seq_length), padded with [PAD]; an empty
        batch is valid."""
        ids_a = self.tokenizer.tokenize(texts_a)
        batch = tf.shape(texts_a, out_type=tf.int64)[0]
        cls = tf.fill([batch, 1], tf.constant(self.special_ids["cls"], tf.int64))
        sep = tf.fill([batch, 1], tf.constant(self.special_ids["sep"], tf.int64))
        if texts_b is None:
            parts = [cls, ids_a[:, : self.max_seq_length - 2], sep]
            segments = [0, 0, 0]
        else:
            same = tf.debugging.assert_equal(tf.shape(texts_a), tf.shape(texts_b),
                                             message="the two inputs must hold the same number of texts")
            with tf.control_dependencies([same]):
                ids_b = self.tokenizer.tokenize(texts_b)
            length_a, length_b = truncated_lengths(ids_a.row_lengths(), ids_b.row_lengths(),
                                                   self.max_seq_length - 3)
            parts = [cls, _head(ids_a, length_a), sep, _head(ids_b, length_b), sep]
            segments = [0, 0, 0, 1, 1]
        ids = tf.concat(parts, axis=1)
        segment_ids = tf.concat([tf.zeros_like(part) + s for part, s in zip(parts, segments)], axis=1)
        # At least [CLS] [SEP] wide, so that an empty batch gives (0, 2) inputs and (0, ...) outputs.
        shape = tf.stack([batch, tf.maximum(ids.bounding_shape(axis=1), 2)])
        return {"input_ids": tf.cast(ids.to_tensor(default_value=self.special_ids["pad"], shape=shape), tf.int32),
                "input_mask": tf.cast(tf.ones_like(ids).to_tensor(default_value=0, shape=shape), tf.int32),
                "segment_ids": tf.cast(segment_ids.to_tensor(default_value=0, shape=shape), tf.int32)}
