"""Restoring weights from a checkpoint of another shape is one clear error naming the checkpoint."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from trainers.checkpointing import model_state, restore_weights
from core.run_files import RunFilesError


def dense_model(units):
    model = keras.Sequential([keras.layers.Dense(units, name="out")])
    model(np.zeros((1, 2), np.float32))
    return model


def test_weights_round_trip_and_a_shape_mismatch_names_the_checkpoint(tmp_path):
    saved = dense_model(3)
    prefix = tf.train.Checkpoint(model=model_state(saved)).save(str(tmp_path / "ckpt"))  # ckpt-1
    same = dense_model(3)
    assert restore_weights(same, prefix) == prefix
    np.testing.assert_array_equal(same.layers[0].kernel.numpy(), saved.layers[0].kernel.numpy())
    with pytest.raises(RunFilesError, match=r"ckpt-1: checkpoint does not fit the model .*shape") as error:
        restore_weights(dense_model(4), prefix)
    assert "\n" not in str(error.value)
