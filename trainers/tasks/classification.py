"""Sequence classification and regression: GLUE tasks and the user's own labelled texts.

Classification: softmax cross-entropy over the labels; regression (STS-B, the
user's `regression`): squared error of one output, as the ELECTRA release.
Features: input_ids, input_mask, segment_ids (N, T) int32, label (N,) int32
(regression: float32), example (N,) int32, the row's position in its split.
"""
from __future__ import annotations

import numpy as np
from keras import ops

from trainers.tasks.classification_metrics import classification_metrics, regression_metrics
from trainers.tasks.finetuning import FinetuningTask


def label_loss(logits, label, regression: bool):
    """Per example (loss, correct): softmax cross-entropy and 1/0 for the argmax being the label
    (logits (B, K) float32, label (B,) int); regression: squared error of logits[:, 0] to the
    label (B,) float and zeros. Each (B,) float32."""
    if regression:
        loss = ops.square(logits[:, 0] - ops.cast(label, "float32"))
        return loss, ops.zeros_like(loss)
    log_probs = ops.log_softmax(logits, axis=-1)
    loss = -ops.take_along_axis(log_probs, ops.cast(label, "int32")[:, None], axis=-1)[:, 0]
    return loss, ops.cast(ops.equal(ops.argmax(logits, axis=-1), ops.cast(label, "int64")), "float32")


class ClassificationTask(FinetuningTask):
    """num_outputs: the number of labels (1 for regression)."""

    count_names = ("examples",)

    @property
    def regression(self) -> bool:
        return self.config.task.is_regression

    def _outputs(self, model, batch, training):
        logits = ops.cast(model(batch, training=training)["logits"], "float32")
        loss, correct = label_loss(logits, batch["label"], self.regression)
        sums = {"loss_sum": ops.sum(loss), "correct": ops.sum(correct),
                "examples": ops.cast(ops.shape(logits)[0], "float32"),
                "tokens": ops.sum(ops.cast(batch["input_mask"], "float32"))}
        return sums, logits

    def statistics(self, model, batch, training):
        return self._outputs(model, batch, training)[0]

    def loss(self, stats, counts, stage):
        return stats["loss_sum"] / ops.maximum(counts["examples"], 1.0)

    def metrics(self, totals, stage):
        examples = max(float(totals["examples"]), 1.0)
        metrics = {"loss": float(totals["loss_sum"]) / examples}
        if not self.regression:
            metrics["accuracy"] = float(totals["correct"]) / examples
        return metrics

    def describe(self, metrics):
        text = f"loss {metrics['loss']:.4f}"
        return text if self.regression else text + f" acc {metrics['accuracy']:.3f}"

    def eval_step(self, model, batch):
        sums, logits = self._outputs(model, batch, training=False)
        return sums, {"logits": logits, "label": batch["label"], "example": batch["example"]}

    def evaluation_metrics(self, sums, rows, step, split):
        order = np.argsort(rows["example"], kind="stable")
        logits, labels = rows["logits"][order], rows["label"][order]
        metrics = {"loss": float(sums["loss_sum"]) / max(float(sums["examples"]), 1.0),
                   "examples": int(sums["examples"])}
        if self.regression:
            metrics.update(regression_metrics(logits[:, 0], labels.astype(np.float64)))
        else:
            metrics.update(classification_metrics(self.config.task.name, logits, labels))
        return metrics
