"""Layer normalization (arXiv:1607.06450) over the last axis, with its gradient written out."""

from __future__ import annotations

import keras
from keras import ops


def layer_norm(x, gamma, beta, epsilon: float):
    """(x - mean) / sqrt(var + epsilon) * gamma + beta over the last axis, in float32.

    x (..., D); gamma, beta (D,). The gradient is written out,
      dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * gamma,
      dgamma = sum(dy * xhat),  dbeta = sum(dy)  (sums over all but the last axis),
    a few passes over x fewer than automatic differentiation of the moments.
    """
    leading = tuple(range(len(x.shape) - 1))

    @ops.custom_gradient
    def normalize(x, gamma, beta):
        centered = x - ops.mean(x, axis=-1, keepdims=True)
        rstd = ops.rsqrt(ops.mean(ops.square(centered), axis=-1, keepdims=True) + epsilon)
        xhat = centered * rstd

        def grad(*args, upstream=None):
            dy = args[0] if upstream is None else upstream
            g = dy * gamma
            mean_g = ops.mean(g, axis=-1, keepdims=True)
            mean_gx = ops.mean(g * xhat, axis=-1, keepdims=True)
            dx = rstd * (g - mean_g - xhat * mean_gx)
            return dx, ops.sum(dy * xhat, axis=leading), ops.sum(dy, axis=leading)

        return xhat * gamma + beta, grad

    f32 = "float32"
    return normalize(ops.cast(x, f32), ops.cast(gamma, f32), ops.cast(beta, f32))


class LayerNorm(keras.layers.LayerNormalization):
    """`keras.layers.LayerNormalization` over the last axis (same weights, `gamma` and
    `beta` (D,)), computed by `layer_norm`; returns the layer's compute dtype."""

    def call(self, inputs):
        return ops.cast(layer_norm(inputs, self.gamma, self.beta, self.epsilon), self.compute_dtype)
