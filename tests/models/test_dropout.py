import keras
import numpy as np
import pytest
import tensorflow as tf

from models.dropout import RESOLUTION, Dropout


def test_drops_the_rate_and_scales_the_rest():
    x = np.full((64, 4, 32, 32), 2.0, dtype="float32")
    layer = Dropout(0.1, seed=1)
    y = np.asarray(layer(x, training=True))
    dropped = y == 0
    # 262k elements: the standard error of the dropped fraction is 6e-4.
    assert abs(dropped.mean() - round(0.1 * RESOLUTION) / RESOLUTION) < 3e-3
    np.testing.assert_allclose(y[~dropped], 2.0 / 0.9, rtol=1e-6)
    # Each call draws a new mask; the element-wise masks are not correlated.
    again = np.asarray(layer(x, training=True)) == 0
    assert 0 < (dropped & again).mean() < 0.02
    assert abs(dropped.reshape(-1, 2)[:, 0].mean() - dropped.reshape(-1, 2)[:, 1].mean()) < 5e-3


def test_identity_outside_training_and_at_rate_zero():
    x = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    np.testing.assert_array_equal(np.asarray(Dropout(0.3)(x, training=False)), x)
    np.testing.assert_array_equal(np.asarray(Dropout(0.0)(x, training=True)), x)
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.0)


def test_gradient_is_the_mask_times_the_scale_and_seed_state_resumes():
    x = tf.constant(np.ones((7, 33), "float32"))  # odd size: the last word's second half is unused
    layer = Dropout(0.25, seed=3)
    state = np.asarray(layer.seed_generator.state.value)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        total = tf.reduce_sum(y)
    grad = tape.gradient(total, x).numpy()
    np.testing.assert_allclose(grad, np.asarray(y) / x.numpy(), rtol=1e-6)
    layer.seed_generator.state.assign(state)  # a restored checkpoint draws the same mask
    np.testing.assert_array_equal(np.asarray(layer(x, training=True)), np.asarray(y))
    assert keras.ops.convert_to_tensor(y).dtype == "float32"
