"""Next-token prediction's loss and statistics (a causal LM's objective), as per-replica sums."""

from __future__ import annotations

import math

from keras import ops

LM_COUNTS = ("targets",)  # the statistic that normalises the loss


def next_token_statistics(logits, targets, byte_lengths) -> dict:
    """Sums over one batch: logits (B, T, V) float32 (position t scores token t + 1), targets
    (B, T) int (the next tokens), byte_lengths (V,) float32 (UTF-8 bytes of each token's text) ->
    {"loss_sum": cross-entropy in nats, "targets": predictions, "correct": argmax hits,
    "bytes": the targets' text bytes}, float32 scalars."""
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    targets = ops.cast(targets, "int32")
    picked = ops.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    hits = ops.cast(ops.equal(ops.cast(ops.argmax(log_probs, axis=-1), "int32"), targets), "float32")
    return {"loss_sum": -ops.sum(picked), "targets": ops.cast(ops.size(targets), "float32"),
            "correct": ops.sum(hits), "bytes": ops.sum(ops.take(byte_lengths, targets, axis=0))}


def lm_metrics(totals: dict) -> dict:
    """Scalars from summed statistics: loss (nats/token), perplexity, accuracy, bits per byte."""
    targets = max(float(totals["targets"]), 1.0)
    loss = float(totals["loss_sum"]) / targets
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "accuracy": float(totals["correct"]) / targets,
            "bits_per_byte": float(totals["loss_sum"]) / math.log(2) / max(float(totals["bytes"]), 1.0)}
