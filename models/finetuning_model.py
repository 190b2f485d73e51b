"""The discriminator's encoder with a new task head, for fine-tuning (ELECTRA paper, sec. 3.1).

Weights of the encoder come from a pre-trained ElectraPretrainer's
discriminator (`copy_encoder_weights`); the head is new.
"""

from __future__ import annotations

import keras

from configs import EncoderConfig
from models.embeddings import EmbeddingBlock
from models.encoder import Encoder
from models.task_heads import ClassificationHead, SpanHead

HEADS = ("classification", "span")


class FinetuningModel(keras.Model):
    """Call: {"input_ids", "input_mask", "segment_ids"} (B, T) int ->
    head "classification": {"logits": (B, num_outputs)} (from BERT's pooler if `pooler`);
    head "span": SpanHead's outputs, the end given features["start_positions"] (B,) when
    present (training), else given each of the `beam_size` likeliest starts.
    """

    def __init__(self, config: EncoderConfig, head: str, num_outputs: int = 1, beam_size: int = 20,
                 pooler: bool = False, **kwargs):
        super().__init__(**kwargs)
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; choose one of {HEADS}")
        self.config, self.head_kind = config, head
        self.embeddings = EmbeddingBlock(config, name="embeddings")
        self.encoder = Encoder(config, self.embeddings, name="discriminator")
        if head == "classification":
            self.head = ClassificationHead(num_outputs, config.dropout_rate, config.hidden_size if pooler else 0,
                                           name="classifier")
        else:
            self.head = SpanHead(beam_size, name="span_head")

    def call(self, features, training=None):
        mask = features["input_mask"]
        hidden = self.encoder(features["input_ids"], mask, features["segment_ids"], training=training)
        if self.head_kind == "classification":
            return {"logits": self.head(hidden, training=training)}
        return self.head(hidden, mask, features["segment_ids"], features.get("start_positions"))

    def layer_depths(self) -> list[int]:
        """Per trainable variable (model order): 0 for embeddings and their projection, i + 1 for
        encoder layer i (a layer shared by several depths takes its topmost), L + 1 for the head."""
        depth = {}
        layers = self.encoder.config.num_layers
        for i, group in enumerate(self.encoder.schedule):
            for v in self.encoder.layers[group].trainable_variables:
                depth[id(v)] = i + 1
        for v in self.head.trainable_variables:
            depth[id(v)] = layers + 1
        return [depth.get(id(v), 0) for v in self.trainable_variables]


def copy_encoder_weights(source: Encoder, target: Encoder) -> int:
    """Copies every weight of encoder `source` (embeddings included) into `target`, which has
    the same sizes; random-seed states are left alone. Returns the number of variables copied."""
    def weights(encoder):
        return [v for v in encoder.variables if "seed_generator" not in v.path]

    source_weights, target_weights = weights(source), weights(target)
    if len(source_weights) != len(target_weights):
        raise ValueError(f"the encoders differ: {len(source_weights)} weights to copy into {len(target_weights)}")
    pairs = list(zip(source_weights, target_weights))
    for s, t in pairs:
        if tuple(s.shape) != tuple(t.shape):
            raise ValueError(f"cannot copy {s.path} {tuple(s.shape)} into {t.path} {tuple(t.shape)}")
        t.assign(s)
    return len(pairs)
