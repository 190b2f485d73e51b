"""The embedding block: word + position (+ segment) embeddings, (LayerNorm,) dropout."""

from __future__ import annotations

import keras
from keras import ops

from configs import EncoderConfig
from models.dropout import Dropout
from models.layer_norm import LayerNorm


def truncated_normal(stddev: float) -> keras.initializers.Initializer:
    """BERT/ELECTRA weight init: normal(0, stddev) truncated at 2 stddev."""
    return keras.initializers.TruncatedNormal(stddev=stddev)


class EmbeddingBlock(keras.layers.Layer):
    """Word + position + segment embeddings, then LayerNorm and dropout.

    Call: input_ids (B, T) int, segment_ids (B, T) int -> (B, T, E) float,
    E = embedding_size. `word_embeddings` (V, E) is also the output matrix of
    the masked-LM heads that read this block (tied weights). ELECTRA's
    generator and discriminator share one block (paper, sec. 3.1).
    A causal LM (GPT-2) has no segments and no LayerNorm here (`segments`,
    `normalize` False: segment_ids is None) and may give each token's
    position, `positions` (B, T) int (left-padded prompts, cached decoding).
    """

    def __init__(self, config: EncoderConfig, segments: bool = True, normalize: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        init = truncated_normal(config.initializer_range)
        e = config.embedding_size
        self.word_embeddings = self.add_weight(
            shape=(config.vocab_size, e), initializer=init, name="word_embeddings"
        )
        self.position_embeddings = self.add_weight(
            shape=(config.max_position_embeddings, e), initializer=init, name="position_embeddings"
        )
        self.segment_embeddings = self.layer_norm = None
        if segments:
            self.segment_embeddings = self.add_weight(
                shape=(config.type_vocab_size, e), initializer=init, name="segment_embeddings"
            )
        if normalize:
            self.layer_norm = LayerNorm(epsilon=config.layer_norm_epsilon, name="layer_norm")
            self.layer_norm.build((None, None, e))
        self.dropout = Dropout(config.dropout_rate)

    def call(self, input_ids, segment_ids=None, training=None, positions=None):
        x = embedding_sum(
            self.word_embeddings,
            self.position_embeddings,
            self.segment_embeddings,
            input_ids,
            segment_ids,
            positions,
        )
        if self.layer_norm is not None:
            x = self.layer_norm(x)
        return self.dropout(x, training=training)


def embedding_sum(word, position, segment, input_ids, segment_ids, positions=None):
    """Word + position + segment embeddings (B, T, E) of input_ids, segment_ids (B, T)
    from the tables word (V, E), position (max positions, E), segment (S, E); positions
    0..T-1 unless `positions` (B, T) int is given; no segment term if `segment` is None."""
    x = ops.take(word, input_ids, axis=0)
    if positions is None:
        x = x + ops.expand_dims(position[: ops.shape(input_ids)[1]], 0)
    else:
        x = x + ops.take(position, positions, axis=0)
    return x if segment is None else x + ops.take(segment, segment_ids, axis=0)
