"""ELECTRA's optimizer: AdamW with linear warmup times linear decay to zero."""
from __future__ import annotations

import keras
from keras import ops

from configs import TrainConfig

# Variables whose (short) name matches one of these get no weight decay:
# LayerNorm scale/offset and every bias, as in the ELECTRA release.
NO_DECAY = ("bias", "gamma", "beta")


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


class PreReducedAdamW(keras.optimizers.AdamW):
    """AdamW for gradients that the train step has already summed across replicas and clipped.

    Keras's TensorFlow backend would sum them across replicas again (and clip
    before that sum, which makes results depend on the replica count).
    """

    def _all_reduce_sum_gradients(self, grads_and_vars):
        return list(grads_and_vars)


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    """AdamW (decoupled decay, not on LayerNorm or bias); the train step clips the global norm."""
    optimizer = PreReducedAdamW(
        learning_rate=WarmupLinearDecay(config.learning_rate, config.num_steps, config.warmup_steps),
        weight_decay=config.weight_decay, beta_1=config.adam_beta_1, beta_2=config.adam_beta_2,
        epsilon=config.adam_epsilon)
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
    return optimizer
