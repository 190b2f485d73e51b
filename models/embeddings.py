"""The embedding block: word + position + segment embeddings, LayerNorm, dropout."""

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
    """

    def __init__(self, config: EncoderConfig, **kwargs):
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
        self.segment_embeddings = self.add_weight(
            shape=(config.type_vocab_size, e), initializer=init, name="segment_embeddings"
        )
        self.layer_norm = LayerNorm(
            epsilon=config.layer_norm_epsilon, name="layer_norm"
        )
        self.layer_norm.build((None, None, e))
        self.dropout = Dropout(config.dropout_rate)

    def call(self, input_ids, segment_ids, training=None):
        x = embedding_sum(
            self.word_embeddings,
            self.position_embeddings,
            self.segment_embeddings,
            input_ids,
            segment_ids,
        )
        return self.dropout(self.layer_norm(x), training=training)


def embedding_sum(word, position, segment, input_ids, segment_ids):
    """Word + position + segment embeddings (B, T, E) of input_ids, segment_ids (B, T)
    from the tables word (V, E), position (max positions, E), segment (S, E)."""
    length = ops.shape(input_ids)[1]
    x = ops.take(word, input_ids, axis=0)
    x = x + ops.expand_dims(position[:length], 0)
    return x + ops.take(segment, segment_ids, axis=0)
