"""Fine-tuning heads on the discriminator's hidden states, as in the ELECTRA release.

Kernels keep the Keras dense default (Glorot uniform), biases zero, like the
release's `tf.layers.dense` heads.
"""

from __future__ import annotations

import keras
from keras import ops


class ClassificationHead(keras.layers.Layer):
    """[CLS] hidden state -> dropout -> dense: logits (B, num_outputs) (1 output for regression).

    Call: hidden (B, T, H) -> (B, num_outputs). ELECTRA's pooled output is the
    [CLS] vector itself (no pooler layer).
    """

    def __init__(self, num_outputs: int, dropout_rate: float, **kwargs):
        super().__init__(**kwargs)
        self.dropout = keras.layers.Dropout(dropout_rate)
        self.dense = keras.layers.Dense(num_outputs, name="output")

    def call(self, hidden, training=None):
        return self.dense(self.dropout(hidden[:, 0], training=training))


class SpanHead(keras.layers.Layer):
    """Answer-span logits per token and an answerability logit (SQuAD).

    Call: hidden (B, T, H), input_mask (B, T) -> start_logits, end_logits (B, T)
    (padding at -1e4) and answerable_logits (B,) from the [CLS] vector.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.span = keras.layers.Dense(2, name="span")
        self.answerable = keras.layers.Dense(1, name="answerable")

    def call(self, hidden, input_mask):
        logits = ops.cast(self.span(hidden), "float32")
        padding = (1.0 - ops.cast(input_mask, "float32")) * -1e4
        start, end = logits[..., 0] + padding, logits[..., 1] + padding
        answerable = ops.squeeze(ops.cast(self.answerable(hidden[:, 0]), "float32"), -1)
        return start, end, answerable
