"""A fine-tuned classification or regression model with in-graph tokenization.

Inputs: `text` (B,) string, or for pair tasks `text_a`, `text_b` (B,) string.
Outputs, classification over K labels:
  probabilities (B, K) float32 (softmax of the logits),
  classes (B, K) string (the label names, in the order of probabilities),
  label (B,) string (the most probable label);
regression: score (B,) float32.
"""
from __future__ import annotations

import tensorflow as tf

from models.finetuning_model import FinetuningModel
from trainers.serving.text_encoder import TextEncoder


def _text_spec(name: str) -> tf.TensorSpec:
    return tf.TensorSpec([None], tf.string, name=name)


class TextClassifier(tf.Module):
    """`model` (classification head) on `text_encoder`'s inputs; labels: the label names in id order,
    None for regression; pair: two input texts.

    Holds the model's encoder and head, not the keras.Model: saving a Keras 3
    model also traces its default signature, which takes float inputs.
    """

    def __init__(self, model: FinetuningModel, text_encoder: TextEncoder, labels: list[str] | None, pair: bool):
        super().__init__()
        self.encoder, self.head, self.text_encoder = model.encoder, model.head, text_encoder
        self.labels = None if labels is None else tf.constant(labels)
        # No AutoGraph: no Python control flow depends on tensors, and converting tf_text's code
        # triples the time to trace.
        if pair:
            self.serve = tf.function(self._serve_pair, autograph=False,
                                     input_signature=[_text_spec("text_a"), _text_spec("text_b")])
        else:
            self.serve = tf.function(self._serve_text, autograph=False, input_signature=[_text_spec("text")])

    def _serve_text(self, text):
        return self._outputs(text)

    def _serve_pair(self, text_a, text_b):
        return self._outputs(text_a, text_b)

    def _outputs(self, texts_a, texts_b=None) -> dict:
        inputs = self.text_encoder.encode(texts_a, texts_b)
        hidden = self.encoder(inputs["input_ids"], inputs["input_mask"], inputs["segment_ids"], training=False)
        logits = tf.cast(self.head(hidden, training=False), tf.float32)
        if self.labels is None:
            return {"score": logits[:, 0]}
        batch = tf.shape(logits)[0]
        return {"probabilities": tf.nn.softmax(logits, axis=-1),
                "classes": tf.tile(self.labels[None], [batch, 1]),
                "label": tf.gather(self.labels, tf.argmax(logits, axis=-1))}
