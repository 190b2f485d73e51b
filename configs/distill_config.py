"""Typed, frozen settings of a distillation run (trainers.distill): the method, its losses' weights
and temperature, the layer map and TinyBERT's first stage. Saved as the run's distillation.json.

Defaults come from the papers: DistilBERT (arXiv:1910.01108) trains on 5 x the
soft-target loss at temperature 2, 2 x the hard-label loss and 1 x the cosine
loss; TinyBERT (arXiv:1909.10351) sums the embedding, hidden-state and
attention-score MSEs (weight 1 each) in its intermediate stage, then learns the
teacher's predictions at temperature 1 without hard labels.
"""
from __future__ import annotations

import dataclasses

from configs.pretrain_config import apply_overrides

# labels: hard labels only (the student's twin without a teacher); prediction: soft targets + hard
# labels; distilbert: prediction + cosine of the last hidden states; tinybert: an intermediate
# stage (embeddings, hidden states, attention scores), then prediction; general: the intermediate
# losses on pre-training data from a pre-trained teacher (no labels, no head).
METHODS = ("labels", "prediction", "distilbert", "tinybert", "general")
# Overrides of these keys (--override=distill.KEY=VALUE) go to DistillConfig.
PREFIX = "distill."


@dataclasses.dataclass(frozen=True)
class DistillConfig:
    """method: see METHODS. Prediction losses: `soft_weight` x KL at `temperature` (times T^2;
    regression: squared error to the teacher's output) + `hard_weight` x the labels' loss +
    `cosine_weight` x (1 - cosine) of the last hidden states. Intermediate losses:
    `embedding_weight`, `hidden_weight`, `attention_weight` x the MSEs, summed over the layers of
    `layer_map` ("" TinyBERT's uniform map; else the teacher layer 1..N of each student layer).
    TinyBERT's first stage runs `intermediate_epochs` at `intermediate_learning_rate` (0: the
    run's train.learning_rate) before the prediction stage's `epochs`."""

    method: str = "prediction"
    temperature: float = 2.0
    soft_weight: float = 5.0
    hard_weight: float = 2.0
    cosine_weight: float = 0.0
    embedding_weight: float = 1.0
    hidden_weight: float = 1.0
    attention_weight: float = 1.0
    layer_map: str = ""
    intermediate_epochs: float = 10.0
    intermediate_learning_rate: float = 0.0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"distill.method must be one of {METHODS}, got {self.method!r}")
        if self.temperature <= 0 or self.intermediate_epochs <= 0 or self.intermediate_learning_rate < 0:
            raise ValueError("distill.temperature and distill.intermediate_epochs must be > 0, "
                             "distill.intermediate_learning_rate >= 0")
        weights = (self.soft_weight, self.hard_weight, self.cosine_weight, self.embedding_weight,
                   self.hidden_weight, self.attention_weight)
        if min(weights) < 0:
            raise ValueError("distillation loss weights must be >= 0")

    @property
    def intermediate(self) -> bool:
        """Whether the run has an intermediate-layer stage (its only one for general distillation)."""
        return self.method in ("tinybert", "general")

    @property
    def uses_teacher_predictions(self) -> bool:
        return self.method != "general" and (self.soft_weight > 0 or self.cosine_weight > 0 or self.intermediate)


def method_defaults(method: str) -> DistillConfig:
    """The papers' settings of `method` (see the module docstring)."""
    if method == "labels":
        return DistillConfig(method, soft_weight=0.0, hard_weight=1.0)
    if method == "distilbert":
        return DistillConfig(method, cosine_weight=1.0)
    if method in ("tinybert", "general"):
        return DistillConfig(method, temperature=1.0, soft_weight=1.0, hard_weight=0.0)
    return DistillConfig(method)


def distill_config(method: str, overrides: list[str] = ()) -> DistillConfig:
    """`method`'s defaults with `distill.KEY=VALUE` overrides (the prefix already removed or not)."""
    return apply_overrides(method_defaults(method), [o[len(PREFIX):] if o.startswith(PREFIX) else o
                                                     for o in overrides])
