"""The paper's variants (sec. 3.1-3.2 and appendix), each selected by config."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs import PretrainConfig, get_config, with_vocab_size
from models.masking import positions_indicator
from models.pretrainer import ElectraPretrainer
from models.rtd_loss import loss_weights, replica_loss, rtd_metrics, rtd_statistics
from models.two_stage import init_discriminator_from_generator, stage_at, stage_variables
from tests.models.test_pretrainer import SPECIAL, make_features
from tests.models.test_rtd_loss import log_softmax

V = 200


def build(*overrides, seed=0):
    config = with_vocab_size(
        get_config("tiny", ["model.encoder.num_layers=1", *overrides]), V
    ).model
    keras.utils.set_random_seed(seed)
    return config, ElectraPretrainer(config, SPECIAL, seed=seed)


def numpy_outputs(model, features, training=False):
    return {k: np.asarray(v) for k, v in model(features, training=training).items()}


def gradients(model, features, config):
    with tf.GradientTape() as tape:
        stats = rtd_statistics(model(features, training=True))
        loss = replica_loss(stats, stats, config)
    return dict(
        zip(
            [v.path for v in model.trainable_variables],
            tape.gradient(loss, model.trainable_variables),
        )
    )


def test_electra_15_scores_only_the_masked_positions():
    config, model = build("model.objective=electra_15")
    features = make_features()
    out = numpy_outputs(model, features)
    expected = np.asarray(positions_indicator(out["mlm_positions"], out["mlm_weights"], 32))
    np.testing.assert_array_equal(out["disc_weights"], expected)
    stats = rtd_statistics(out)
    assert float(stats["disc_count"]) == float(stats["mlm_count"]) == out["mlm_weights"].sum()
    z, y = out["disc_logits"].astype(np.float64), out["disc_labels"]
    bce = np.logaddexp(0, z) - z * y
    assert float(rtd_metrics(stats)["disc_loss"]) == pytest.approx(
        (bce * expected).sum() / expected.sum(), rel=1e-5
    )


def test_mlm_is_bert_with_80_10_10_and_no_discriminator():
    config, model = build("model.objective=mlm")
    assert model.generator is model.discriminator
    assert not hasattr(model, "discriminator_head")
    features = make_features(batch=512, length=32, seed=1)
    out = numpy_outputs(model, features)
    assert model.generator.layers[0].intermediate.kernel.shape == (128, 512)  # full size
    assert not {"disc_logits", "sampled_ids", "main_mlm_logits"} & set(out)
    w = out["mlm_weights"] > 0
    new = np.take_along_axis(out["generator_input_ids"], out["mlm_positions"], 1)[w]
    old = out["mlm_targets"][w]
    n = w.sum()  # ~1500 positions: standard errors 0.010 (80%) and 0.008 (10%)
    assert (new == SPECIAL["mask"]).mean() == pytest.approx(0.8, abs=0.04)
    assert ((new != SPECIAL["mask"]) & (new != old)).mean() == pytest.approx(0.1, abs=0.03)
    assert n > 1500
    assert loss_weights(config) == (1.0, 0.0, 0.0, 0.0)
    grads = gradients(model, make_features(), config)
    assert all(g is not None for g in grads.values())


def test_replace_mlm_predicts_originals_from_generator_samples():
    config, model = build("model.objective=replace_mlm")
    assert not hasattr(model, "discriminator_head")
    features = make_features()
    out = numpy_outputs(model, features)
    assert not (out["disc_input_ids"] == SPECIAL["mask"]).any()  # samples replace the [MASK]s
    assert (out["generator_input_ids"] == SPECIAL["mask"]).any()
    hidden = model.discriminator(
        out["disc_input_ids"], features["input_mask"], features["segment_ids"]
    )
    gathered = np.take_along_axis(np.asarray(hidden), out["mlm_positions"][..., None], 1)
    logits = np.asarray(model.discriminator_mlm_head(gathered))
    np.testing.assert_allclose(out["main_mlm_logits"], logits, atol=1e-5)
    np.testing.assert_array_equal(out["main_mlm_targets"], out["mlm_targets"])
    w = out["mlm_weights"]
    nll = -np.take_along_axis(
        log_softmax(logits.astype(np.float64)), out["mlm_targets"][..., None], -1
    )[..., 0]
    stats = rtd_statistics(out)
    assert float(stats["disc_loss_sum"]) == pytest.approx((nll * w).sum(), rel=1e-5)
    # Tied to the shared word embeddings, with its own bias.
    assert model.discriminator_mlm_head.embeddings is model.embeddings
    assert model.discriminator_mlm_head.output_bias is not model.generator_head.output_bias
    assert all(g is not None for g in gradients(model, features, config).values())


def test_all_tokens_mlm_predicts_every_token_with_a_copy_gate():
    config, model = build("model.objective=all_tokens_mlm")
    features = make_features()
    out = numpy_outputs(model, features)
    mask = features["input_mask"]
    assert out["main_mlm_logits"].shape == (4, 32, V)
    np.testing.assert_array_equal(out["main_mlm_targets"], features["input_ids"])
    np.testing.assert_array_equal(out["main_mlm_weights"], mask)
    d = 1 / (1 + np.exp(out["disc_logits"].astype(np.float64)))  # copy probability
    q = np.exp(log_softmax(out["main_mlm_logits"].astype(np.float64)))
    mixture = (1 - d)[..., None] * q + d[..., None] * np.eye(V)[out["disc_input_ids"]]
    p = np.take_along_axis(mixture, features["input_ids"][..., None], -1)[..., 0]
    metrics = rtd_metrics(rtd_statistics(out), *loss_weights(config))
    assert float(metrics["disc_loss"]) == pytest.approx(
        (-np.log(p) * mask).sum() / mask.sum(), rel=1e-5
    )
    grads = gradients(model, features, config)
    assert all(g is not None for g in grads.values())
    assert float(tf.reduce_sum(tf.abs(grads[model.discriminator_head.logit.kernel.path]))) > 0


def test_uniform_generator_samples_every_id_equally():
    config, model = build("model.generator=uniform")
    assert model.generator is None
    assert not any("generator" in v.path for v in model.trainable_variables)
    features = make_features(batch=512, length=32, seed=2)
    out = numpy_outputs(model, features)
    assert not out["mlm_logits"].any()
    assert float(rtd_metrics(rtd_statistics(out))["mlm_loss"]) == pytest.approx(np.log(V), rel=1e-6)
    samples = out["sampled_ids"][out["mlm_weights"] > 0]
    counts = np.bincount(samples, minlength=V)
    expected = len(samples) / V  # ~11 per id; chi-square with 199 d.o.f. is ~199 +- 20
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert 120 < chi2 < 290


def test_unigram_generator_samples_by_corpus_frequency():
    config, model = build("model.generator=unigram")
    with pytest.raises(ValueError, match="not 'unigram'"):
        build("model.generator=uniform")[1].set_unigram_counts(np.ones(V))
    counts = np.zeros(V)
    counts[[10, 11, 12]] = [6000, 3000, 997]
    counts[SPECIAL["sep"]] = 50_000  # special tokens are never sampled
    model.set_unigram_counts(counts)
    features = make_features(batch=256, length=32, seed=3)
    out = numpy_outputs(model, features)
    samples = out["sampled_ids"][out["mlm_weights"] > 0]
    total = 6001 + 3001 + 998 + (V - 4 - 3)  # add-one smoothing over the 196 non-special ids
    freq = np.bincount(samples, minlength=V) / len(samples)
    np.testing.assert_allclose(freq[[10, 11, 12]], np.array([6001, 3001, 998]) / total, atol=0.04)
    assert freq[list(SPECIAL.values())].sum() == 0
    # The distribution is a non-trainable weight, so checkpoints keep it.
    assert any(v.path.endswith("logits") for v in model.non_trainable_variables)


@pytest.mark.parametrize("sharing", ["none", "embeddings", "all"])
def test_sharing_modes(sharing):
    overrides = [f"model.sharing={sharing}"] + (
        ["model.generator_size=1"] if sharing == "all" else []
    )
    config, model = build(*overrides)
    model(make_features(), training=False)
    variables = model.trainable_variables
    assert len(variables) == len({id(v) for v in variables})
    gen_vars = {id(v) for v in model.generator.trainable_variables}
    disc_vars = {id(v) for v in model.discriminator.trainable_variables}
    embedding_vars = {id(v) for v in model.embeddings.trainable_variables}
    shared = gen_vars & disc_vars
    if sharing == "none":
        assert not shared
        assert model.generator.embeddings.word_embeddings.shape == (V, 64)
    elif sharing == "embeddings":
        # Word, position, segment embeddings and the embedding LayerNorm; projections are separate.
        assert shared == embedding_vars and len(shared) == 5
    else:
        assert model.generator is model.discriminator and shared == disc_vars
    assert model.generator_head.embeddings is model.generator.embeddings
    with pytest.raises(ValueError, match="needs generator_size 1"):
        get_config("tiny", ["model.sharing=all"])


def test_two_stage_initialises_and_freezes():
    steps = ["model.sharing=none", "model.generator_size=1", "model.two_stage_generator_steps=5"]
    config, model = build(*steps)
    features = make_features()
    model(features, training=False)
    assert [stage_at(config, s) for s in (0, 4, 5, 9)] == ["generator"] * 2 + ["discriminator"] * 2
    assert stage_at(get_config("tiny").model, 3) == "joint"
    gen, disc = stage_variables(model, "generator"), stage_variables(model, "discriminator")
    assert not {id(v) for v in gen} & {id(v) for v in disc}
    assert len(gen) + len(disc) == len(model.trainable_variables)
    args = (features["input_ids"], features["input_mask"], features["segment_ids"])
    assert (
        np.abs(np.asarray(model.generator(*args)) - np.asarray(model.discriminator(*args))).max()
        > 0.1
    )
    init_discriminator_from_generator(model)
    np.testing.assert_allclose(
        np.asarray(model.generator(*args)), np.asarray(model.discriminator(*args)), atol=1e-6
    )
    # Stage 2: only the discriminator moves under AdamW (weight decay included).
    optimizer = keras.optimizers.AdamW(learning_rate=1e-2, weight_decay=0.01)
    optimizer.build(model.trainable_variables)
    before = [v.numpy().copy() for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        stats = rtd_statistics(model(features, training=True))
        loss = replica_loss(stats, stats, config, "discriminator")
    grads = tape.gradient(loss, disc)
    assert all(g is not None for g in grads)
    optimizer.apply_gradients(zip(grads, disc))
    moved = [not np.array_equal(v.numpy(), b) for v, b in zip(model.trainable_variables, before)]
    assert moved == [id(v) in {id(d) for d in disc} for v in model.trainable_variables]
    with pytest.raises(ValueError, match="two-stage training"):
        get_config("tiny", ["model.two_stage_generator_steps=5"])
    with pytest.raises(ValueError, match="below train.num_steps"):
        PretrainConfig(model=config, train=get_config("tiny", ["train.num_steps=5"]).train)
