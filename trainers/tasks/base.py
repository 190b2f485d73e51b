"""What a task gives the training loop (trainers/loop.py).

A task owns its model, its input, its losses and its metrics. Everything the
loop adds up is a per-replica *sum* (a loss sum, a count, a histogram), so
sums over replicas, micro-batches and steps are exact; `loss` divides this
replica's sums by the counts summed over all replicas, which makes the
replicas' gradients add up to the global batch's.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from configs import TrainConfig
from core.cli import UserError


class Task:
    """Base class; subclasses set `train_config`, `count_names` and implement the abstract methods."""

    train_config: TrainConfig
    # Statistics whose global sums normalise the loss (see `loss`).
    count_names: tuple[str, ...] = ()

    # -- model and data ----------------------------------------------------

    def build_model(self) -> keras.Model:
        """A new, unbuilt model (called under the strategy's scope)."""
        raise NotImplementedError

    def dummy_batch(self) -> dict:
        """One small batch of the input structure, to build the model."""
        raise NotImplementedError

    def train_dataset(self, batch_size: int, context: tf.distribute.InputContext) -> tf.data.Dataset:
        """Endless batches of `batch_size` examples for this worker, in an order fixed by the seed;
        its iterator goes into checkpoints, so its state must be small."""
        raise NotImplementedError

    def eval_dataset(self, batch_size: int, split: str) -> tf.data.Dataset:
        """One ordered pass over held-out split `split`."""
        raise NotImplementedError

    # -- training ------------------------------------------------------------

    def statistics(self, model, batch: dict, training: bool) -> dict:
        """Per-replica sums (float32 tensors of fixed shapes) for one batch; must hold
        "tokens" (non-padding input tokens, for tokens/s) and the `count_names`."""
        raise NotImplementedError

    def loss(self, stats: dict, counts: dict, stage: str):
        """This replica's share of the loss; counts: the `count_names` summed over replicas."""
        raise NotImplementedError

    def metrics(self, totals: dict, stage: str) -> dict:
        """Scalar metrics (with "loss") from statistics summed over steps and replicas."""
        raise NotImplementedError

    def describe(self, metrics: dict) -> str:
        """The task's part of a progress line."""
        return f"loss {metrics['loss']:.4f}"

    def learning_rate_multipliers(self, model) -> list[float] | None:
        """Per trainable variable (model order), a factor on the learning rate; None: all 1."""
        return None

    # Stages (two-stage pre-training); one "joint" stage by default.

    def stage_at(self, step: int) -> str:
        return "joint"

    def next_stage_step(self, step: int) -> int | None:
        """The next step > `step` at which the stage changes, if any."""
        return None

    def stage_variables(self, model, stage: str) -> list:
        return list(model.trainable_variables)

    def begin_step(self, model, step: int) -> None:
        """Called before the steps from `step` run (e.g. to copy weights at a stage switch)."""

    # -- evaluation ------------------------------------------------------------

    def eval_step(self, model, batch: dict) -> tuple[dict, dict]:
        """(sums, rows) for one held-out batch: sums add over replicas and batches; rows
        (leading batch dimension) are concatenated over the whole pass."""
        raise NotImplementedError

    def evaluation_metrics(self, sums: dict, rows: dict, step: int, split: str) -> dict:
        """Metrics of a whole held-out pass from summed `sums` and concatenated `rows` (numpy)."""
        raise NotImplementedError

    def input_error(self, error, checkpoint: str) -> Exception:
        """The error to raise when reading the training data failed with `error` (a
        tf.errors.DataLossError); the state before it was saved in `checkpoint`."""
        return UserError(f"unreadable training data ({error.message.strip()}); the last good state is saved "
                         f"in {checkpoint}")

    def describe_evaluation(self, metrics: dict) -> str:
        """One line of evaluation results."""
        return " ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
