import numpy as np
import pytest
import tensorflow as tf

from configs import get_config
from models.rtd_loss import (
    AUC_BUCKETS,
    STATISTIC_SHAPES,
    STATISTICS,
    copy_mlm_sums,
    loss_weights,
    replica_loss,
    rtd_metrics,
    rtd_statistics,
    sparse_cross_entropy,
)


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def bucketed_auc(p, y, w):
    """AUC of scores rounded down to 1/AUC_BUCKETS, ties counted half, by pairs."""
    b = np.minimum(np.floor(p * AUC_BUCKETS), AUC_BUCKETS - 1)
    pos, neg = b[(y == 1) & (w > 0)], b[(y == 0) & (w > 0)]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def numpy_reference(outputs, mlm_weight, disc_weight):
    """The ELECTRA loss and the release's eval metrics, written directly from their definitions."""
    logits, targets, w = outputs["mlm_logits"], outputs["mlm_targets"], outputs["mlm_weights"]
    nll = -np.take_along_axis(log_softmax(logits), targets[..., None], -1)[..., 0]
    mlm = (nll * w).sum() / w.sum()
    z, y, m = (
        outputs["disc_logits"].astype(np.float64),
        outputs["disc_labels"],
        outputs["disc_weights"],
    )
    p = 1 / (1 + np.exp(-z))
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    disc = (bce * m).sum() / m.sum()
    predicted = z > 0
    return {
        "loss": mlm_weight * mlm + disc_weight * disc,
        "mlm_loss": mlm,
        "disc_loss": disc,
        "mlm_accuracy": ((logits.argmax(-1) == targets) * w).sum() / w.sum(),
        "sampled_accuracy": ((outputs["sampled_ids"] == targets) * w).sum() / w.sum(),
        "disc_accuracy": ((predicted == y) * m).sum() / m.sum(),
        "disc_precision": (predicted * y * m).sum() / (predicted * m).sum(),
        "disc_recall": (predicted * y * m).sum() / (y * m).sum(),
        "disc_auc": bucketed_auc(p, y, m),
        "replaced_fraction": (y * m).sum() / m.sum(),
    }


def fixed_outputs(seed=0, b=3, t=10, p=4, v=7):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, t + 1, size=(b, 1))
    mask = (np.arange(t)[None] < lengths).astype("int32")
    return {
        "mlm_logits": rng.normal(size=(b, p, v)).astype("float32") * 3,
        "mlm_targets": rng.integers(0, v, size=(b, p)).astype("int32"),
        "mlm_weights": (np.arange(p)[None] < rng.integers(1, p + 1, size=(b, 1))).astype("float32"),
        "sampled_ids": rng.integers(0, v, size=(b, p)).astype("int32"),
        "disc_logits": rng.normal(size=(b, t)).astype("float32") * 2,
        "disc_labels": (rng.random((b, t)) < 0.3).astype("int32") * mask,
        "disc_weights": mask.astype("float32"),
        "input_mask": mask,
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_numpy_definition(seed):
    outputs = fixed_outputs(seed, b=8, t=16)
    stats = rtd_statistics(outputs)
    assert set(stats) == set(STATISTICS)
    got = {k: float(v) for k, v in rtd_metrics(stats, 1.0, 50.0).items()}
    for name, value in numpy_reference(outputs, 1.0, 50.0).items():
        assert got[name] == pytest.approx(value, rel=1e-5), name


def test_sparse_cross_entropy_and_its_written_out_gradient():
    rng = np.random.default_rng(4)
    logits = tf.constant(rng.normal(size=(6, 50)).astype("float32") * 4)
    logits = tf.concat([logits, tf.constant([[200.0] + [0.0] * 49])], axis=0)  # a loss past 87 nats
    targets = np.array([0, 3, 49, 7, 7, 21, 5], "int32")
    upstream = rng.normal(size=7).astype("float32")
    with tf.GradientTape() as tape:
        tape.watch(logits)
        losses = sparse_cross_entropy(logits, targets)
        total = tf.reduce_sum(losses * upstream)
    grad = tape.gradient(total, logits).numpy()
    x = logits.numpy().astype(np.float64)
    reference = -np.take_along_axis(log_softmax(x), targets[:, None], 1)[:, 0]
    np.testing.assert_allclose(losses.numpy()[:6], reference[:6], rtol=1e-5)
    assert losses.numpy()[6] == pytest.approx(87.34, abs=0.01) and reference[6] == pytest.approx(200)
    probs = np.exp(log_softmax(x))
    probs[np.arange(7), targets] -= 1
    np.testing.assert_allclose(grad, probs * upstream[:, None], atol=1e-6)


def test_mlm_accuracy_takes_the_first_of_tied_logits():
    outputs = fixed_outputs(0, b=2, p=3, v=7)
    outputs["mlm_logits"] = np.zeros((2, 3, 7), "float32")  # a uniform generator
    outputs["mlm_targets"] = np.array([[0, 3, 0], [6, 0, 2]], "int32")
    outputs["mlm_weights"] = np.ones((2, 3), "float32")
    assert float(rtd_metrics(rtd_statistics(outputs))["mlm_accuracy"]) == pytest.approx(3 / 6)


def test_electra_15_weights_restrict_the_discriminator_loss():
    outputs = fixed_outputs(2, b=8, t=32)
    rng = np.random.default_rng(5)
    outputs["disc_weights"] = ((rng.random((8, 32)) < 0.5) * outputs["input_mask"]).astype(
        "float32"
    )
    got = {k: float(v) for k, v in rtd_metrics(rtd_statistics(outputs)).items()}
    for name, value in numpy_reference(outputs, 1.0, 50.0).items():
        assert got[name] == pytest.approx(value, rel=1e-5), name
    assert got["disc_loss"] != pytest.approx(
        numpy_reference(fixed_outputs(2, b=8, t=32), 1, 50)["disc_loss"]
    )


def test_auc_histograms_approach_the_exact_auc():
    rng = np.random.default_rng(0)
    labels = (rng.random(20_000) < 0.15).astype("float32")
    logits = rng.normal(size=20_000).astype("float32") + 1.5 * labels
    outputs = fixed_outputs(0)
    outputs.update(
        disc_logits=logits[None],
        disc_labels=labels[None],
        disc_weights=np.ones((1, 20_000), "float32"),
    )
    auc = float(rtd_metrics(rtd_statistics(outputs))["disc_auc"])
    pos, neg = logits[labels == 1], logits[labels == 0]
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]))) + 1
    exact = (ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))
    assert 0.8 < exact < 0.9  # normal shift 1.5: Phi(1.5 / sqrt 2) = 0.856
    assert auc == pytest.approx(exact, abs=1e-3)


def test_padding_and_unweighted_slots_do_not_count():
    outputs = fixed_outputs()
    base = {k: float(v) for k, v in rtd_metrics(rtd_statistics(outputs)).items()}
    changed = dict(outputs)
    changed["disc_logits"] = np.where(
        outputs["input_mask"] > 0, outputs["disc_logits"], 1e4
    ).astype("float32")
    changed["mlm_logits"] = outputs["mlm_logits"] * (outputs["mlm_weights"][..., None] > 0) + 0.0
    after = {k: float(v) for k, v in rtd_metrics(rtd_statistics(changed)).items()}
    for name in ("disc_loss", "mlm_loss", "disc_auc", "disc_precision"):
        assert after[name] == pytest.approx(base[name], rel=1e-6), name


def test_sums_add_up_across_batches():
    a, b = fixed_outputs(0), fixed_outputs(1)
    joined = {k: np.concatenate([a[k], b[k]]) for k in a}
    summed = {k: rtd_statistics(a)[k] + rtd_statistics(b)[k] for k in STATISTICS}
    for name, value in rtd_metrics(rtd_statistics(joined)).items():
        assert float(rtd_metrics(summed)[name]) == pytest.approx(float(value), rel=1e-5), name
    # Every objective gives the same keys and shapes (the trainer sums them element-wise).
    shapes = {k: STATISTIC_SHAPES.get(k, ()) for k in STATISTICS}
    mlm_only = {k: a[k] for k in ("mlm_logits", "mlm_targets", "mlm_weights", "input_mask")}
    for outputs in (a, mlm_only):
        assert {k: tuple(v.shape) for k, v in rtd_statistics(outputs).items()} == shapes


def test_replace_mlm_main_loss_is_cross_entropy_at_masked_positions():
    outputs = fixed_outputs(3)
    rng = np.random.default_rng(3)
    del outputs["disc_logits"]
    outputs.update(
        main_mlm_logits=rng.normal(size=(3, 4, 7)).astype("float32"),
        main_mlm_targets=outputs["mlm_targets"],
        main_mlm_weights=outputs["mlm_weights"],
    )
    stats = rtd_statistics(outputs)
    w = outputs["mlm_weights"]
    nll = -np.take_along_axis(
        log_softmax(outputs["main_mlm_logits"]), outputs["mlm_targets"][..., None], -1
    )
    assert float(stats["disc_loss_sum"]) == pytest.approx((nll[..., 0] * w).sum(), rel=1e-5)
    assert float(stats["disc_count"]) == w.sum()
    assert float(stats["replaced"]) == 0 and float(np.sum(stats["positive_histogram"])) == 0


def test_copy_mechanism_matches_direct_mixture():
    """p(x) = D [x == input] + (1 - D) softmax(logits)[x], D = sigmoid(-z) (paper, appendix)."""
    rng = np.random.default_rng(4)
    b, t, v = 3, 9, 6
    logits = rng.normal(size=(b, t, v)).astype("float32") * 2
    z = rng.normal(size=(b, t)).astype("float32") * 3
    targets = rng.integers(0, v, size=(b, t)).astype("int32")
    inputs = np.where(rng.random((b, t)) < 0.6, targets, rng.integers(0, v, size=(b, t))).astype(
        "int32"
    )
    weights = (rng.random((b, t)) < 0.8).astype("float32")
    d = 1 / (1 + np.exp(z.astype(np.float64)))
    q = np.exp(log_softmax(logits.astype(np.float64)))
    mixture = (1 - d)[..., None] * q + d[..., None] * np.eye(v)[inputs]
    p_target = np.take_along_axis(mixture, targets[..., None], -1)[..., 0]
    loss_sum, correct = copy_mlm_sums(logits, z, inputs, targets, weights)
    assert float(loss_sum) == pytest.approx((-np.log(p_target) * weights).sum(), rel=1e-5)
    assert float(correct) == ((mixture.argmax(-1) == targets) * weights).sum()
    assert 0 < float(correct) < weights.sum()


@pytest.mark.parametrize(
    "overrides,expected",
    [
        (["model.objective=electra"], (1.0, 50.0, 0.0, 0.0)),
        (["model.objective=electra_15"], (1.0, 50.0, 0.0, 0.0)),
        (["model.objective=mlm"], (1.0, 0.0, 0.0, 0.0)),
        (["model.objective=replace_mlm"], (1.0, 1.0, 0.0, 0.0)),
        (["model.objective=all_tokens_mlm"], (1.0, 1.0, 0.0, 0.0)),
        (["model.objective=mlm", "model.sentence_order=true", "model.sop_weight=2"], (1.0, 0.0, 2.0, 0.0)),
        # Adversarial: the REINFORCE surrogate takes the MLM loss's place and weight.
        (["model.generator_training=adversarial", "model.mlm_weight=3"], (0.0, 50.0, 0.0, 3.0)),
    ],
)
def test_loss_weights_and_replica_loss(overrides, expected):
    config = get_config("small", overrides).model
    assert loss_weights(config) == expected
    stats = {"mlm_loss_sum": 6.0, "disc_loss_sum": 4.0, "sop_loss_sum": 3.0,
             "policy_loss_sum": -1.5, "baseline_loss_sum": 2.1}
    counts = {"mlm_count": 3.0, "disc_count": 8.0, "sop_count": 2.0}
    # Replica sums over global counts: w_mlm 6/3 + w_disc 4/8 + w_sop 3/2 + w_policy (-1.5 + 2.1)/3.
    mlm, disc, sop, policy = expected
    assert float(replica_loss(stats, counts, config)) == pytest.approx(
        mlm * 2 + disc * 0.5 + sop * 1.5 + policy * 0.2
    )
    assert loss_weights(config, "generator") == (config.mlm_weight, 0.0, 0.0, 0.0)
    assert loss_weights(config, "discriminator") == (0.0, 50.0, sop, 0.0)
    with pytest.raises(ValueError, match="unknown training stage"):
        loss_weights(config, "third")
