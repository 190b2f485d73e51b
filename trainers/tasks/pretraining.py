"""Pre-training as a task of the one loop: ELECTRA's RTD and the objectives it is compared with.

The objective's math (masking, sampling, labels, losses) is model math in
models/ (pretrainer, rtd_loss); this task wires it to the loop: TFRecords from
pipelines.build_pretraining_data in, summed statistics and metrics out, the
two-stage schedule, and the held-out baselines.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import ops

from configs import PretrainConfig
from models.pretrainer import ElectraPretrainer
from models.rtd_loss import LOSS_COUNTS, loss_weights, replica_loss, rtd_metrics, rtd_statistics
from models.two_stage import init_discriminator_from_generator, stage_at, stage_variables
from trainers import baselines
from trainers.input_data import make_dataset
from trainers.tasks.records import RecordsTask

RTD_OBJECTIVES = ("electra", "electra_15")


class PretrainingTask(RecordsTask):
    """config: the resolved PretrainConfig; special_ids: {"pad", "cls", "sep", "mask", ...} -> id;
    the records' arguments are RecordsTask's."""

    count_names = LOSS_COUNTS

    def __init__(self, config: PretrainConfig, special_ids: dict, train_pattern: str, max_seq_length: int,
                 eval_pattern: str = "", skip_corrupt_records: bool = False, shard_examples: dict | None = None):
        super().__init__(train_pattern, eval_pattern, max_seq_length, skip_corrupt_records, shard_examples)
        self.config, self.train_config = config, config.train
        self.special_ids = special_ids
        self.has_discriminator = config.model.objective != "mlm"

    def build_model(self):
        return ElectraPretrainer(self.config.model, self.special_ids, seed=self.config.train.seed)

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
