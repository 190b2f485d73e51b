"""Losses and metrics of the pre-training objectives, as sums that add up across
batches and replicas.

ELECTRA loss (paper, eq. 1): mlm_weight * MLM + disc_weight * D, where MLM is
the generator's cross-entropy mean over masked positions and D the
discriminator's sigmoid cross-entropy mean over its tokens (all non-padding
tokens; the masked ones for electra_15). "disc" names the model that is kept:
for replace_mlm / all_tokens_mlm its loss is a masked-LM cross-entropy
(all_tokens_mlm: with the copy mechanism of the paper's appendix), for mlm
(BERT) there is none and the disc_* sums are 0.

With sentence-order prediction (models.sentence_order) the SOP loss, a mean
over two-segment rows, is added with sop_weight; with adversarial generator
training (models.adversarial) the REINFORCE surrogate and the baseline's loss,
means over masked positions, take the MLM loss's place and weight.

Metrics follow the ELECTRA release's eval metric_fn: masked-LM accuracy,
sampled accuracy, discriminator loss, accuracy, precision, recall and AUC.
AUC comes from fixed-bucket histograms of the replaced probability (like
tf.metrics.auc's 200 thresholds) over the discriminator's tokens; the release
also fed padding to it as confident negatives, which inflates AUC, so padding
is left out here.
"""

from __future__ import annotations

from typing import NamedTuple

from keras import ops

from configs import ModelConfig
from models.adversarial import reinforce_sums
from models.masking import gather_positions
from models.sentence_order import sentence_order_sums

AUC_BUCKETS = 200
MIN_NORMAL = 1.1754944e-38  # smallest normal float32
STATISTICS = (
    "mlm_loss_sum",
    "mlm_correct",
    "sampled_correct",
    "mlm_count",
    "disc_loss_sum",
    "disc_correct",
    "disc_count",
    "replaced",
    "predicted_replaced",
    "true_positive",
    "positive_histogram",
    "negative_histogram",
    "generator_entropy_sum",
    "sop_loss_sum",
    "sop_correct",
    "sop_count",
    "policy_loss_sum",
    "baseline_loss_sum",
    "reward_sum",
)
# The counts that normalise the losses; the train step sums them over replicas.
LOSS_COUNTS = ("mlm_count", "disc_count", "sop_count")
# Shapes of the statistics that are not scalars.
STATISTIC_SHAPES = {"positive_histogram": (AUC_BUCKETS,), "negative_histogram": (AUC_BUCKETS,)}


def sigmoid_cross_entropy(logits, labels):
    """Stable -[y log s(z) + (1 - y) log(1 - s(z))] = max(z, 0) - z y + log(1 + e^-|z|)."""
    return ops.relu(logits) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))


def _total(x, weights):
    return ops.sum(ops.cast(x, "float32") * weights)


def sparse_cross_entropy(logits, targets):
    """-log softmax(logits)[target]: logits (N, V) float32, targets (N,) int -> (N,) float32.

    Forward: one softmax over (N, V). Gradient, written out: (softmax - one_hot(target)),
    one scatter and one product over (N, V) (automatic differentiation of
    log_softmax and a gather costs several more passes and a dense scatter).
    A target probability below the float32 minimum normal 1.2e-38 counts as
    that (a loss of 87.3 nats); its gradient is still exact.
    """
    vocab_size = ops.shape(logits)[-1]
    rows = ops.arange(ops.shape(logits)[0])
    targets = ops.cast(targets, "int32")
    flat_index = rows * vocab_size + targets

    @ops.custom_gradient
    def cross_entropy(x):
        probs = ops.softmax(x, axis=-1)
        target_probs = ops.take(ops.reshape(probs, (-1,)), flat_index)

        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            delta = ops.scatter_update(probs, ops.stack([rows, targets], axis=1), target_probs - 1.0)
            return delta * upstream[:, None]

        return -ops.log(ops.maximum(target_probs, MIN_NORMAL)), grad

    return cross_entropy(logits)


def _mlm_sums(logits, targets, weights):
    """(loss sum, correct sum) of a softmax over (..., V) at weighted targets (...).

    The prediction is the first id of largest logit, from top_k (Keras's argmax
    costs several passes more over (..., V) on TensorFlow)."""
    vocab_size = ops.shape(logits)[-1]
    logits = ops.reshape(ops.cast(logits, "float32"), (-1, vocab_size))
    targets = ops.reshape(ops.cast(targets, "int32"), (-1,))
    losses = sparse_cross_entropy(logits, targets)
    predictions = ops.cast(ops.top_k(logits, 1)[1][:, 0], "int32")
    weights = ops.reshape(weights, (-1,))
    return _total(losses, weights), _total(ops.equal(predictions, targets), weights)


def copy_mlm_sums(logits, copy_logits, input_ids, targets, weights):
    """All-Tokens MLM with a copy mechanism (paper, appendix): (loss sum, correct sum).

    logits (B, T, V); copy_logits (B, T), copy probability D = sigmoid(-copy_logits)
    (they are "replaced" logits); input_ids (the corrupted input), targets (B, T)
    int; weights (B, T). p(target) = D [target == input] + (1 - D) softmax(logits)[target];
    the prediction is the argmax of that mixture over the vocabulary.
    """
    log_q = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    z = ops.cast(copy_logits, "float32")
    log_copy, log_generate = -ops.softplus(z), -ops.softplus(-z)
    log_q_target = ops.squeeze(ops.take_along_axis(log_q, ops.expand_dims(targets, -1), -1), -1)
    same = ops.equal(targets, input_ids)
    log_p = ops.where(
        same, ops.logaddexp(log_copy, log_generate + log_q_target), log_generate + log_q_target
    )
    log_q_input = ops.squeeze(ops.take_along_axis(log_q, ops.expand_dims(input_ids, -1), -1), -1)
    best = ops.cast(ops.argmax(log_q, axis=-1), targets.dtype)
    log_p_input = ops.logaddexp(log_copy, log_generate + log_q_input)
    keep_input = log_p_input >= log_generate + ops.max(log_q, axis=-1)
    predictions = ops.where(keep_input, input_ids, best)
    return _total(-log_p, weights), _total(ops.equal(predictions, targets), weights)


def _histograms(probabilities, labels, weights):
    """Weighted counts (AUC_BUCKETS,) of probabilities in equal buckets, for labels 1 and 0."""
    bucket = ops.clip(ops.cast(ops.floor(probabilities * AUC_BUCKETS), "int32"), 0, AUC_BUCKETS - 1)
    segment = ops.reshape(bucket + AUC_BUCKETS * ops.cast(labels, "int32"), (-1,))
    counts = ops.segment_sum(ops.reshape(weights, (-1,)), segment, num_segments=2 * AUC_BUCKETS)
    return counts[AUC_BUCKETS:], counts[:AUC_BUCKETS]


def entropy_sum(logits, weights):
    """Weighted sum of the entropies (nats) of softmax(logits (..., V)), a metric (no gradient):
    H = logsumexp(z) - sum(softmax(z) z)."""
    z = ops.stop_gradient(ops.cast(logits, "float32"))
    entropy = ops.logsumexp(z, axis=-1) - ops.sum(ops.softmax(z, axis=-1) * z, axis=-1)
    return _total(entropy, weights)


def masked_lm_statistics(logits, targets, weights) -> dict:
    """mlm_loss_sum, mlm_correct, mlm_count and generator_entropy_sum of logits (B, P, V) at
    targets (B, P), weights (B, P)."""
    weights = ops.cast(weights, "float32")
    loss_sum, correct = _mlm_sums(logits, ops.cast(targets, "int32"), weights)
    return {"mlm_loss_sum": loss_sum, "mlm_correct": correct, "mlm_count": ops.sum(weights),
            "generator_entropy_sum": entropy_sum(logits, weights)}


def discriminator_statistics(logits, labels, weights) -> dict:
    """The disc_* sums, replaced, predicted_replaced, true_positive and the AUC histograms
    of replaced logits (B, T), labels (B, T) 1 = replaced, token weights (B, T)."""
    token_weights = ops.cast(weights, "float32")
    labels = ops.cast(labels, "float32")
    logits = ops.cast(logits, "float32")
    predicted = ops.cast(logits > 0, "float32")
    positive, negative = _histograms(ops.sigmoid(logits), labels, token_weights)
    return dict(
        disc_loss_sum=_total(sigmoid_cross_entropy(logits, labels), token_weights),
        disc_correct=_total(ops.equal(predicted, labels), token_weights),
        disc_count=ops.sum(token_weights),
        replaced=_total(labels, token_weights),
        predicted_replaced=_total(predicted, token_weights),
        true_positive=_total(predicted * labels, token_weights),
        positive_histogram=positive,
        negative_histogram=negative,
    )


def rtd_statistics(outputs: dict) -> dict:
    """Per-batch sums (keys: STATISTICS) from an `ElectraPretrainer` output dict.

    float32 scalars, except positive/negative_histogram (AUC_BUCKETS,): weighted
    counts of replaced tokens / original tokens by predicted replaced probability.
    mlm_*: generator over masked positions (count = mlm_count), with the
    entropy of its distribution (generator_entropy_sum); disc_*: the kept
    model over its tokens (count = disc_count); replaced: tokens labelled
    replaced; predicted_replaced / true_positive: for precision and recall;
    sop_*: sentence order over two-segment rows (count = sop_count);
    policy_loss_sum, baseline_loss_sum, reward_sum: adversarial training's
    terms over masked positions (count = mlm_count).
    """
    zero = ops.zeros((), "float32")
    stats = {k: zero for k in STATISTICS}
    stats.update({k: ops.zeros(s, "float32") for k, s in STATISTIC_SHAPES.items()})
    stats.update(
        masked_lm_statistics(outputs["mlm_logits"], outputs["mlm_targets"], outputs["mlm_weights"])
    )
    targets = ops.cast(outputs["mlm_targets"], "int32")
    weights = ops.cast(outputs["mlm_weights"], "float32")
    if "sop_logits" in outputs:
        sop_weights = ops.cast(outputs["sop_weights"], "float32")
        sop_loss_sum, sop_correct = sentence_order_sums(
            outputs["sop_logits"], outputs["sop_labels"], sop_weights
        )
        stats.update(sop_loss_sum=sop_loss_sum, sop_correct=sop_correct, sop_count=ops.sum(sop_weights))
    if "baseline_logits" in outputs:  # adversarial: reward = D's loss on each generated token
        positions = outputs["mlm_positions"]
        rewards = sigmoid_cross_entropy(
            gather_positions(ops.cast(outputs["disc_logits"], "float32"), positions),
            gather_positions(ops.cast(outputs["disc_labels"], "float32"), positions),
        )
        policy, baseline, reward = reinforce_sums(
            outputs["sample_log_probs"], rewards, outputs["baseline_logits"], weights
        )
        stats.update(policy_loss_sum=policy, baseline_loss_sum=baseline, reward_sum=reward)
    if "sampled_ids" in outputs:
        stats["sampled_correct"] = _total(
            ops.equal(ops.cast(outputs["sampled_ids"], "int32"), targets), weights
        )
    if "disc_logits" in outputs:
        stats.update(
            discriminator_statistics(
                outputs["disc_logits"], outputs["disc_labels"], outputs["disc_weights"]
            )
        )
    if "main_mlm_logits" in outputs:
        main_weights = ops.cast(outputs["main_mlm_weights"], "float32")
        main_targets = ops.cast(outputs["main_mlm_targets"], "int32")
        if "disc_logits" in outputs:  # all_tokens_mlm: the RTD head is the copy gate
            loss_sum, correct = copy_mlm_sums(
                outputs["main_mlm_logits"],
                outputs["disc_logits"],
                ops.cast(outputs["disc_input_ids"], "int32"),
                main_targets,
                main_weights,
            )
        else:
            loss_sum, correct = _mlm_sums(outputs["main_mlm_logits"], main_targets, main_weights)
        stats.update(disc_loss_sum=loss_sum, disc_correct=correct, disc_count=ops.sum(main_weights))
    return stats


class LossWeights(NamedTuple):
    """Weights of the loss means: generator MLM, the kept model's loss, SOP, and the
    adversarial generator's REINFORCE surrogate plus baseline loss."""

    mlm: float
    disc: float
    sop: float = 0.0
    policy: float = 0.0


def loss_weights(config: ModelConfig, stage: str = "joint") -> LossWeights:
    """The loss weights of the objective.

    stage (two-stage training, see models.two_stage): "joint", "generator"
    (MLM only) or "discriminator" (discriminator loss and SOP only).
    """
    sop = config.sop_weight if config.sentence_order else 0.0
    if stage == "generator":
        return LossWeights(config.mlm_weight, 0.0)
    if stage == "discriminator":
        return LossWeights(0.0, config.disc_weight, sop)
    if stage != "joint":
        raise ValueError(f"unknown training stage {stage!r}")
    if config.objective == "mlm":
        return LossWeights(config.mlm_weight, 0.0, sop)
    if config.objective in ("replace_mlm", "all_tokens_mlm"):
        return LossWeights(config.mlm_weight, config.main_mlm_weight, sop)
    if config.generator_training == "adversarial":
        return LossWeights(0.0, config.disc_weight, sop, config.mlm_weight)
    return LossWeights(config.mlm_weight, config.disc_weight, sop)


def _weighted_means(stats: dict, counts: dict, weights: LossWeights):
    """The weighted sum of the loss means; counts: the LOSS_COUNTS."""

    def mean(name, count):
        return stats[name] / ops.maximum(counts[count], 1e-6)

    loss = weights.mlm * mean("mlm_loss_sum", "mlm_count")
    loss += weights.disc * mean("disc_loss_sum", "disc_count")
    if weights.sop:
        loss += weights.sop * mean("sop_loss_sum", "sop_count")
    if weights.policy:
        policy = mean("policy_loss_sum", "mlm_count") + mean("baseline_loss_sum", "mlm_count")
        loss += weights.policy * policy
    return loss


def replica_loss(stats: dict, counts: dict, config: ModelConfig, stage: str = "joint"):
    """One replica's share of the loss: weighted sums over the global counts.

    stats: this replica's `rtd_statistics`; counts: the LOSS_COUNTS summed
    over all replicas, so the replicas' gradients add up to the gradient of
    the loss over the global batch.
    """
    return _weighted_means(stats, counts, loss_weights(config, stage))


def _ratio(numerator, denominator):
    return numerator / ops.maximum(denominator, 1e-6)


def histogram_auc(positive, negative):
    """ROC AUC from bucketed scores (AUC_BUCKETS,): P(s+ > s-) + P(s+ = s-) / 2.

    Equals the trapezoidal area under the ROC curve through the bucket edges.
    """
    positive, negative = ops.cast(positive, "float32"), ops.cast(negative, "float32")
    below = ops.cumsum(negative) - negative  # negatives in lower buckets
    wins = ops.sum(positive * (below + 0.5 * negative))
    return _ratio(wins, ops.sum(positive) * ops.sum(negative))


def rtd_metrics(
    stats: dict,
    mlm_weight: float = 1.0,
    disc_weight: float = 50.0,
    sop_weight: float = 0.0,
    policy_weight: float = 0.0,
) -> dict:
    """Losses and metrics (scalars) from summed `rtd_statistics`; weights as `loss_weights`.

    SOP metrics appear when sop_weight > 0, the adversarial terms when
    policy_weight > 0 (generator_reward: the discriminator's mean loss on the
    masked positions). For adversarial training "loss" holds the REINFORCE
    surrogate, whose gradient, not value, is the generator's objective.
    """
    weights = LossWeights(mlm_weight, disc_weight, sop_weight, policy_weight)
    mlm_loss = _ratio(stats["mlm_loss_sum"], stats["mlm_count"])
    disc_loss = _ratio(stats["disc_loss_sum"], stats["disc_count"])
    metrics = {
        "loss": _weighted_means(stats, {k: stats[k] for k in LOSS_COUNTS}, weights),
        "mlm_loss": mlm_loss,
        "disc_loss": disc_loss,
        "mlm_accuracy": _ratio(stats["mlm_correct"], stats["mlm_count"]),
        "sampled_accuracy": _ratio(stats["sampled_correct"], stats["mlm_count"]),
        "disc_accuracy": _ratio(stats["disc_correct"], stats["disc_count"]),
        "disc_precision": _ratio(stats["true_positive"], stats["predicted_replaced"]),
        "disc_recall": _ratio(stats["true_positive"], stats["replaced"]),
        "disc_auc": histogram_auc(stats["positive_histogram"], stats["negative_histogram"]),
        "replaced_fraction": _ratio(stats["replaced"], stats["disc_count"]),
        "generator_entropy": _ratio(stats["generator_entropy_sum"], stats["mlm_count"]),
    }
    if sop_weight:
        metrics.update(
            sop_loss=_ratio(stats["sop_loss_sum"], stats["sop_count"]),
            sop_accuracy=_ratio(stats["sop_correct"], stats["sop_count"]),
        )
    if policy_weight:
        metrics.update(
            policy_loss=_ratio(stats["policy_loss_sum"], stats["mlm_count"]),
            baseline_loss=_ratio(stats["baseline_loss_sum"], stats["mlm_count"]),
            generator_reward=_ratio(stats["reward_sum"], stats["mlm_count"]),
        )
    return metrics
