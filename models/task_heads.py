"""Fine-tuning heads on the discriminator's hidden states, as in the ELECTRA release.

Kernels keep the Keras dense default (Glorot uniform), biases zero, like the
release's `tf.layers.dense` heads.
"""

from __future__ import annotations

import keras
from keras import ops

from models.encoder import gelu


class ClassificationHead(keras.layers.Layer):
    """[CLS] hidden state -> dropout -> dense: logits (B, num_outputs) (1 output for regression).

    Call: hidden (B, T, H) -> (B, num_outputs). ELECTRA's pooled output is the
    [CLS] vector itself (no pooler layer); with `pooler_size` H (BERT's recipe)
    it is first pooled: [CLS] -> dense H + tanh -> dropout -> dense.
    """

    def __init__(self, num_outputs: int, dropout_rate: float, pooler_size: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.pooler = keras.layers.Dense(pooler_size, activation="tanh", name="pooler") if pooler_size else None
        self.dropout = keras.layers.Dropout(dropout_rate)
        self.dense = keras.layers.Dense(num_outputs, name="output")

    def call(self, hidden, training=None):
        pooled = hidden[:, 0] if self.pooler is None else self.pooler(hidden[:, 0])
        return self.dense(self.dropout(pooled, training=training))


class SpanHead(keras.layers.Layer):
    """Joint answer-span head with an answerability classifier (SQuAD), as in the ELECTRA release.

    The paper (appendix A) uses XLNet's question-answering module: the end of
    the span is predicted given its start. Start logits: dense(1) per token;
    end logits for a start s: dense(1)(gelu(dense(512)([h_s; h_t]))) per token t;
    answerability: dense(1)(gelu(dense(512)([h_[CLS]; sum_t p_start(t) h_t]))).
    Answers may start and end at context tokens (segment 1) or at [CLS] (the
    target when a window holds no answer); other positions get -1e4.

    Call: hidden (B, T, H), input_mask, segment_ids (B, T) int, start_positions (B,) int or None ->
      with start_positions (training): start_logits, end_logits (B, T) float32 (end given those
        starts), answerable_logits (B,) (> 0: answerable);
      without (inference): start_logits (B, T), start_top_index (B, k) int32 and
        start_top_log_probs (B, k) of the k = min(beam_size, T) most likely starts,
        end_log_probs (B, k, T) given each of them, answerable_logits (B,).
    """

    def __init__(self, beam_size: int = 20, hidden_units: int = 512, **kwargs):
        super().__init__(**kwargs)
        self.beam_size = beam_size
        self.start = keras.layers.Dense(1, name="start")
        self.end_hidden = keras.layers.Dense(hidden_units, name="end_hidden")
        self.end = keras.layers.Dense(1, name="end")
        self.answerable_hidden = keras.layers.Dense(hidden_units, name="answerable_hidden")
        self.answerable = keras.layers.Dense(1, name="answerable")

    def build(self, hidden_shape):
        h, units = hidden_shape[-1], self.end_hidden.units
        self.start.build(hidden_shape)
        self.end_hidden.build((None, 2 * h))
        self.end.build((None, units))
        self.answerable_hidden.build((None, 2 * h))
        self.answerable.build((None, units))

    def _end_logits(self, start_hidden, hidden, penalty):
        """start_hidden (B, k, H), hidden (B, T, H) -> (B, k, T) float32: end_hidden applied to
        [start; token] without forming the (B, k, T, 2H) concatenation."""
        h = ops.shape(hidden)[-1]
        kernel = ops.cast(self.end_hidden.kernel, hidden.dtype)
        bias = ops.cast(self.end_hidden.bias, hidden.dtype)
        x = (ops.matmul(start_hidden, kernel[:h])[:, :, None] + ops.matmul(hidden, kernel[h:])[:, None] + bias)
        return ops.cast(self.end(gelu(x))[..., 0], "float32") + penalty[:, None]

    def call(self, hidden, input_mask, segment_ids, start_positions=None):
        seq = ops.shape(hidden)[1]
        allowed = ops.cast(input_mask, "float32") * ops.cast(segment_ids, "float32")
        allowed = ops.maximum(allowed, ops.one_hot(ops.zeros_like(allowed[:, 0], "int32"), seq))
        penalty = (1.0 - allowed) * -1e4
        start_logits = ops.cast(self.start(hidden)[..., 0], "float32") + penalty
        start_p = ops.cast(ops.softmax(start_logits, axis=-1), hidden.dtype)
        summary = ops.concatenate([hidden[:, 0], ops.sum(start_p[..., None] * hidden, axis=1)], axis=-1)
        answerable = ops.cast(self.answerable(gelu(self.answerable_hidden(summary)))[:, 0], "float32")
        out = {"start_logits": start_logits, "answerable_logits": answerable}
        if start_positions is not None:
            start_hidden = ops.take_along_axis(hidden, ops.cast(start_positions, "int32")[:, None, None], axis=1)
            out["end_logits"] = self._end_logits(start_hidden, hidden, penalty)[:, 0]
            return out
        k = min(self.beam_size, hidden.shape[1]) if hidden.shape[1] is not None else self.beam_size
        top_log_probs, top_index = ops.top_k(ops.log_softmax(start_logits, axis=-1), k)
        start_hidden = ops.take_along_axis(hidden, ops.cast(top_index, "int32")[..., None], axis=1)
        out.update(start_top_index=ops.cast(top_index, "int32"), start_top_log_probs=top_log_probs,
                   end_log_probs=ops.log_softmax(self._end_logits(start_hidden, hidden, penalty), axis=-1))
        return out
