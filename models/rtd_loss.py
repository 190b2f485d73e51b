"""RTD losses and metrics, as sums so that they add up across batches and replicas.

Loss (ELECTRA paper, eq. 1): mlm_weight * MLM + disc_weight * D, where MLM is
the cross-entropy mean over masked positions and D the sigmoid cross-entropy
mean over all non-padding tokens.
"""
from __future__ import annotations

from keras import ops

STATISTICS = ("mlm_loss_sum", "mlm_correct", "sampled_correct", "mlm_count", "disc_loss_sum", "disc_correct",
              "disc_count", "replaced", "predicted_replaced", "true_positive")


def rtd_statistics(outputs: dict) -> dict:
    """Per-batch sums (keys: STATISTICS) from an `ElectraPretrainer` output dict; float32 scalars.

    mlm_*: over masked positions (count = mlm_count); disc_*: over non-padding
    tokens (count = disc_count); replaced: tokens labelled replaced;
    predicted_replaced / true_positive: for precision and recall.
    """
    weights = outputs["mlm_weights"]
    log_probs = ops.log_softmax(ops.cast(outputs["mlm_logits"], "float32"), axis=-1)
    targets = outputs["mlm_targets"]
    target_log_probs = ops.squeeze(ops.take_along_axis(log_probs, ops.expand_dims(targets, -1), axis=-1), -1)
    predictions = ops.cast(ops.argmax(log_probs, axis=-1), targets.dtype)
    sampled = ops.cast(outputs["sampled_ids"], targets.dtype)

    token_mask = ops.cast(outputs["input_mask"], "float32")
    labels = ops.cast(outputs["disc_labels"], "float32")
    disc_logits = ops.cast(outputs["disc_logits"], "float32")
    # Stable sigmoid cross-entropy: max(z, 0) - z * y + log(1 + exp(-|z|)).
    disc_losses = ops.relu(disc_logits) - disc_logits * labels + ops.log1p(ops.exp(-ops.abs(disc_logits)))
    disc_predicted = ops.cast(disc_logits > 0, "float32")

    def total(x, mask):
        return ops.sum(ops.cast(x, "float32") * mask)

    return {
        "mlm_loss_sum": total(-target_log_probs, weights),
        "mlm_correct": total(ops.equal(predictions, targets), weights),
        "sampled_correct": total(ops.equal(sampled, targets), weights),
        "mlm_count": ops.sum(weights),
        "disc_loss_sum": total(disc_losses, token_mask),
        "disc_correct": total(ops.equal(disc_predicted, labels), token_mask),
        "disc_count": ops.sum(token_mask),
        "replaced": total(labels, token_mask),
        "predicted_replaced": total(disc_predicted, token_mask),
        "true_positive": total(disc_predicted * labels, token_mask),
    }


def _ratio(numerator, denominator):
    return numerator / ops.maximum(denominator, 1e-6)


def rtd_metrics(stats: dict, mlm_weight: float = 1.0, disc_weight: float = 50.0) -> dict:
    """Losses and metrics (scalars) from summed `rtd_statistics`."""
    mlm_loss = _ratio(stats["mlm_loss_sum"], stats["mlm_count"])
    disc_loss = _ratio(stats["disc_loss_sum"], stats["disc_count"])
    return {
        "loss": mlm_weight * mlm_loss + disc_weight * disc_loss,
        "mlm_loss": mlm_loss,
        "disc_loss": disc_loss,
        "mlm_accuracy": _ratio(stats["mlm_correct"], stats["mlm_count"]),
        "sampled_accuracy": _ratio(stats["sampled_correct"], stats["mlm_count"]),
        "disc_accuracy": _ratio(stats["disc_correct"], stats["disc_count"]),
        "disc_precision": _ratio(stats["true_positive"], stats["predicted_replaced"]),
        "disc_recall": _ratio(stats["true_positive"], stats["replaced"]),
        "replaced_fraction": _ratio(stats["replaced"], stats["disc_count"]),
    }
