"""ELECTRA's optimizers: AdamW (the release's) or LAMB, with linear warmup times linear decay."""
from __future__ import annotations

import keras
from keras import ops

from configs import TrainConfig

# Variables whose (short) name matches one of these get no weight decay and,
# with LAMB, no layer-wise trust ratio: LayerNorm scale/offset and every bias,
# as in the ELECTRA release (and BERT's LAMB setup).
NO_DECAY = ("bias", "gamma", "beta")
OPTIMIZERS = ("adamw", "lamb")


class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = peak * max(0, 1 - step / total_steps) * min(1, step / warmup_steps).

    Both factors start at step 0, as in the ELECTRA release (the decay is not
    delayed until the warmup ends).
    """

    def __init__(self, peak: float, total_steps: int, warmup_steps: int):
        self.peak, self.total_steps, self.warmup_steps = peak, total_steps, warmup_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        decay = ops.maximum(0.0, 1.0 - step / float(self.total_steps))
        warmup = ops.minimum(1.0, step / float(max(1, self.warmup_steps)))
        return self.peak * decay * warmup

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps}


class ElectraOptimizer(keras.optimizers.Optimizer):
    """AdamW as in the ELECTRA release (BERT's AdamWeightDecayOptimizer), or LAMB (arXiv:1904.00962).

    With m, v the usual moving averages of g and g^2 (beta_1, beta_2):
      u = m' / (sqrt(v') + eps) + wd * w        (wd = 0 for LayerNorm and biases)
      AdamW: w <- w - lr * u
      LAMB:  w <- w - lr * r * u,  r = ||w|| / ||u|| (1 if either is 0, or for LayerNorm and biases)
    m' = m, v' = v in the release (bias_correction=False); with bias correction
    m' = m / (1 - beta_1^t), v' = v / (1 - beta_2^t). Norms are per variable.

    `learning_rate_multipliers`, one per variable of the list the optimizer is
    built with, scale lr per variable (layer-wise decay in fine-tuning).

    Gradients must arrive already summed across replicas (the train step does
    it, before clipping); Keras would otherwise sum them a second time.
    """

    def __init__(self, learning_rate, kind: str = "adamw", weight_decay_rate: float = 0.01,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-6,
                 bias_correction: bool = False, learning_rate_multipliers: list[float] | None = None,
                 name: str = "electra_optimizer", **kwargs):
        if kind not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {kind!r}; choose one of {OPTIMIZERS}")
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.kind, self.weight_decay_rate = kind, weight_decay_rate
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.bias_correction = bias_correction
        self.learning_rate_multipliers = learning_rate_multipliers
        self.exclude_from_weight_decay(var_names=list(NO_DECAY))

    def build(self, variables):
        if self.built:
            return
        multipliers = self.learning_rate_multipliers
        if multipliers is not None and len(multipliers) != len(variables):
            raise ValueError(f"{len(multipliers)} learning-rate multipliers for {len(variables)} variables")
        super().build(variables)
        self._m = [self.add_variable_from_reference(v, "m") for v in variables]
        self._v = [self.add_variable_from_reference(v, "v") for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        m, v = self._m[i], self._v[i]
        g = ops.cast(gradient, variable.dtype)
        lr = ops.cast(learning_rate, variable.dtype)
        if self.learning_rate_multipliers is not None:
            lr = lr * self.learning_rate_multipliers[i]
        # m <- beta_1 m + (1 - beta_1) g, as m + (g - m)(1 - beta_1): two passes over m, not three.
        self.assign_add(m, (g - m) * (1.0 - self.beta_1))
        self.assign_add(v, (ops.square(g) - v) * (1.0 - self.beta_2))
        m_hat, v_hat = m, v
        if self.bias_correction:
            t = ops.cast(self.iterations + 1, variable.dtype)
            m_hat = m / (1.0 - ops.power(self.beta_1, t))
            v_hat = v / (1.0 - ops.power(self.beta_2, t))
        update = m_hat / (ops.sqrt(v_hat) + self.epsilon)
        adapted = self._use_weight_decay(variable)  # not LayerNorm, not a bias
        if adapted and self.weight_decay_rate:
            update = update + self.weight_decay_rate * variable
        if self.kind == "lamb" and adapted:
            w_norm, u_norm = ops.norm(ops.reshape(variable, [-1])), ops.norm(ops.reshape(update, [-1]))
            ratio = ops.where((w_norm > 0) & (u_norm > 0), w_norm / ops.maximum(u_norm, 1e-30), 1.0)
            update = ratio * update
        self.assign_sub(variable, lr * update)

    def _all_reduce_sum_gradients(self, grads_and_vars):
        return list(grads_and_vars)

    def get_config(self):
        config = super().get_config()
        config.update(kind=self.kind, weight_decay_rate=self.weight_decay_rate, beta_1=self.beta_1,
                      beta_2=self.beta_2, epsilon=self.epsilon, bias_correction=self.bias_correction)
        return config


def make_optimizer(config: TrainConfig, learning_rate_multipliers: list[float] | None = None
                   ) -> ElectraOptimizer:
    """The configured optimizer on the warmup x linear-decay schedule, clipping the global norm;
    multipliers as ElectraOptimizer's, aligned with the variables it is built with."""
    return ElectraOptimizer(
        WarmupLinearDecay(config.learning_rate, config.num_steps, config.warmup_steps),
        kind=config.optimizer, weight_decay_rate=config.weight_decay, beta_1=config.adam_beta_1,
        beta_2=config.adam_beta_2, epsilon=config.adam_epsilon,
        bias_correction=config.bias_correction, learning_rate_multipliers=learning_rate_multipliers,
        global_clipnorm=config.clip_norm)
