"""Post-LayerNorm Transformer encoder (BERT/ELECTRA), in Keras 3 ops.

Initialisation follows the ELECTRA release: truncated normal(0.02) for
embeddings and Transformer kernels, zero biases; the embedding projection
(`embeddings_project` there) is a plain dense layer with Glorot-uniform init.
"""

from __future__ import annotations

import keras
from keras import ops

from configs import EncoderConfig
from models.embeddings import EmbeddingBlock, truncated_normal
from models.layer_sharing import tie_sublayers


def gelu(x):
    """Exact (erf) GELU, as in the ELECTRA release; Keras defaults to tanh."""
    return keras.activations.gelu(x, approximate=False)


class TransformerLayer(keras.layers.Layer):
    """Self-attention and feed-forward blocks, each followed by add + LayerNorm.

    Call: x (B, T, H), attention_mask (B, T, T) bool -> (B, T, H).
    """

    def __init__(self, config: EncoderConfig, **kwargs):
        super().__init__(**kwargs)
        h, init = config.hidden_size, truncated_normal(config.initializer_range)
        eps = config.layer_norm_epsilon
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=config.num_heads,
            key_dim=h // config.num_heads,
            dropout=config.attention_dropout_rate,
            kernel_initializer=init,
            name="attention",
        )
        self.attention_dropout = keras.layers.Dropout(config.dropout_rate)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=eps, name="attention_norm")
        self.intermediate = keras.layers.Dense(
            config.intermediate_size, kernel_initializer=init, name="intermediate"
        )
        self.output_dense = keras.layers.Dense(h, kernel_initializer=init, name="output")
        self.output_dropout = keras.layers.Dropout(config.dropout_rate)
        self.output_norm = keras.layers.LayerNormalization(epsilon=eps, name="output_norm")

    def call(self, x, attention_mask, training=None):
        attended = self.attention(x, x, attention_mask=attention_mask, training=training)
        x = self.attention_norm(x + self.attention_dropout(attended, training=training))
        hidden = self.output_dense(gelu(self.intermediate(x)))
        return self.output_norm(x + self.output_dropout(hidden, training=training))


def layer_groups(num_layers: int, num_groups: int) -> list[int]:
    """Weight group of each layer: ALBERT's int(i * G / L) (Lan et al. 2020, sec. 3.1)."""
    return [i * num_groups // num_layers for i in range(num_layers)]


class Encoder(keras.layers.Layer):
    """Embeddings (possibly shared), projection to hidden width, Transformer stack.

    Call: input_ids, input_mask, segment_ids, each (B, T) int -> (B, T, H).
    The embedding block is passed in so that two encoders can share it. With
    `num_hidden_groups` G < L, `layers` holds G distinct layers and layer i
    of the stack runs `layers[layer_groups(L, G)[i]]` (cross-layer sharing);
    with `layer_sharing` "attention" or "ffn" it holds L layers that share
    only those blocks within a group.
    """

    def __init__(self, config: EncoderConfig, embeddings: EmbeddingBlock, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.embeddings = embeddings
        self.projection = None
        if embeddings.config.embedding_size != config.hidden_size:
            self.projection = keras.layers.Dense(config.hidden_size, name="embedding_projection")
        partial = config.layer_sharing != "all"  # ALBERT's ablations: models.layer_sharing
        count = config.num_layers if partial else config.num_groups
        self.layers = [TransformerLayer(config, name=f"layer_{i}") for i in range(count)]
        self.schedule = layer_groups(config.num_layers, count)
        if partial:
            groups = layer_groups(config.num_layers, config.num_groups)
            tie_sublayers(self.layers, groups, config.layer_sharing)

    def call(self, input_ids, input_mask, segment_ids, training=None):
        x = self.embeddings(input_ids, segment_ids, training=training)
        if self.projection is not None:
            x = self.projection(x)
        keys = ops.cast(input_mask, "bool")[:, None, :]  # (B, 1, T)
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        attention_mask = ops.broadcast_to(keys, (batch, length, length))
        for group in self.schedule:
            x = self.layers[group](x, attention_mask, training=training)
        return x
