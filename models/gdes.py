"""Gradient-disentangled embedding sharing, GDES (the DeBERTaV3 paper, sec. 3.2-3.3).

With plain sharing the generator's MLM loss and the discriminator's RTD loss
pull the shared embeddings in opposite directions. Under GDES the
discriminator reads E_D = stop_gradient(E_G) + E_delta: the MLM loss alone
trains E_G (the generator's block), the RTD loss alone trains the residual
E_delta, which starts at zero, so the first forward pass equals plain sharing.
DeBERTaV3 shares the token embeddings this way; ELECTRA also shares the
position and segment embeddings and the embedding LayerNorm, so each of those
weights gets its residual too.
"""

from __future__ import annotations

import keras
from keras import ops

from models.embeddings import EmbeddingBlock, embedding_sum
from models.layer_norm import layer_norm


class DisentangledEmbeddings(keras.layers.Layer):
    """The discriminator's embedding block over a shared (generator) block.

    Call as EmbeddingBlock: input_ids, segment_ids (B, T) int -> (B, T, E).
    `word_embeddings` (V, E) is the combined table (for tied output layers).
    """

    def __init__(self, shared: EmbeddingBlock, **kwargs):
        super().__init__(**kwargs)
        self.shared = shared
        self.config = c = shared.config
        e = c.embedding_size

        def residual(name, shape, autocast=True):
            return self.add_weight(
                shape=shape, initializer="zeros", name=name, autocast=autocast
            )

        self.word_residual = residual("word_residual", (c.vocab_size, e))
        self.position_residual = residual("position_residual", (c.max_position_embeddings, e))
        self.segment_residual = residual("segment_residual", (c.type_vocab_size, e))
        # Like the LayerNorm's own scale and offset, read in float32.
        self.gamma_residual = residual("layer_norm_gamma_residual", (e,), autocast=False)
        self.beta_residual = residual("layer_norm_beta_residual", (e,), autocast=False)

    @staticmethod
    def _combined(shared_weight, residual):
        return ops.stop_gradient(ops.convert_to_tensor(shared_weight)) + residual

    @property
    def word_embeddings(self):
        return self._combined(self.shared.word_embeddings, self.word_residual)

    def call(self, input_ids, segment_ids, training=None):
        s = self.shared
        x = embedding_sum(
            self.word_embeddings,
            self._combined(s.position_embeddings, self.position_residual),
            self._combined(s.segment_embeddings, self.segment_residual),
            input_ids,
            segment_ids,
        )
        norm = s.layer_norm
        x = layer_norm(
            x,
            self._combined(norm.gamma, self.gamma_residual),
            self._combined(norm.beta, self.beta_residual),
            norm.epsilon,
        )
        return s.dropout(ops.cast(x, self.compute_dtype), training=training)  # its dropout, too
