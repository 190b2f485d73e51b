"""Adversarial generator training (ELECTRA paper, sec. 3.2 and appendix F).

The generator is trained to maximise the discriminator's loss instead of by
maximum likelihood. Sampling is discrete, so it learns by REINFORCE. Under
the paper's assumption that the discriminator's prediction at a masked
position depends only on the token generated there and on the unmasked
tokens, each masked position t is a one-step problem with reward
R_t = the discriminator's cross-entropy at t (-log D(real) if the sample
equals the original token, else -log(1 - D(real))), and

    grad E[R_t] ~ (R_t - b_t) grad log p_G(x_t | x_masked),  one sample,

with the paper's learned baseline b_t = -log sigmoid(w . h_G(x_masked)_t),
trained by cross-entropy to match the reward: between sigmoid(w . h) and
exp(-R_t), the probability the discriminator gave the right label, which is
minimised when b_t = -log E[exp(-R_t)].

Choices where the paper is silent:
- no warm start: the generator learns from the reward alone from its random
  initialisation (the paper notes it got no explicit feedback);
- the reward is R_t in nats, unscaled, and the REINFORCE surrogate takes the
  weight of the maximum-likelihood loss it replaces (mlm_weight);
- the baseline reads the generator's hidden states under stop-gradient (only
  the policy gradient shapes the generator) and w starts at 0, so b = log 2,
  an untrained discriminator's loss.
"""

from __future__ import annotations

import keras
from keras import ops


class RewardBaseline(keras.layers.Layer):
    """Call: generator hidden states at the masked positions (B, P, H) -> baseline logits (B, P);
    the baseline is b = -log sigmoid(logits) = softplus(-logits)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros", name="w")

    def call(self, hidden):
        return ops.squeeze(self.dense(ops.stop_gradient(hidden)), axis=-1)


def reinforce_sums(sample_log_probs, rewards, baseline_logits, weights):
    """(surrogate sum, baseline loss sum, reward sum) over the weighted positions.

    sample_log_probs (B, P): log p_G of the sampled tokens (the only input
    that carries gradient to the generator); rewards (B, P) (held constant);
    baseline_logits (B, P); weights (B, P) float 1/0. The surrogate per
    position is -(R - b) log p_G: its gradient is minus the REINFORCE
    estimate of grad E[R], so minimising it ascends the discriminator's loss.
    """
    weights = ops.cast(weights, "float32")
    rewards = ops.stop_gradient(ops.cast(rewards, "float32"))
    z = ops.cast(baseline_logits, "float32")
    advantage = ops.stop_gradient(rewards - ops.softplus(-z))
    surrogate = -advantage * ops.cast(sample_log_probs, "float32")
    # Cross-entropy of Bernoulli(sigmoid(z)) against Bernoulli(exp(-R)).
    right = ops.exp(-rewards)
    baseline_loss = right * ops.softplus(-z) + (1.0 - right) * ops.softplus(z)
    return (
        ops.sum(surrogate * weights),
        ops.sum(baseline_loss * weights),
        ops.sum(rewards * weights),
    )
