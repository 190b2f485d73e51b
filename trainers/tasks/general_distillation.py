"""General distillation (TinyBERT's first, task-independent step) as a task of the one loop.

A pre-trained (not fine-tuned) teacher run's discriminator encoder, frozen,
teaches a student encoder on pre-training TFRecords without labels: the
embedding-output, hidden-state and attention-score MSEs over real tokens
(trainers.tasks.distillation's intermediate losses). The student is the
discriminator of an ElectraPretrainer of the student's sizes, so the run
directory is a pre-trained run of the student (its generator and heads stay
as initialised): trainers.finetune and trainers.distill start from it.
"""
from __future__ import annotations

import tensorflow as tf

from configs import PretrainConfig
from configs.distill_config import DistillConfig
from models.distillation_loss import attention_pairs, intermediate_sums
from models.distillation_student import DistillationStudent
from models.pretrainer import ElectraPretrainer
from trainers.model_loading import load_pretrainer
from trainers.tasks.distillation import describe_intermediate, intermediate_loss, intermediate_metrics
from trainers.tasks.records import RecordsTask


class GeneralDistillationTask(RecordsTask):
    """config: the student's PretrainConfig; special_ids: the vocabulary's; train_pattern /
    eval_pattern: TFRecord globs of max_seq_length tokens; teacher_dir: the pre-trained teacher run;
    layer_map: the teacher layer (1..L) of each student layer."""

    count_names = ("tokens", "attention_pairs")

    def __init__(self, config: PretrainConfig, distill: DistillConfig, special_ids: dict, train_pattern: str,
                 eval_pattern: str, max_seq_length: int, teacher_dir: str, layer_map: list[int]):
        super().__init__(train_pattern, eval_pattern, max_seq_length)
        self.config, self.train_config, self.distill = config, config.train, distill
        self.special_ids = special_ids
        self.teacher_dir, self.layer_map = teacher_dir, layer_map
        self.teacher = None

    def build_model(self):
        student = ElectraPretrainer(self.config.model, self.special_ids, seed=self.config.train.seed)
        student(self.dummy_batch())  # every weight, so that checkpoints read as the student's pretrainer
        self.teacher = load_pretrainer(self.teacher_dir)[0].discriminator
        self.teacher.trainable = False
        return DistillationStudent(student, self.teacher.config.hidden_size, name="distillation")

    def statistics(self, model, batch, training):
        mask = batch["input_mask"]
        student = model(batch, training=training, return_layers=True)
        teacher = self.teacher(batch["input_ids"], mask, batch["segment_ids"], training=False, return_layers=True)
        sums = intermediate_sums(student, teacher, mask, self.layer_map)
        sums.update(tokens=tf.reduce_sum(tf.cast(mask, tf.float32)),
                    attention_pairs=attention_pairs(mask, self.config.model.encoder.num_heads))
        return sums

    def loss(self, stats, counts, stage):
        return intermediate_loss(stats, counts, self.distill)

    def metrics(self, totals, stage):
        return intermediate_metrics(totals, self.distill)

    def describe(self, metrics):
        return describe_intermediate(metrics)

    def stage_variables(self, model, stage):
        """The student's encoder and the projections (not the generator or the heads)."""
        return model.encoder.trainable_variables + [v for p in model.projections() for v in p.trainable_variables]

    def eval_step(self, model, batch):
        return self.statistics(model, batch, training=False), {}

    def evaluation_metrics(self, sums, rows, step, split):
        return intermediate_metrics(sums, self.distill)
