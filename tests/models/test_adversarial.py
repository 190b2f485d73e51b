"""Adversarial generator training: the REINFORCE estimate, its baseline, and where gradients go."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs import get_config, with_vocab_size
from models import hash_random
from models.adversarial import reinforce_sums
from models.masking import gather_positions
from models.pretrainer import ElectraPretrainer
from models.rtd_loss import LOSS_COUNTS, loss_weights, replica_loss, rtd_metrics, rtd_statistics
from models.sampling import gumbel_max_sample
from tests.models.test_pretrainer import SPECIAL, make_features
from tests.models.test_rtd_loss import log_softmax

V, P, N = 6, 3, 40_000  # vocabulary, positions, samples


def test_policy_gradient_matches_the_enumerated_gradient():
    """grad_theta E_{x ~ softmax(theta)}[R(x)] summed over the vocabulary, against the mean
    gradient of the surrogate over N samples drawn by the model's Gumbel-max sampler."""
    rng = np.random.default_rng(0)
    theta = tf.Variable(rng.normal(size=(P, V)).astype("float32"))
    reward = rng.uniform(0.1, 3.0, size=(P, V)).astype("float32")  # R(x) per position
    with tf.GradientTape() as tape:
        expected_reward = tf.reduce_sum(tf.nn.softmax(theta) * reward)
    exact = tape.gradient(expected_reward, theta).numpy()

    keys = hash_random.random_bits(hash_random.u32(7), np.arange(N * P).reshape(N, P), hash_random.SAMPLE_KEYS)
    sampled = np.asarray(gumbel_max_sample(tf.broadcast_to(theta, (N, P, V)), 1.0, keys))
    probs = tf.nn.softmax(theta).numpy()
    right = (probs * np.exp(-reward)).sum(1)  # E[exp(-R)]: what the baseline learns
    for name, z in (("none", np.full(P, 30.0)), ("learned", np.log(right / (1 - right)))):
        baseline = np.log1p(np.exp(-z))  # -log sigmoid(z)
        with tf.GradientTape() as tape:
            log_p = tf.reduce_sum(tf.nn.log_softmax(theta)[None] * tf.one_hot(sampled, V), -1)
            rewards = np.take_along_axis(reward[None].repeat(N, 0), sampled[..., None], -1)[..., 0]
            surrogate, _, _ = reinforce_sums(log_p, rewards, np.broadcast_to(z, (N, P)), np.ones((N, P)))
        estimate = -tape.gradient(surrogate, theta).numpy() / N
        # Per-sample gradients (R - b)(onehot - p): their spread gives the estimate's error.
        per_sample = (rewards - baseline)[..., None] * (np.eye(V)[sampled] - probs[None])
        error = per_sample.std(0) / np.sqrt(N)
        print(f"baseline {name}: max |estimate - exact| {np.abs(estimate - exact).max():.4f}, "
              f"variance {per_sample.var(0).sum():.3f}")
        np.testing.assert_array_less(np.abs(estimate - exact), 4 * error + 1e-6)
        if name == "none":
            variance = per_sample.var(0).sum()
    assert per_sample.var(0).sum() < 0.5 * variance  # the learned baseline reduces the variance


def test_baseline_learns_minus_log_mean_exp_of_minus_reward():
    rewards = np.array([[0.2, 1.5, 0.7, 3.0]], np.float32)
    target = np.exp(-rewards).mean()
    z = tf.Variable([[0.0] * 4])
    for _ in range(300):
        with tf.GradientTape() as tape:
            _, loss, _ = reinforce_sums(np.zeros((1, 4)), rewards, tf.broadcast_to(z[:, :1], (1, 4)),
                                        np.ones((1, 4)))
        z.assign_sub(0.5 * tape.gradient(loss, z))
    assert float(tf.sigmoid(z[0, 0])) == pytest.approx(target, abs=1e-4)  # b = -log E[exp(-R)]


@pytest.fixture(scope="module")
def adversarial():
    config = with_vocab_size(get_config("tiny", ["model.encoder.num_layers=1",
                                                 "model.generator_training=adversarial"]), 200).model
    keras.utils.set_random_seed(0)
    return config, ElectraPretrainer(config, SPECIAL, seed=0)


def test_rewards_are_the_discriminator_losses_on_the_generated_tokens(adversarial):
    config, model = adversarial
    out = {k: np.asarray(v) for k, v in model(make_features(), training=False).items()}
    w = out["mlm_weights"]
    logits, labels = (gather_positions(out[k], out["mlm_positions"]) for k in ("disc_logits", "disc_labels"))
    z, y = np.asarray(logits, np.float64), np.asarray(labels)
    reward = np.logaddexp(0, z) - z * y
    np.testing.assert_allclose(
        out["sample_log_probs"],
        np.take_along_axis(log_softmax(out["mlm_logits"].astype(np.float64)), out["sampled_ids"][..., None], -1)[..., 0],
        atol=1e-5)
    b = np.logaddexp(0, -out["baseline_logits"].astype(np.float64))
    np.testing.assert_allclose(b, np.log(2))  # w starts at 0
    assert loss_weights(config) == (0.0, 50.0, 0.0, 1.0)
    metrics = rtd_metrics(rtd_statistics(out), *loss_weights(config))
    assert float(metrics["generator_reward"]) == pytest.approx((reward * w).sum() / w.sum(), rel=1e-5)
    advantage = reward - b
    assert float(metrics["policy_loss"]) == pytest.approx(
        (-advantage * out["sample_log_probs"] * w).sum() / w.sum(), rel=1e-4, abs=1e-6)


def test_generator_learns_from_the_reward_only_and_the_discriminator_from_its_loss(adversarial):
    config, model = adversarial
    features = make_features()
    with tf.GradientTape(persistent=True) as tape:
        stats = rtd_statistics(model(features, training=True))
        loss = replica_loss(stats, {k: stats[k] for k in LOSS_COUNTS}, config)
        count = stats["mlm_count"]
        policy = stats["policy_loss_sum"] / count
        disc = 50 * stats["disc_loss_sum"] / stats["disc_count"]
        baseline = stats["baseline_loss_sum"] / count
    generator = model.generator.layers[0].trainable_variables + model.generator_head.dense.trainable_variables
    for total, part in zip(tape.gradient(loss, generator), tape.gradient(policy, generator)):
        np.testing.assert_allclose(total.numpy(), part.numpy(), atol=1e-7)  # no MLE term
        assert float(tf.reduce_sum(tf.abs(part))) > 0
    discriminator = model.discriminator.layers[0].trainable_variables + model.discriminator_head.trainable_variables
    assert all(g is None for g in tape.gradient(policy, discriminator))
    for total, part in zip(tape.gradient(loss, discriminator), tape.gradient(disc, discriminator)):
        np.testing.assert_allclose(total.numpy(), part.numpy(), rtol=1e-5, atol=1e-7)
    # The baseline's loss trains its w and nothing of the generator.
    [w_grad] = tape.gradient(baseline, model.reward_baseline.trainable_variables)
    assert float(tf.reduce_sum(tf.abs(w_grad))) > 0
    assert all(g is None for g in tape.gradient(baseline, generator))
