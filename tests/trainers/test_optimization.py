import numpy as np
import pytest

from configs import get_config, with_vocab_size
from models.pretrainer import ElectraPretrainer
from trainers.optimization import WarmupLinearDecay, make_optimizer


def test_schedule_is_warmup_times_decay_from_step_zero():
    schedule = WarmupLinearDecay(peak=1e-3, total_steps=1000, warmup_steps=100)
    got = [float(schedule(s)) for s in (0, 50, 100, 500, 1000, 1200)]
    expected = [0.0, 1e-3 * 0.95 * 0.5, 1e-3 * 0.9, 1e-3 * 0.5, 0.0, 0.0]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)


def test_adamw_settings_and_decay_exclusions():
    config = with_vocab_size(get_config("tiny", ["model.encoder.num_layers=1"]), 50)
    optimizer = make_optimizer(config.train)
    assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon, optimizer.weight_decay) == (0.9, 0.999, 1e-6, 0.01)
    model = ElectraPretrainer(config.model, {"pad": 0, "cls": 2, "sep": 3, "mask": 4})
    zeros = np.zeros((1, 16), "int32")
    model({"input_ids": zeros, "input_mask": zeros, "segment_ids": zeros})
    optimizer.build(model.trainable_variables)
    decayed = {v.path for v in model.trainable_variables if optimizer._use_weight_decay(v)}
    skipped = {v.path for v in model.trainable_variables} - decayed
    assert all(p.endswith(("bias", "gamma", "beta")) for p in skipped)
    assert all(p.endswith(("kernel", "embeddings")) for p in decayed)
    assert any("layer_norm/gamma" in p for p in skipped) and any("output_bias" in p for p in skipped)
    assert "embeddings/word_embeddings" in decayed


def test_one_update_matches_adamw_formula():
    """Decoupled decay, then Adam with bias correction folded into the step size (Keras's form):
    w <- w (1 - lr wd);  w <- w - lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps), at t = 2."""
    import keras

    config = get_config("tiny", ["train.learning_rate=0.1", "train.warmup_steps=0", "train.num_steps=10"])
    optimizer = make_optimizer(config.train)
    w = keras.Variable(np.array([1.0, -2.0], "float32"), name="kernel")
    optimizer.iterations.assign(1)  # the second update: lr(1) = 0.1 * 0.9
    g = np.array([0.5, 0.25])
    optimizer.apply_gradients([(g.astype("float32"), w)])
    lr, t = 0.1 * 0.9, 2
    m, v = 0.1 * g, 0.001 * g * g
    decayed = np.array([1.0, -2.0]) * (1 - lr * 0.01)
    expected = decayed - lr * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(v) + 1e-6)
    np.testing.assert_allclose(np.asarray(w), expected, rtol=1e-5)
    assert optimizer.iterations.numpy() == 2
    assert pytest.approx(float(optimizer.learning_rate), rel=1e-6) == 0.1 * 0.8
