import keras
import numpy as np
import tensorflow as tf

from models.layer_norm import LayerNorm


def test_equals_keras_layer_normalization_with_gradients():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(1.5, 3.0, size=(4, 9, 16)).astype("float32"))
    ours, keras_ln = LayerNorm(epsilon=1e-12), keras.layers.LayerNormalization(epsilon=1e-12)
    ours.build(x.shape), keras_ln.build(x.shape)
    for a, b in zip(ours.weights, keras_ln.weights):  # same weights, not the trivial 1 and 0
        value = rng.normal(size=a.shape).astype("float32")
        a.assign(value), b.assign(value)
    assert [w.path.split("/")[-1] for w in ours.weights] == ["gamma", "beta"]
    upstream = tf.constant(rng.normal(size=x.shape).astype("float32"))
    results = []
    for layer in (ours, keras_ln):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * upstream)
        results.append([y] + tape.gradient(loss, [x, *layer.trainable_variables]))
    for got, expected in zip(*results):
        scale = np.abs(np.asarray(expected)).max()
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), atol=2e-5 * scale)
