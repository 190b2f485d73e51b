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
    assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon, optimizer.weight_decay_rate,
            optimizer.global_clipnorm, optimizer.bias_correction) == (0.9, 0.999, 1e-6, 0.01, 1.0, False)
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


def _one_update(overrides, g=(0.5, 0.25), w=(1.0, -2.0)):
    """The second update (t = 2, lr(1) = 0.1 * 0.9) of a 'kernel' variable; returns the new w."""
    import keras

    config = get_config("tiny", ["train.learning_rate=0.1", "train.warmup_steps=0", "train.num_steps=10",
                                 "train.clip_norm=100"] + overrides)
    optimizer = make_optimizer(config.train)
    variable = keras.Variable(np.array(w, "float32"), name="kernel")
    optimizer.build([variable])
    optimizer.iterations.assign(1)
    optimizer.apply_gradients([(np.array(g, "float32"), variable)])
    assert optimizer.iterations.numpy() == 2
    assert pytest.approx(float(optimizer.learning_rate), rel=1e-6) == 0.1 * 0.8
    return np.asarray(variable)


LR, T, W, G = 0.1 * 0.9, 2, np.array([1.0, -2.0]), np.array([0.5, 0.25])
M, V = 0.1 * G, 0.001 * G * G  # moving averages after one step from zero


def test_adamw_update_is_the_release_formula_without_bias_correction():
    """ELECTRA's AdamW: w <- w - lr * (m / (sqrt(v) + eps) + wd * w), no bias correction."""
    expected = W - LR * (M / (np.sqrt(V) + 1e-6) + 0.01 * W)
    np.testing.assert_allclose(_one_update([]), expected, rtol=1e-6)


def test_adamw_update_with_bias_correction():
    m_hat, v_hat = M / (1 - 0.9 ** T), V / (1 - 0.999 ** T)
    expected = W - LR * (m_hat / (np.sqrt(v_hat) + 1e-6) + 0.01 * W)
    np.testing.assert_allclose(_one_update(["train.bias_correction=true"]), expected, rtol=1e-6)


def test_lamb_update_scales_by_the_trust_ratio():
    update = M / (np.sqrt(V) + 1e-6) + 0.01 * W
    ratio = np.linalg.norm(W) / np.linalg.norm(update)
    np.testing.assert_allclose(_one_update(["train.optimizer=lamb"]), W - LR * ratio * update, rtol=1e-6)


def test_global_norm_clipping_before_the_update():
    """Gradient (30, 40) has norm 50; clipped to norm 1 it is (0.6, 0.8)."""
    clipped = _one_update(["train.clip_norm=1"], g=(30.0, 40.0))
    g = np.array([0.6, 0.8])
    expected = W - LR * (0.1 * g / (np.sqrt(0.001 * g * g) + 1e-6) + 0.01 * W)
    np.testing.assert_allclose(clipped, expected, rtol=1e-6)
