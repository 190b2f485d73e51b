"""Task distillation as a task of the one loop: a student learns a fine-tuned teacher's task.

The teacher (a fine-tuning run's model, trainers.model_loading.load_finetuned) is
built with the student under the strategy's scope, frozen, and called inside
each step. Phase "prediction": distill.soft_weight x the soft targets' loss
(KL at the temperature, times T^2; regression: squared error to the teacher's
output) + hard_weight x the labels' loss + cosine_weight x (1 - cosine) of the
last hidden states. Phase "intermediate" (TinyBERT's first stage): the
embedding-output, hidden-state and attention-score MSEs over real tokens.
Evaluation is the student's, as for any classification run. Features as
ClassificationTask's.
"""
from __future__ import annotations

from keras import ops

from configs import FinetuneConfig
from configs.distill_config import DistillConfig
from models.distillation_loss import (
    attention_pairs,
    cosine_distance_sum,
    intermediate_sums,
    output_squared_error,
    soft_cross_entropy,
)
from models.distillation_student import DistillationStudent
from trainers.model_loading import load_finetuned
from trainers.tasks.classification import ClassificationTask, label_loss
from trainers.tasks.finetuning import layerwise_multipliers

PHASES = ("prediction", "intermediate")


def intermediate_loss(stats: dict, counts: dict, distill: DistillConfig):
    """TinyBERT's intermediate loss from the sums of `intermediate_sums` and the global counts."""
    tokens = ops.maximum(counts["tokens"], 1.0)
    return (distill.embedding_weight * stats["embedding_sum"] / tokens
            + distill.hidden_weight * stats["hidden_sum"] / tokens
            + distill.attention_weight * stats["attention_sum"] / ops.maximum(counts["attention_pairs"], 1.0))


def intermediate_metrics(totals: dict, distill: DistillConfig) -> dict:
    """The loss and each MSE (hidden states': summed over the mapped layers) from summed statistics."""
    tokens, pairs = max(float(totals["tokens"]), 1.0), max(float(totals["attention_pairs"]), 1.0)
    metrics = {"embedding_mse": float(totals["embedding_sum"]) / tokens,
               "hidden_mse": float(totals["hidden_sum"]) / tokens,
               "attention_mse": float(totals["attention_sum"]) / pairs}
    metrics["loss"] = (distill.embedding_weight * metrics["embedding_mse"] + distill.hidden_weight
                       * metrics["hidden_mse"] + distill.attention_weight * metrics["attention_mse"])
    return metrics


def describe_intermediate(metrics: dict) -> str:
    return (f"loss {metrics['loss']:.4f} emb {metrics['embedding_mse']:.4f} hidden {metrics['hidden_mse']:.4f} "
            f"att {metrics['attention_mse']:.4f}")


class DistillationTask(ClassificationTask):
    """config: the student's FinetuneConfig; teacher_dir: the fine-tuned teacher run; layer_map:
    the teacher layer (1..L) of each student layer (intermediate phase)."""

    count_names = ("examples", "tokens", "attention_pairs")

    def __init__(self, config: FinetuneConfig, features: dict, num_outputs: int, distill: DistillConfig,
                 phase: str, teacher_dir: str, layer_map: list[int]):
        super().__init__(config, features, num_outputs)
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        self.distill, self.phase, self.teacher_dir, self.layer_map = distill, phase, teacher_dir, layer_map
        self.intermediate = phase == "intermediate"
        self.calls_teacher = self.intermediate or distill.soft_weight > 0 or distill.cosine_weight > 0
        self.teacher = None

    def build_model(self):
        student = super().build_model()
        student(self.dummy_batch(), training=False)
        teacher_width = None
        if self.calls_teacher:
            self.teacher = load_finetuned(self.teacher_dir)
            self.teacher.trainable = False
            if self.intermediate or self.distill.cosine_weight > 0:
                teacher_width = self.teacher.config.hidden_size
        return DistillationStudent(student, teacher_width, name="distillation")

    def _teacher(self, batch, layers: bool):
        """The frozen teacher's last hidden states and logits, or with `layers` its encoder's layers."""
        t = self.teacher
        args = (batch["input_ids"], batch["input_mask"], batch["segment_ids"])
        if layers:
            return t.encoder(*args, training=False, return_layers=True)
        hidden = t.encoder(*args, training=False)
        return ops.stop_gradient(hidden), ops.stop_gradient(ops.cast(t.head(hidden, training=False), "float32"))

    def statistics(self, model, batch, training):
        mask = batch["input_mask"]
        sums = {"examples": ops.cast(ops.shape(mask)[0], "float32"), "tokens": ops.sum(ops.cast(mask, "float32"))}
        if self.intermediate:
            student = model(batch, training=training, return_layers=True)
            teacher = self._teacher(batch, layers=True)
            sums.update(intermediate_sums(student, teacher, mask, self.layer_map),
                        attention_pairs=attention_pairs(mask, self.config.encoder.num_heads))
            return sums
        d = self.distill
        out = model(batch, training=training, return_hidden=d.cosine_weight > 0)
        logits = ops.cast(out["logits"], "float32")
        hard, correct = label_loss(logits, batch["label"], self.regression)
        sums.update(hard_sum=ops.sum(hard), correct=ops.sum(correct), attention_pairs=ops.zeros(()))
        if self.calls_teacher:
            t_hidden, t_logits = self._teacher(batch, layers=False)
            soft = (output_squared_error(logits, t_logits) if self.regression
                    else soft_cross_entropy(logits, t_logits, d.temperature))
            sums["soft_sum"] = ops.sum(soft)
            if not self.regression:
                agree = ops.equal(ops.argmax(logits, axis=-1), ops.argmax(t_logits, axis=-1))
                sums["agreement"] = ops.sum(ops.cast(agree, "float32"))
            if d.cosine_weight > 0:
                sums["cosine_sum"] = cosine_distance_sum(out["hidden"], t_hidden, mask)
        return sums

    def loss(self, stats, counts, stage):
        if self.intermediate:
            return intermediate_loss(stats, counts, self.distill)
        d = self.distill
        loss = d.hard_weight * stats["hard_sum"] / ops.maximum(counts["examples"], 1.0)
        if "soft_sum" in stats:
            loss = loss + d.soft_weight * stats["soft_sum"] / ops.maximum(counts["examples"], 1.0)
        if "cosine_sum" in stats:
            loss = loss + d.cosine_weight * stats["cosine_sum"] / ops.maximum(counts["tokens"], 1.0)
        return loss

    def metrics(self, totals, stage):
        if self.intermediate:
            return intermediate_metrics(totals, self.distill)
        d, examples = self.distill, max(float(totals["examples"]), 1.0)
        metrics = {"hard_loss": float(totals["hard_sum"]) / examples}
        if not self.regression:
            metrics["accuracy"] = float(totals["correct"]) / examples
        if "soft_sum" in totals:
            metrics["soft_loss"] = float(totals["soft_sum"]) / examples
        if "agreement" in totals:
            metrics["teacher_agreement"] = float(totals["agreement"]) / examples
        if "cosine_sum" in totals:
            metrics["cosine_loss"] = float(totals["cosine_sum"]) / max(float(totals["tokens"]), 1.0)
        metrics["loss"] = (d.hard_weight * metrics["hard_loss"] + d.soft_weight * metrics.get("soft_loss", 0.0)
                           + d.cosine_weight * metrics.get("cosine_loss", 0.0))
        return metrics

    def describe(self, metrics):
        if self.intermediate:
            return describe_intermediate(metrics)
        text = f"loss {metrics['loss']:.4f} hard {metrics['hard_loss']:.4f}"
        if "soft_loss" in metrics:
            text += f" soft {metrics['soft_loss']:.4f}"
        if "cosine_loss" in metrics:
            text += f" cos {metrics['cosine_loss']:.4f}"
        if "accuracy" in metrics:
            text += f" acc {metrics['accuracy']:.3f}"
        if "teacher_agreement" in metrics:
            text += f" agree {metrics['teacher_agreement']:.3f}"
        return text

    def stage_variables(self, model, stage):
        """The variables this phase's loss reaches: not the task head in the intermediate phase,
        not the embedding projection in the prediction phase."""
        skip = model.student.head if self.intermediate else model.embedding_projection
        skipped = {id(v) for v in skip.trainable_variables} if skip is not None else set()
        return [v for v in model.trainable_variables if id(v) not in skipped]

    def learning_rate_multipliers(self, model):
        c = self.config
        if c.layerwise_lr_decay == 1:
            return None
        top = c.encoder.num_layers + 1
        depths = model.student.layer_depths() + [top] * sum(len(p.trainable_variables) for p in model.projections())
        return layerwise_multipliers(depths, top, c.layerwise_lr_decay, c.layerwise_depths)
