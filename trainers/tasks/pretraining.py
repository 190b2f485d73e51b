"""Pre-training as a task of the one loop: ELECTRA's RTD and the objectives it is compared with.

The objective's math (masking, sampling, labels, losses) is model math in
models/ (pretrainer, rtd_loss); this task wires it to the loop: TFRecords from
pipelines.build_pretraining_data in, summed statistics and metrics out, the
two-stage schedule, and the held-out baselines.
"""
from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
from keras import ops

from configs import PretrainConfig
from models.pretrainer import ElectraPretrainer
from models.rtd_loss import LOSS_COUNTS, loss_weights, replica_loss, rtd_metrics, rtd_statistics
from models.two_stage import init_discriminator_from_generator, stage_at, stage_variables
from trainers import baselines
from core.cli import UserError
from trainers.input_data import corrupt_files, make_dataset
from trainers.tasks.base import Task

RTD_OBJECTIVES = ("electra", "electra_15")


class PretrainingTask(Task):
    """config: the resolved PretrainConfig; special_ids: {"pad", "cls", "sep", "mask", ...} -> id;
    train_pattern / eval_pattern: TFRecord globs; max_seq_length: T of the records."""

    count_names = LOSS_COUNTS

    def __init__(self, config: PretrainConfig, special_ids: dict, train_pattern: str, max_seq_length: int,
                 eval_pattern: str = "", skip_corrupt_records: bool = False, shard_examples: dict | None = None):
        """skip_corrupt_records: scan the files first and read only the readable part of corrupt
        ones; shard_examples {file name: examples} (the manifest's) says how many were lost."""
        self.config, self.train_config = config, config.train
        self.special_ids = special_ids
        self.train_pattern, self.eval_pattern = train_pattern, eval_pattern
        self.max_seq_length = max_seq_length
        self.has_discriminator = config.model.objective != "mlm"
        # {file: {"offset", "records_kept", "records_lost"}} of the corrupt files skipped.
        self.skipped = {}
        if skip_corrupt_records:
            for pattern in filter(None, (train_pattern, eval_pattern)):
                for path, (good, offset) in corrupt_files(pattern).items():
                    expected = (shard_examples or {}).get(os.path.basename(path))
                    self.skipped[path] = {"offset": offset, "records_kept": good,
                                          "records_lost": expected - good if expected is not None else None}
        self.record_limits = {path: s["records_kept"] for path, s in self.skipped.items()}

    def build_model(self):
        return ElectraPretrainer(self.config.model, self.special_ids, seed=self.config.train.seed)

    def dummy_batch(self):
        zeros = tf.zeros((1, self.max_seq_length), tf.int32)
        return {"input_ids": zeros, "input_mask": zeros, "segment_ids": zeros}

    def train_dataset(self, batch_size, context):
        t = self.config.train
        return make_dataset(self.train_pattern, batch_size, self.max_seq_length, training=True, seed=t.seed,
                            shuffle_buffer=t.shuffle_buffer, input_context=context, record_limits=self.record_limits)

    def eval_dataset(self, batch_size, split):
        if not self.eval_pattern:
            raise ValueError("no held-out data given (--eval_data)")
        return make_dataset(self.eval_pattern, batch_size, self.max_seq_length, training=False,
                            seed=self.config.train.seed, record_limits=self.record_limits)

    # -- training ------------------------------------------------------------

    def statistics(self, model, batch, training):
        return self._statistics(model(batch, training=training), batch)

    @staticmethod
    def _statistics(outputs, batch):
        stats = rtd_statistics(outputs)
        stats["tokens"] = ops.sum(ops.cast(batch["input_mask"], "float32"))
        return stats

    def loss(self, stats, counts, stage):
        return replica_loss(stats, counts, self.config.model, stage)

    def metrics(self, totals, stage):
        weights = loss_weights(self.config.model, stage)
        stats = {k: tf.constant(v) for k, v in totals.items()}
        values = {k: float(v) for k, v in rtd_metrics(stats, *weights).items() if np.ndim(v) == 0}
        if not self.has_discriminator:  # BERT: there is no discriminator to report
            values = {k: v for k, v in values.items()
                      if not k.startswith(("disc_", "sampled_")) and k != "replaced_fraction"}
        return values

    def describe(self, metrics):
        text = f"loss {metrics['loss']:.3f} mlm {metrics['mlm_loss']:.3f}"
        if self.has_discriminator:
            text += f" disc {metrics['disc_loss']:.4f} | disc_acc {metrics['disc_accuracy']:.3f}"
        text += f" | mlm_acc {metrics['mlm_accuracy']:.3f} mlm_entropy {metrics['generator_entropy']:.2f}"
        if "sop_loss" in metrics:  # sentence order
            text += f" | sop {metrics['sop_loss']:.4f} sop_acc {metrics['sop_accuracy']:.3f}"
        if "generator_reward" in metrics:  # adversarial generator training
            text += f" | reward {metrics['generator_reward']:.4f}"
        return text

    def stage_at(self, step):
        return stage_at(self.config.model, step)

    def next_stage_step(self, step):
        switch = self.config.model.two_stage_generator_steps
        return switch if switch and step < switch else None

    def stage_variables(self, model, stage):
        return stage_variables(model, stage)

    def begin_step(self, model, step):
        switch = self.config.model.two_stage_generator_steps
        if switch and step == switch:
            init_discriminator_from_generator(model)

    # -- evaluation --------------------------------------------------------------

    def eval_step(self, model, batch):
        outputs = model(batch, training=False)
        targets = ops.reshape(outputs["mlm_targets"], (-1,))
        weights = ops.reshape(ops.cast(outputs["mlm_weights"], "float32"), (-1,))
        sums = self._statistics(outputs, batch)
        sums["target_counts"] = ops.segment_sum(weights, targets, num_segments=self.config.model.encoder.vocab_size)
        return sums, {}

    def evaluation_metrics(self, sums, rows, step, split):
        target_counts = sums.pop("target_counts")
        metrics = self.metrics(sums, stage_at(self.config.model, step))
        metrics.update(
            tokens=float(sums["tokens"]), masked_positions=float(sums["mlm_count"]),
            most_frequent_token_accuracy=baselines.most_frequent_token_accuracy(target_counts))
        if self.has_discriminator:
            metrics["constant_disc_loss"] = baselines.constant_disc_loss(metrics["replaced_fraction"])
        return metrics

    def describe_evaluation(self, metrics):
        text = f"mlm_accuracy {metrics['mlm_accuracy']:.4f}"
        if self.has_discriminator:
            text = f"disc_loss {metrics['disc_loss']:.4f} disc_auc {metrics['disc_auc']:.4f} " + text
        return text

    def input_error(self, error, checkpoint):
        corrupt = {}
        for pattern in filter(None, (self.train_pattern, self.eval_pattern)):
            corrupt.update(corrupt_files(pattern))
        if not corrupt:
            return super().input_error(error, checkpoint)
        path, (good, offset) = next(iter(corrupt.items()))
        return UserError(f"{path}: corrupted record at byte {offset} (after {good} readable records); the "
                         f"last good state is saved in {checkpoint}; rerun with --skip_corrupt_records to train "
                         "without the unreadable rest of such files")

    # -- data-dependent set-up ------------------------------------------------------

    def count_tokens(self, max_batches: int = 1000) -> np.ndarray:
        """Token counts (V,) over the first `max_batches` training batches, padding excluded."""
        t, vocab_size = self.config.train, self.config.model.encoder.vocab_size
        counts = np.zeros(vocab_size, np.int64)
        dataset = make_dataset(self.train_pattern, t.batch_size, self.max_seq_length, training=False, seed=t.seed)
        for batch in dataset.take(max_batches):
            ids = batch["input_ids"].numpy()[batch["input_mask"].numpy() > 0]
            counts += np.bincount(ids, minlength=vocab_size)
        return counts
