"""SQuAD 1.1 and 2.0 fine-tuning: the span head's losses, and EM/F1 by the official scripts.

Loss per window, as the ELECTRA release (finetune/qa/qa_tasks.py): the mean of
the start's and the end's softmax cross-entropy (the end's logits given the
true start), plus, for 2.0, task.answerable_weight x the answerability sigmoid
cross-entropy (labelled per question). Windows that do not hold the answer
point start and end at [CLS]. Features: trainers.tasks.squad_graph.featurize's
windows; evaluation splits also hold "window" (W,) int32, the row's position.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import ops

from models.finetuning_model import FinetuningModel
from trainers.tasks.finetuning import FinetuningTask
from trainers.tasks.squad_graph import MODEL_INPUTS, merge_windows, window_candidates
from trainers.tasks.squad_json import SquadSplit
from trainers.tasks.squad_metrics import answers, squad_metrics

CANDIDATES = ("score", "start_log_prob", "end_log_prob", "start", "end")


def _cross_entropy(logits, positions):
    """logits (B, T), positions (B,) -> (B,) softmax cross-entropy."""
    log_probs = ops.log_softmax(logits, axis=-1)
    return -ops.take_along_axis(log_probs, ops.cast(positions, "int32")[:, None], axis=-1)[:, 0]


class SquadTask(FinetuningTask):
    """splits: {split: SquadSplit}, the questions behind each split's windows."""

    head = "span"
    count_names = ("windows",)

    def __init__(self, config, features: dict, splits: dict[str, SquadSplit]):
        super().__init__(config, features)
        self.splits = splits
        self.version_2 = config.task.name == "squad_v2"
        # SQuAD 2.0: no-answer score above which "" is answered; the dev evaluation sets it.
        self.null_threshold = 0.0

    def build_model(self):
        return FinetuningModel(self.config.encoder, self.head, beam_size=self.config.task.n_best_size)

    def statistics(self, model, batch, training):
        out = model({k: batch[k] for k in MODEL_INPUTS + ("start_positions",)}, training=training)
        start, end = batch["start_positions"], batch["end_positions"]
        loss = (_cross_entropy(out["start_logits"], start) + _cross_entropy(out["end_logits"], end)) / 2
        if self.version_2:
            logits, label = out["answerable_logits"], ops.cast(batch["answerable"], "float32")
            loss += self.config.task.answerable_weight * (ops.softplus(logits) - logits * label)

        def correct(logits, positions):
            return ops.sum(ops.cast(ops.equal(ops.argmax(logits, axis=-1), ops.cast(positions, "int64")), "float32"))
        return {"loss_sum": ops.sum(loss), "windows": ops.cast(ops.shape(loss)[0], "float32"),
                "tokens": ops.sum(ops.cast(batch["input_mask"], "float32")),
                "start_correct": correct(out["start_logits"], start), "end_correct": correct(out["end_logits"], end)}

    def loss(self, stats, counts, stage):
        return stats["loss_sum"] / ops.maximum(counts["windows"], 1.0)

    def metrics(self, totals, stage):
        windows = max(float(totals["windows"]), 1.0)
        return {"loss": float(totals["loss_sum"]) / windows, "start_accuracy": float(totals["start_correct"]) / windows,
                "end_accuracy": float(totals["end_correct"]) / windows}

    def describe(self, metrics):
        return f"loss {metrics['loss']:.4f} start acc {metrics['start_accuracy']:.3f}"

    def eval_step(self, model, batch):
        out = model({k: batch[k] for k in MODEL_INPUTS}, training=False)
        task = self.config.task
        rows = window_candidates(out["start_top_log_probs"], out["start_top_index"], out["end_log_probs"],
                                 batch["start_char"], batch["end_char"], task.max_answer_length, task.n_best_size)
        rows.update(answerable_logits=out["answerable_logits"], example=batch["example"], window=batch["window"])
        return {"windows": tf.cast(tf.shape(batch["window"])[0], tf.float32)}, rows

    def spans(self, rows: dict) -> dict:
        """Each question's n best spans and no-answer score (merge_windows) from an evaluation
        pass's rows, as numpy; a pass cut short covers the questions it reached."""
        order = np.argsort(rows["window"], kind="stable")
        rows = {k: v[order] for k, v in rows.items()}
        merged = merge_windows({name: tf.constant(rows[name]) for name in CANDIDATES},
                               tf.constant(rows["answerable_logits"]), tf.constant(rows["example"]),
                               int(rows["example"].max()) + 1)
        return {k: v.numpy() for k, v in merged.items()}

    def answers(self, rows: dict, split: str) -> tuple[dict, dict, dict | None]:
        """(predictions, nbest, no_answer (None for 1.1)) of split `split` from an evaluation pass's rows."""
        predictions, nbest, no_answer = answers(self.splits[split], self.spans(rows))
        return predictions, nbest, no_answer if self.version_2 else None

    def evaluation_metrics(self, sums, rows, step, split):
        predictions, _, no_answer = self.answers(rows, split)
        reached = set(predictions)
        dataset = [{"paragraphs": [{"qas": [qa]}]} for article in self.splits[split].dataset
                   for paragraph in article["paragraphs"] for qa in paragraph["qas"] if qa["id"] in reached]
        metrics = squad_metrics(dataset, predictions, no_answer)
        if self.version_2:
            self.null_threshold = metrics["best_f1_thresh"]
        metrics.update(questions=len(predictions), windows=int(sums["windows"]))
        return metrics

    def describe_evaluation(self, metrics):
        text = f"exact {metrics['exact']:.2f} f1 {metrics['f1']:.2f}"
        if self.version_2:
            text += (f" (no-answer threshold {metrics['best_f1_thresh']:.3f}; HasAns f1 "
                     f"{metrics.get('HasAns_f1', float('nan')):.2f}, NoAns f1 {metrics.get('NoAns_f1', float('nan')):.2f})")
        return text + f"; {metrics['questions']} questions, {metrics['windows']} windows"
