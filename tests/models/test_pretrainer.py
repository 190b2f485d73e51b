import keras
import numpy as np
import pytest
import tensorflow as tf

from configs import get_config, with_vocab_size
from models.pretrainer import ElectraPretrainer
from models.rtd_loss import rtd_metrics, rtd_statistics
from tests.models.test_rtd_loss import numpy_reference

SPECIAL = {"pad": 0, "cls": 2, "sep": 3, "mask": 4}


def make_features(batch=4, length=32, vocab=200, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, size=(batch, length)).astype("int32")
    ids[:, 0], ids[:, 20], ids[:, 21:] = 2, 3, 0
    ids[1, 12:], ids[1, 11] = 0, 3
    mask = (ids != 0).astype("int32")
    segments = np.zeros_like(ids)
    segments[:, 10:21] = 1
    return {"input_ids": ids, "input_mask": mask, "segment_ids": segments * mask}


@pytest.fixture(scope="module")
def setup():
    config = with_vocab_size(get_config("tiny", ["model.encoder.num_layers=1"]), 200).model
    keras.utils.set_random_seed(0)
    return config, ElectraPretrainer(config, SPECIAL, seed=0), make_features()


def test_outputs_follow_the_objective_given_its_masks_and_samples(setup):
    """Recomputes every step from the drawn positions and samples, in NumPy, and the loss."""
    _, model, features = setup
    out = {k: np.asarray(v) for k, v in model(features, training=False).items()}
    ids, mask = features["input_ids"], features["input_mask"]
    pos, w, sampled = out["mlm_positions"], out["mlm_weights"] > 0, out["sampled_ids"]
    np.testing.assert_array_equal(out["mlm_targets"], np.take_along_axis(ids, pos, 1))
    generator_input, corrupted = ids.copy(), ids.copy()
    for b in range(len(ids)):
        at = pos[b][w[b]]
        new = out["generator_input_ids"][b, at]
        assert np.all((new == SPECIAL["mask"]) | (new == ids[b, at]))
        generator_input[b, at] = new
        corrupted[b, at] = sampled[b][w[b]]
    np.testing.assert_array_equal(out["generator_input_ids"], generator_input)
    np.testing.assert_array_equal(out["disc_input_ids"], corrupted)
    np.testing.assert_array_equal(out["disc_labels"], ((corrupted != ids) & (mask > 0)).astype(int))
    np.testing.assert_array_equal(out["disc_weights"], mask)
    logits = model.generator_logits(generator_input, mask, features["segment_ids"], pos)
    np.testing.assert_allclose(out["mlm_logits"], np.asarray(logits), atol=1e-5)
    disc = model.discriminate(corrupted, mask, features["segment_ids"])
    np.testing.assert_allclose(out["disc_logits"], np.asarray(disc), atol=1e-5)
    got = {k: float(v) for k, v in rtd_metrics(rtd_statistics(out)).items()}
    for name, value in numpy_reference(out, 1.0, 50.0).items():
        assert got[name] == pytest.approx(value, rel=1e-4, abs=1e-6), name


def test_embeddings_shared_and_generator_scaled(setup):
    config, model, _ = setup
    assert model.generator.embeddings is model.discriminator.embeddings is model.embeddings
    assert model.generator_head.embeddings is model.embeddings
    variables = model.trainable_variables
    assert len(variables) == len(set(id(v) for v in variables))
    assert sum("word_embeddings" in v.path for v in variables) == 1
    assert model.generator.layers[0].intermediate.kernel.shape == (
        32,
        128,
    )  # hidden 128/4, FFN 512/4
    assert model.discriminator.layers[0].intermediate.kernel.shape == (128, 512)
    # Each encoder projects the shared 64-wide embeddings to its own width.
    assert model.generator.projection.kernel.shape == (64, 32)
    assert model.discriminator.projection.kernel.shape == (64, 128)
    assert model.generator_head.output_bias.shape == (200,)


def test_discriminator_loss_sends_no_gradient_into_the_generator(setup):
    _, model, features = setup
    with tf.GradientTape(persistent=True) as tape:
        metrics = rtd_metrics(rtd_statistics(model(features, training=True)))
    gen_vars = (
        model.generator.layers[0].trainable_variables
        + model.generator_head.dense.trainable_variables
    )
    disc_grads = tape.gradient(metrics["disc_loss"], gen_vars)
    assert all(g is None for g in disc_grads)
    mlm_grads = tape.gradient(metrics["mlm_loss"], gen_vars)
    assert all(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in mlm_grads)
    # The shared embeddings learn from both losses.
    emb = model.embeddings.word_embeddings
    assert tape.gradient(metrics["disc_loss"], emb) is not None
    assert tape.gradient(metrics["mlm_loss"], emb) is not None


def test_dropout_only_in_training(setup):
    _, model, features = setup
    seed_state = model.seed_generator.state.numpy()
    first = model(features, training=False)
    model.seed_generator.state.assign(seed_state)
    second = model(features, training=False)
    np.testing.assert_array_equal(
        np.asarray(first["disc_logits"]), np.asarray(second["disc_logits"])
    )
    hidden = model.discriminator(
        features["input_ids"], features["input_mask"], features["segment_ids"]
    )
    dropped = model.discriminator(
        features["input_ids"], features["input_mask"], features["segment_ids"], training=True
    )
    assert float(np.abs(np.asarray(hidden) - np.asarray(dropped)).max()) > 0.1


def test_padding_does_not_change_the_encoding(setup):
    _, model, features = setup
    ids, mask, seg = (features[k][:1, :21] for k in ("input_ids", "input_mask", "segment_ids"))
    short = np.asarray(model.discriminator(ids, mask, seg))
    padded = np.asarray(
        model.discriminator(
            features["input_ids"][:1], features["input_mask"][:1], features["segment_ids"][:1]
        )
    )
    np.testing.assert_allclose(padded[:, :21], short, atol=1e-5)


def test_untrained_losses_are_at_chance(setup):
    config, model, features = setup
    metrics = rtd_metrics(rtd_statistics(model(features, training=False)))
    assert float(metrics["mlm_loss"]) == pytest.approx(np.log(200), rel=0.05)
    # Small random logits: log 2 plus about E[z^2] / 8.
    assert float(metrics["disc_loss"]) == pytest.approx(np.log(2), rel=0.1)
