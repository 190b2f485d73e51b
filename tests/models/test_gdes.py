"""Gradient-disentangled embedding sharing (DeBERTaV3): where each loss's gradient goes,
and that a zero residual is plain embedding sharing."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs import get_config, with_vocab_size
from models.pretrainer import ElectraPretrainer
from models.rtd_loss import rtd_metrics, rtd_statistics
from tests.models.test_pretrainer import SPECIAL, make_features

V = 200


def build(sharing, seed=0):
    config = with_vocab_size(get_config("tiny", ["model.encoder.num_layers=1", f"model.sharing={sharing}"]),
                             V).model
    keras.utils.set_random_seed(seed)
    model = ElectraPretrainer(config, SPECIAL, seed=seed)
    model(make_features(), training=False)
    return model


def residuals(model):
    block = model.discriminator.embeddings
    return [block.word_residual, block.position_residual, block.segment_residual,
            block.gamma_residual, block.beta_residual]


@pytest.fixture(scope="module")
def gdes():
    return build("gdes")


def test_rtd_gradient_reaches_only_the_residuals_and_mlm_only_the_shared_tables(gdes):
    model = gdes
    shared = model.embeddings.trainable_variables  # word, position, segment, LayerNorm
    assert model.generator.embeddings is model.embeddings
    assert len(shared) == 5 and [v.path.split("/")[-1] for v in residuals(model)] == [
        "word_residual", "position_residual", "segment_residual",
        "layer_norm_gamma_residual", "layer_norm_beta_residual"]
    with tf.GradientTape(persistent=True) as tape:
        metrics = rtd_metrics(rtd_statistics(model(make_features(), training=True)))
    for loss, reaches, misses in (("disc_loss", residuals(model), shared),
                                  ("mlm_loss", shared, residuals(model))):
        grads = tape.gradient(metrics[loss], reaches + misses)
        assert all(g is not None and float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(g)))) > 0
                   for g in grads[:5]), loss
        assert all(g is None for g in grads[5:]), loss


def test_zero_residual_is_plain_embedding_sharing(gdes):
    plain = build("embeddings", seed=1)
    # The same weights: every variable of the plain model, in order, is one of gdes's.
    extra = {id(v) for v in residuals(gdes)}
    counterparts = [v for v in gdes.variables if id(v) not in extra]
    assert [v.shape for v in counterparts] == [v.shape for v in plain.variables]
    for mine, theirs in zip(counterparts, plain.variables):
        mine.assign(theirs)
    assert not any(np.asarray(v).any() for v in residuals(gdes))
    features = make_features(seed=4)
    for training in (False, True):  # dropout too: the same layers draw the same masks
        a = {k: np.asarray(v) for k, v in gdes(features, training=training).items()}
        b = {k: np.asarray(v) for k, v in plain(features, training=training).items()}
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_discriminator_reads_shared_plus_residual(gdes):
    model, rng = gdes, np.random.default_rng(0)
    block = model.discriminator.embeddings
    for variable in residuals(model):
        variable.assign(rng.normal(scale=0.1, size=variable.shape))
    features = make_features(seed=5)
    got = np.asarray(block(features["input_ids"], features["segment_ids"]))
    word, position, segment, gamma, beta = (np.asarray(s) + np.asarray(r) for s, r in
                                            zip(model.embeddings.trainable_variables, residuals(model)))
    x = word[features["input_ids"]] + position[None, :32] + segment[features["segment_ids"]]
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-12) * gamma + beta
    np.testing.assert_allclose(got, expected, atol=2e-5)
    np.testing.assert_allclose(np.asarray(block.word_embeddings), word)
    for variable in residuals(model):
        variable.assign(np.zeros(variable.shape))


def test_gdes_needs_a_separate_generator():
    for overrides in (["model.generator=uniform"], ["model.objective=mlm"]):
        with pytest.raises(ValueError, match="needs a separate generator"):
            get_config("tiny", ["model.sharing=gdes", *overrides])
