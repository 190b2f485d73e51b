"""What every fine-tuning task shares: the model, in-memory inputs and layer-wise learning rates."""
from __future__ import annotations

import tensorflow as tf

from configs import FinetuneConfig
from models.finetuning_model import FinetuningModel
from trainers.input_data import in_memory_batches
from trainers.tasks.base import Task


def layerwise_multipliers(depths: list[int], top: int, decay: float, mode: str) -> list[float]:
    """Learning-rate factors from depths (0 embeddings, i + 1 encoder layer i, `top` = L + 1 the head).

    "paper": the head at the full rate, each level below one factor of `decay`
    lower (top layer decay, embeddings decay^(L + 1)). "release": the ELECTRA
    release's map, whose head sits at depth L + 2, so every encoder level gets
    one extra factor (top layer decay^2, embeddings decay^(L + 2)).
    """
    extra = 1 if mode == "release" else 0
    return [1.0 if d == top else decay ** (top - d + extra) for d in depths]


class FinetuningTask(Task):
    """The pre-trained encoder with task head `head` ("classification" with `num_outputs`
    logits, or "span"); features: {split: {name: (N, ...) array}}, "train" for training."""

    head = "classification"

    def __init__(self, config: FinetuneConfig, features: dict, num_outputs: int = 1):
        self.config, self.train_config = config, config.train
        self.features, self.num_outputs = features, num_outputs

    def build_model(self):
        return FinetuningModel(self.config.encoder, self.head, self.num_outputs, pooler=self.config.pooler)

    def dummy_batch(self):
        split = next(iter(self.features.values()))
        return {name: tf.constant(value[:1]) for name, value in split.items()}

    def train_dataset(self, batch_size, context):
        return in_memory_batches(self.features["train"], batch_size, self.config.train.seed, context)

    def eval_dataset(self, batch_size, split):
        if split not in self.features:
            raise ValueError(f"no {split} data")
        return tf.data.Dataset.from_tensor_slices(self.features[split]).batch(batch_size)

    def learning_rate_multipliers(self, model):
        c = self.config
        if c.layerwise_lr_decay == 1:
            return None
        return layerwise_multipliers(model.layer_depths(), c.encoder.num_layers + 1, c.layerwise_lr_decay,
                                     c.layerwise_depths)
