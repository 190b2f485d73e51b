"""The pre-trained discriminator with in-graph tokenization: per-token replaced probabilities (ELECTRA, sec. 2).

  text: (B,) string ->
    tokens (B, L) string ("" at padding), token_ids (B, L) int32,
    input_mask (B, L) int32, replaced_probability (B, L) float32 (0 at padding),
  with L <= max_seq_length ([CLS] and [SEP] included; longer texts are truncated).
"""
from __future__ import annotations

import tensorflow as tf

from models.pretrainer import ElectraPretrainer
from pipelines.tokenization import load_vocab
from trainers.serving.text_encoder import TextEncoder


class ReplacedTokenDetector(tf.Module):
    """The discriminator and its head; holds no generator weights. vocab_path: the run's vocab.txt."""

    def __init__(self, pretrainer: ElectraPretrainer, text_encoder: TextEncoder, vocab_path: str):
        super().__init__()
        self.discriminator = pretrainer.discriminator
        self.discriminator_head = pretrainer.discriminator_head
        self.text_encoder = text_encoder
        self.vocab = tf.constant(load_vocab(vocab_path))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")], autograph=False)  # as TextClassifier
    def serve(self, text):
        inputs = self.text_encoder.encode(text)
        input_ids, input_mask = inputs["input_ids"], inputs["input_mask"]
        hidden = self.discriminator(input_ids, input_mask, inputs["segment_ids"], training=False)
        logits = self.discriminator_head(hidden)
        probability = tf.sigmoid(tf.cast(logits, tf.float32)) * tf.cast(input_mask, tf.float32)
        tokens = tf.where(input_mask > 0, tf.gather(self.vocab, input_ids), "")
        return {"tokens": tokens, "token_ids": input_ids, "input_mask": input_mask,
                "replaced_probability": probability}
