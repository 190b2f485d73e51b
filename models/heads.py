"""Output heads: the tied masked-LM head and the replaced-token (RTD) head."""

from __future__ import annotations

import keras
from keras import ops

from configs import EncoderConfig
from models.embeddings import EmbeddingBlock, truncated_normal
from models.encoder import gelu
from models.layer_norm import LayerNorm


class MaskedLMHead(keras.layers.Layer):
    """Dense(E) + GELU + LayerNorm, then logits against the word embeddings.

    Call: hidden (B, P, H) -> logits (B, P, V). The output matrix is the
    embedding block's `word_embeddings` (tied); the bias is the head's own.
    """

    def __init__(self, config: EncoderConfig, embeddings: EmbeddingBlock, **kwargs):
        super().__init__(**kwargs)
        init = truncated_normal(config.initializer_range)
        self.embeddings = embeddings
        width = embeddings.config.embedding_size
        self.dense = keras.layers.Dense(width, kernel_initializer=init, name="transform")
        self.layer_norm = LayerNorm(
            epsilon=config.layer_norm_epsilon, name="layer_norm"
        )
        self.output_bias = self.add_weight(
            shape=(config.vocab_size,), initializer="zeros", name="output_bias"
        )

    def call(self, hidden):
        x = self.layer_norm(gelu(self.dense(hidden)))
        return ops.matmul(x, ops.transpose(self.embeddings.word_embeddings)) + self.output_bias


class ReplacedTokenHead(keras.layers.Layer):
    """Dense(H) + GELU, then one logit per token: > 0 means "replaced".

    Call: hidden (B, T, H) -> logits (B, T). As in the ELECTRA release, the
    first kernel is truncated normal(0.02) and the logit layer keeps the
    dense-layer default (Glorot uniform); Model Garden uses truncated normal for both.
    """

    def __init__(self, config: EncoderConfig, **kwargs):
        super().__init__(**kwargs)
        init = truncated_normal(config.initializer_range)
        self.dense = keras.layers.Dense(
            config.hidden_size, kernel_initializer=init, name="transform"
        )
        self.logit = keras.layers.Dense(1, name="logit")

    def call(self, hidden):
        return ops.squeeze(self.logit(gelu(self.dense(hidden))), axis=-1)
