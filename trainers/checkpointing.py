"""What a checkpoint holds of a Keras 3 model."""
from __future__ import annotations

import keras


def model_state(model: keras.Model) -> list:
    """All variables of `model` in model order (fixed by its architecture), for tf.train.Checkpoint.

    Keras 3 sublayers are not checkpoint dependencies of their parents, so
    `tf.train.Checkpoint(model=model)` would save only a few variables. The list
    also holds the SeedGenerator states (masking, sampling, dropout), which
    makes a resumed run draw the same random numbers as an uninterrupted one.
    """
    return list(model.variables)
