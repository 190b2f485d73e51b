"""Sentence-order prediction: the in-graph segment swap, its draws, the head and its loss."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs import get_config, with_vocab_size
from models.hash_random import row_keys
from models.pretrainer import ElectraPretrainer
from models.rtd_loss import loss_weights, rtd_metrics, rtd_statistics
from models.sentence_order import swap_draws, swap_segments, two_segment_rows
from tests.models.test_pretrainer import SPECIAL

CLS, SEP = SPECIAL["cls"], SPECIAL["sep"]


def two_segment_batch(num, length, vocab=200, seed=0):
    """[CLS] A [SEP] B [SEP] rows (every 5th single-segment) and their segment lengths."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((num, length), np.int32)
    segments = np.zeros_like(ids)
    sizes = []
    for row in range(num):
        n = int(rng.integers(6, length + 1))
        if row % 5 == 4:
            ids[row, :n] = [CLS] + list(rng.integers(5, vocab, n - 2)) + [SEP]
            sizes.append(None)
            continue
        a = int(rng.integers(1, n - 3))
        b = n - a - 3
        ids[row, :n] = [CLS] + list(rng.integers(5, vocab, a)) + [SEP] + list(rng.integers(5, vocab, b)) + [SEP]
        segments[row, a + 2:n] = 1
        sizes.append((a, b))
    mask = (ids != 0).astype(np.int32)
    return {"input_ids": ids, "input_mask": mask, "segment_ids": segments}, sizes


def test_swap_rebuilds_cls_b_sep_a_sep_and_leaves_other_rows():
    features, sizes = two_segment_batch(50, 24)
    ids, segments, mask = features["input_ids"], features["segment_ids"], features["input_mask"]
    swap = np.arange(50) % 2 == 0
    swap[4::5] = False  # single-segment rows are never swapped
    got_ids, got_segments = map(np.asarray, swap_segments(ids, segments, mask, swap))
    for row, size in enumerate(sizes):
        if not swap[row]:
            np.testing.assert_array_equal(got_ids[row], ids[row])
            np.testing.assert_array_equal(got_segments[row], segments[row])
            continue
        a, b = size
        first, second = ids[row, 1:1 + a], ids[row, a + 2:a + 2 + b]
        n = a + b + 3
        np.testing.assert_array_equal(got_ids[row, :n], [CLS, *second, SEP, *first, SEP])
        np.testing.assert_array_equal(got_segments[row, :n], [0] * (b + 2) + [1] * (a + 1))
        assert not got_ids[row, n:].any() and not got_segments[row, n:].any()
    # Swapping again restores the example.
    back = map(np.asarray, swap_segments(got_ids, got_segments, mask, swap))
    for got, original in zip(back, (ids, segments)):
        np.testing.assert_array_equal(got, original)
    np.testing.assert_array_equal(np.asarray(two_segment_rows(segments, mask)),
                                  [size is not None for size in sizes])


def test_swap_draws_are_fair_new_each_call_and_keyed_by_content():
    features, _ = two_segment_batch(10_000, 16, seed=1)
    ids = features["input_ids"]
    seed = keras.random.SeedGenerator(3)
    first = np.asarray(swap_draws(row_keys(ids, seed)))
    second = np.asarray(swap_draws(row_keys(ids, seed)))
    assert first.mean() == pytest.approx(0.5, abs=0.015)  # standard error 0.005
    assert (first != second).mean() == pytest.approx(0.5, abs=0.015)  # a new draw each time
    order = np.array([9, 3, 7])
    alone = np.asarray(swap_draws(row_keys(ids[order], keras.random.SeedGenerator(3))))
    np.testing.assert_array_equal(alone, first[order])


@pytest.fixture(scope="module")
def model_and_features():
    config = with_vocab_size(get_config("tiny", ["model.encoder.num_layers=1", "model.sentence_order=true",
                                                 "model.sop_weight=2"]), 200).model
    keras.utils.set_random_seed(0)
    features, _ = two_segment_batch(16, 32, seed=2)
    return config, ElectraPretrainer(config, SPECIAL, seed=0), features


def test_model_predicts_the_order_of_the_swapped_input(model_and_features):
    config, model, features = model_and_features
    state = model.seed_generator.state.numpy()
    out = {k: np.asarray(v) for k, v in model(features, training=False).items()}
    two = np.asarray(two_segment_rows(features["segment_ids"], features["input_mask"]))
    np.testing.assert_array_equal(out["sop_weights"], two)
    assert out["sop_labels"][~two].sum() == 0 and 0 < out["sop_labels"].sum() < two.sum()
    swapped_ids, swapped_segments = swap_segments(
        features["input_ids"], features["segment_ids"], features["input_mask"], out["sop_labels"] > 0)
    # Masking and the discriminator see the swapped example; the same draw as a direct call.
    model.seed_generator.state.assign(state)
    keys = row_keys(features["input_ids"], model.seed_generator)
    np.testing.assert_array_equal(out["sop_labels"], np.asarray(swap_draws(keys)) & two)
    np.testing.assert_array_equal(out["mlm_targets"],
                                  np.take_along_axis(np.asarray(swapped_ids), out["mlm_positions"], 1))
    hidden = model.discriminator(out["disc_input_ids"], features["input_mask"], swapped_segments)
    np.testing.assert_allclose(out["sop_logits"], np.asarray(model.sentence_order_head(hidden)), atol=1e-5)
    # The loss: softmax cross-entropy over the two-segment rows, weight 2.
    logits = out["sop_logits"].astype(np.float64)
    log_p = logits - np.logaddexp(logits[:, :1], logits[:, 1:])
    nll = -log_p[np.arange(16), out["sop_labels"]]
    metrics = rtd_metrics(rtd_statistics(out), *loss_weights(config))
    assert float(metrics["sop_loss"]) == pytest.approx(nll[two].mean(), rel=1e-5)
    assert float(metrics["sop_accuracy"]) == pytest.approx(
        (logits.argmax(1) == out["sop_labels"])[two].mean())
    assert float(metrics["loss"]) == pytest.approx(
        float(metrics["mlm_loss"]) + 50 * float(metrics["disc_loss"]) + 2 * nll[two].mean(), rel=1e-5)


def test_sop_loss_trains_the_pooler_and_the_discriminator_only(model_and_features):
    _, model, features = model_and_features
    with tf.GradientTape(persistent=True) as tape:
        metrics = rtd_metrics(rtd_statistics(model(features, training=True)), 1.0, 50.0, 1.0)
    head = model.sentence_order_head.trainable_variables
    assert all(float(tf.reduce_sum(tf.abs(g))) > 0 for g in tape.gradient(metrics["sop_loss"], head))
    assert tape.gradient(metrics["sop_loss"], model.discriminator.layers[0].intermediate.kernel) is not None
    assert all(g is None for g in tape.gradient(metrics["sop_loss"], model.generator.layers[0].trainable_variables))
    assert all(g is None for g in tape.gradient(metrics["disc_loss"] + metrics["mlm_loss"], head))
