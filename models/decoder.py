"""Decoder-only Transformer language model as GPT-2 specifies it ("Language Models are
Unsupervised Multitask Learners", 2019), in Keras 3 ops.

Built from the encoder's pieces: the EmbeddingBlock (word and learned
position embeddings, no segments, no LayerNorm), TransformerLayer in its
pre-LayerNorm form with a causal attention bias and GELU's tanh
approximation, and a final LayerNorm; the logits are the final states times
the word embeddings (tied, no bias). The two kernels of each block that add
to the residual stream start at std initializer_range / sqrt(2 * layers).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from configs import EncoderConfig
from models.embeddings import EmbeddingBlock
from models.encoder import TransformerLayer, gelu_tanh
from models.layer_norm import LayerNorm


def causal_bias(query_slots, key_mask):
    """query_slots (T,) int: each query's position among the S keys; key_mask (B, S) 1/0 (0 on
    padding) -> additive attention bias (B, 1, T, S) float32: 0 where key s <= the query's slot
    and is not padding, else -1e9."""
    keys = ops.arange(ops.shape(key_mask)[1])
    allowed = ops.logical_and(keys[None, :] <= ops.cast(query_slots, keys.dtype)[:, None],
                              ops.cast(key_mask, "bool")[:, None, :])
    return ops.where(allowed, 0.0, -1e9)[:, None]


class CausalLM(keras.layers.Layer):
    """GPT-2: token ids -> next-token logits. A Layer, not a Model: a SavedModel holding it then
    carries only the serving module's signatures.

    Call: input_ids (B, T) int -> logits (B, T, V) float32; position t scores
    token t + 1 from tokens 0..t only. `decode` runs the same computation with
    a key/value cache for generation (models.generation).
    """

    def __init__(self, config: EncoderConfig, **kwargs):
        super().__init__(**kwargs)
        if config.embedding_size != config.hidden_size:
            raise ValueError("a causal LM ties its logits to the embeddings: embedding_size must equal hidden_size")
        self.config = config
        self.embeddings = EmbeddingBlock(config, segments=False, normalize=False, name="embeddings")
        residual_stddev = config.initializer_range / math.sqrt(2 * config.num_layers)
        self.blocks = [TransformerLayer(config, pre_norm=True, activation=gelu_tanh, residual_stddev=residual_stddev,
                                        name=f"layer_{i}") for i in range(config.num_layers)]
        self.final_norm = LayerNorm(epsilon=config.layer_norm_epsilon, name="final_norm")

    def call(self, input_ids, training=None):
        length = ops.shape(input_ids)[1]
        bias = causal_bias(ops.arange(length), ops.ones((1, length), "int32"))
        x = self.embeddings(input_ids, training=training)
        for block in self.blocks:
            x = block(x, bias, training=training)
        return self.logits(self.final_norm(x))

    def logits(self, hidden):
        """Final states (B, T, H) -> logits (B, T, V) float32 against the word embeddings."""
        table = ops.cast(self.embeddings.word_embeddings, hidden.dtype)
        return ops.cast(ops.matmul(hidden, ops.transpose(table)), "float32")

    def empty_cache(self, batch: int, length: int) -> list:
        """Per block, (keys, values) zeros (B, S = length, N, H / N) in the compute dtype."""
        c = self.config
        shape = (batch, length, c.num_heads, c.hidden_size // c.num_heads)
        return [(ops.zeros(shape, self.compute_dtype), ops.zeros(shape, self.compute_dtype)) for _ in self.blocks]

    def decode(self, input_ids, positions, key_mask, cache: list, cache_index):
        """Inference on tokens at cache slots cache_index..cache_index + T - 1.

        input_ids, positions (B, T) int (positions: of the position embeddings);
        key_mask (B, S) 1/0 over the cache's slots (0: padding); cache from
        `empty_cache` or an earlier call -> (logits (B, T, V) float32, the
        cache with this call's keys and values written)."""
        length = ops.shape(input_ids)[1]
        bias = causal_bias(cache_index + ops.arange(length), key_mask)
        x = self.embeddings(input_ids, positions=positions)
        updated = []
        for block, held in zip(self.blocks, cache):
            x, held = block(x, bias, cache=held, cache_index=cache_index)
            updated.append(held)
        return self.logits(self.final_norm(x)), updated
