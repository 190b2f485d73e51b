"""Gradient accumulation: one update over k micro-batches equals one update over the whole batch.

Rows are full length, so every micro-batch holds the same token and masked-position
counts (the loop averages count-normalised micro-batch gradients), and dropout is off;
masks and samples are keyed by example content and the step's row-key seed, so the
micro-batches draw what the whole batch draws.
"""
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.trainers.conftest import SEQ, _example
from tests.trainers.test_loop import make_trainer

STEPS = 2  # the learning rate is 0 at step 0 (warmup from 0): step 1 moves the weights


def write_full_length_data(directory) -> str:
    """32 full-length (SEQ) training rows in `directory`; returns it as a string."""
    rng = np.random.default_rng(0)
    with tf.io.TFRecordWriter(os.path.join(directory, "train-00000-of-00001.tfrecord")) as writer:
        for _ in range(32):
            start = int(rng.integers(0, 59))
            writer.write(_example([2] + [5 + (start + j) % 59 for j in range(SEQ - 2)] + [3], SEQ))
    return str(directory)


@pytest.fixture(scope="module")
def full_length_data(tmp_path_factory):
    return write_full_length_data(tmp_path_factory.mktemp("full_length"))


def _train(data_dir, model_dir, optimizer, accumulation):
    tf.config.experimental.enable_op_determinism()
    trainer = make_trainer(data_dir, model_dir, [
        f"train.optimizer={optimizer}", f"train.grad_accumulation_steps={accumulation}",
        "model.encoder.dropout_rate=0", "model.encoder.attention_dropout_rate=0"])
    before = [np.asarray(v) for v in trainer.model.trainable_variables]
    totals, grad_norm = trainer.run_steps(STEPS)
    after = [np.asarray(v) for v in trainer.model.trainable_variables + trainer.optimizer.variables]
    return before, after, {k: np.asarray(v) for k, v in totals.items()}, float(grad_norm)


@pytest.mark.parametrize("optimizer", ["adamw", "lamb"])
def test_two_micro_batches_update_the_weights_as_the_whole_batch(full_length_data, tmp_path, optimizer):
    before, whole, whole_totals, whole_norm = _train(full_length_data, tmp_path / "whole", optimizer, 1)
    _, accumulated, accumulated_totals, accumulated_norm = _train(full_length_data, tmp_path / "micro", optimizer, 2)
    moved = max(float(np.abs(a - b).max()) for a, b in zip(before, whole))
    assert moved > 1e-4
    # The same masks and samples: every summed statistic (losses, counts, replaced tokens) agrees.
    for name, value in whole_totals.items():
        np.testing.assert_allclose(accumulated_totals[name], value, rtol=1e-5, err_msg=name)
    # The gradient before clipping (Adam's and LAMB's updates barely change with its scale).
    assert accumulated_norm == pytest.approx(whole_norm, rel=1e-5)
    assert len(accumulated) == len(whole)
    for a, b in zip(accumulated, whole):  # weights, then optimizer step and slots
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
