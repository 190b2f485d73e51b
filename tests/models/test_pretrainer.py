import numpy as np
import pytest
import tensorflow as tf

from configs import get_config, with_vocab_size
from models.pretrainer import ElectraPretrainer
from models.rtd_loss import rtd_metrics, rtd_statistics

SPECIAL = {"pad": 0, "cls": 2, "sep": 3, "mask": 4}


@pytest.fixture(scope="module")
def setup():
    config = with_vocab_size(get_config("tiny", ["model.encoder.num_layers=1"]), 200).model
    model = ElectraPretrainer(config, SPECIAL, seed=0)
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 200, size=(4, 32)).astype("int32")
    ids[:, 0], ids[:, 20], ids[:, 21:] = 2, 3, 0
    mask = (ids != 0).astype("int32")
    features = {"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)}
    return config, model, features


def test_labels_mark_exactly_the_changed_tokens(setup):
    _, model, features = setup
    out = {k: np.asarray(v) for k, v in model(features, training=True).items()}
    changed = out["disc_input_ids"] != features["input_ids"]
    np.testing.assert_array_equal(out["disc_labels"], changed.astype("int32"))
    # Samples land at the masked positions; a sample equal to the original is labelled original.
    w = out["mlm_weights"] > 0
    same = (out["sampled_ids"] == out["mlm_targets"]) & w
    assert out["disc_labels"].sum() == (w & ~same).sum()
    assert not out["disc_labels"][features["input_mask"] == 0].any()


def test_embeddings_shared_and_generator_scaled(setup):
    config, model, _ = setup
    assert model.generator.embeddings is model.discriminator.embeddings is model.embeddings
    assert model.generator_head.embeddings is model.embeddings
    names = [v.path for v in model.trainable_variables]
    assert len(names) == len(set(id(v) for v in model.trainable_variables))
    assert sum("word_embeddings" in n for n in names) == 1
    gen_layer = model.generator.layers[0]
    assert gen_layer.intermediate.kernel.shape == (32, 128)  # hidden 128/4, FFN 512/4
    assert model.discriminator.layers[0].intermediate.kernel.shape == (128, 512)


def test_discriminator_loss_sends_no_gradient_into_the_generator(setup):
    _, model, features = setup
    with tf.GradientTape(persistent=True) as tape:
        metrics = rtd_metrics(rtd_statistics(model(features, training=True)))
    gen_vars = model.generator.layers[0].trainable_variables + model.generator_head.dense.trainable_variables
    disc_grads = tape.gradient(metrics["disc_loss"], gen_vars)
    assert all(g is None for g in disc_grads)
    mlm_grads = tape.gradient(metrics["mlm_loss"], gen_vars)
    assert all(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in mlm_grads)
    # The shared embeddings learn from both losses.
    emb = model.embeddings.word_embeddings
    assert tape.gradient(metrics["disc_loss"], emb) is not None
    assert tape.gradient(metrics["mlm_loss"], emb) is not None


def test_untrained_losses_are_at_chance(setup):
    config, model, features = setup
    metrics = rtd_metrics(rtd_statistics(model(features, training=False)))
    assert float(metrics["mlm_loss"]) == pytest.approx(np.log(200), rel=0.05)
    assert float(metrics["disc_loss"]) == pytest.approx(np.log(2), rel=0.05)
