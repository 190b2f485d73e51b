"""Distillation losses against hand computations on small arrays."""
import keras
import numpy as np
import pytest

from models.distillation_loss import (
    attention_pairs,
    attention_score_mse_sum,
    cosine_distance_sum,
    output_squared_error,
    parse_layer_map,
    soft_cross_entropy,
    token_mse_sum,
    uniform_layer_map,
)


def test_soft_cross_entropy_is_kl_at_temperature_scaled_by_its_square():
    s = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 3.0]], np.float32)
    t = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]], np.float32)
    temperature = 2.0

    def softmax(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    ps, pt = softmax(s / temperature), softmax(t / temperature)
    kl = (pt * np.log(pt / ps)).sum(-1) * temperature**2
    got = np.asarray(soft_cross_entropy(s, t, temperature))
    np.testing.assert_allclose(got, kl, rtol=1e-5)
    assert got[1] == pytest.approx(0.0, abs=1e-6)  # the same distribution
    # Its gradient is the soft cross-entropy's: (p_s - p_t) * T per logit.
    import tensorflow as tf
    logits = tf.Variable(s)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(soft_cross_entropy(logits, t, temperature))
    np.testing.assert_allclose(tape.gradient(loss, logits).numpy(), (ps - pt) * temperature, atol=1e-6)


def test_regression_outputs_are_distilled_by_squared_error():
    got = np.asarray(output_squared_error(np.array([[1.5], [-1.0]]), np.array([[0.5], [1.0]])))
    np.testing.assert_allclose(got, [1.0, 4.0])


def test_hidden_state_mse_through_a_projection_counts_real_tokens_only():
    rng = np.random.default_rng(0)
    student = rng.normal(size=(2, 4, 3)).astype(np.float32)  # width 3
    teacher = rng.normal(size=(2, 4, 5)).astype(np.float32)  # width 5
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], np.int32)
    projection = keras.layers.Dense(5)
    projection.build((None, 3))
    kernel, bias = rng.normal(size=(3, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    projection.set_weights([kernel, bias])
    got = float(token_mse_sum(projection(student), teacher, mask))
    projected = student @ kernel + bias
    expected = sum(((projected[b, i] - teacher[b, i]) ** 2).mean() for b in range(2) for i in range(4) if mask[b, i])
    assert got == pytest.approx(expected, rel=1e-5)
    teacher[0, 3] += 100.0  # padding does not count
    assert float(token_mse_sum(projection(student), teacher, mask)) == pytest.approx(expected, rel=1e-5)


def test_cosine_loss_is_one_minus_cosine_over_real_tokens():
    s = np.array([[[1.0, 0.0], [1.0, 1.0], [5.0, 5.0]]], np.float32)
    t = np.array([[[2.0, 0.0], [-1.0, -1.0], [0.0, 1.0]]], np.float32)
    got = float(cosine_distance_sum(s, t, np.array([[1, 1, 0]])))
    assert got == pytest.approx((1 - 1) + (1 - -1), abs=1e-6)


def test_attention_score_mse_masks_padded_queries_and_keys():
    rng = np.random.default_rng(1)
    s, t = rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(2, 3, 4, 4))  # 3 heads, 4 tokens
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]])
    expected = ((s[0, :, :3, :3] - t[0, :, :3, :3]) ** 2).sum() + ((s[1, :, :2, :2] - t[1, :, :2, :2]) ** 2).sum()
    assert float(attention_score_mse_sum(s, t, mask)) == pytest.approx(expected, rel=1e-5)
    assert float(attention_pairs(mask, 3)) == 3 * (9 + 4)
    t[:, :, 3, :] = 1e9  # a padded query, and a padded key below: no effect
    t[:, :, :, 3] = -1e9
    assert float(attention_score_mse_sum(s, t, mask)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("student, teacher, expected", [
    (2, 6, [3, 6]), (3, 6, [2, 4, 6]), (4, 6, [1, 3, 4, 6]),
    (2, 12, [6, 12]), (3, 12, [4, 8, 12]), (4, 12, [3, 6, 9, 12]),
])
def test_uniform_layer_maps(student, teacher, expected):
    assert uniform_layer_map(student, teacher) == expected
    assert parse_layer_map("", student, teacher) == expected


def test_a_given_layer_map_is_checked():
    assert parse_layer_map("1,2,6", 3, 6) == [1, 2, 6]
    with pytest.raises(ValueError, match="teacher layer 7 is out of range; the teacher has layers 1..6"):
        parse_layer_map("2,4,7", 3, 6)
    with pytest.raises(ValueError, match="names 2 teacher layers for a student of 3"):
        parse_layer_map("2,4", 3, 6)
    with pytest.raises(ValueError, match="cannot map"):
        uniform_layer_map(8, 6)
