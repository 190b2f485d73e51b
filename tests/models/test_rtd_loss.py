import numpy as np
import pytest

from models.rtd_loss import STATISTICS, rtd_metrics, rtd_statistics


def numpy_reference(outputs, mlm_weight, disc_weight):
    """The ELECTRA loss written directly from its definition."""
    logits, targets, w = outputs["mlm_logits"], outputs["mlm_targets"], outputs["mlm_weights"]
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    mlm = (nll * w).sum() / w.sum()
    z, y, m = outputs["disc_logits"], outputs["disc_labels"], outputs["input_mask"]
    p = 1 / (1 + np.exp(-z))
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    disc = (bce * m).sum() / m.sum()
    predicted = z > 0
    return {
        "loss": mlm_weight * mlm + disc_weight * disc, "mlm_loss": mlm, "disc_loss": disc,
        "mlm_accuracy": ((logits.argmax(-1) == targets) * w).sum() / w.sum(),
        "sampled_accuracy": ((outputs["sampled_ids"] == targets) * w).sum() / w.sum(),
        "disc_accuracy": ((predicted == y) * m).sum() / m.sum(),
        "disc_precision": (predicted * y * m).sum() / (predicted * m).sum(),
        "disc_recall": (predicted * y * m).sum() / (y * m).sum(),
    }


def fixed_outputs(seed=0):
    rng = np.random.default_rng(seed)
    b, t, p, v = 3, 10, 4, 7
    mask = (np.arange(t)[None] < np.array([[10], [6], [3]])).astype("int32")
    return {
        "mlm_logits": rng.normal(size=(b, p, v)).astype("float32") * 3,
        "mlm_targets": rng.integers(0, v, size=(b, p)).astype("int32"),
        "mlm_weights": np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]], dtype="float32"),
        "sampled_ids": rng.integers(0, v, size=(b, p)).astype("int32"),
        "disc_logits": rng.normal(size=(b, t)).astype("float32") * 2,
        "disc_labels": (rng.random((b, t)) < 0.3).astype("int32") * mask,
        "input_mask": mask,
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_numpy_definition(seed):
    outputs = fixed_outputs(seed)
    stats = rtd_statistics(outputs)
    assert set(stats) == set(STATISTICS)
    got = {k: float(v) for k, v in rtd_metrics(stats, 1.0, 50.0).items()}
    for name, value in numpy_reference(outputs, 1.0, 50.0).items():
        assert got[name] == pytest.approx(value, rel=1e-5), name


def test_padding_and_unweighted_slots_do_not_count():
    outputs = fixed_outputs()
    base = {k: float(v) for k, v in rtd_metrics(rtd_statistics(outputs)).items()}
    changed = dict(outputs)
    changed["disc_logits"] = np.where(outputs["input_mask"] > 0, outputs["disc_logits"], 1e4).astype("float32")
    changed["mlm_logits"] = outputs["mlm_logits"] * (outputs["mlm_weights"][..., None] > 0) + 0.0
    after = {k: float(v) for k, v in rtd_metrics(rtd_statistics(changed)).items()}
    assert after["disc_loss"] == pytest.approx(base["disc_loss"], rel=1e-6)
    assert after["mlm_loss"] == pytest.approx(base["mlm_loss"], rel=1e-6)


def test_sums_add_up_across_batches():
    a, b = fixed_outputs(0), fixed_outputs(1)
    joined = {k: np.concatenate([a[k], b[k]]) for k in a}
    summed = {k: rtd_statistics(a)[k] + rtd_statistics(b)[k] for k in STATISTICS}
    for name, value in rtd_metrics(rtd_statistics(joined)).items():
        assert float(rtd_metrics(summed)[name]) == pytest.approx(float(value), rel=1e-5), name
