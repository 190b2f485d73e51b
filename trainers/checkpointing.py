"""What a checkpoint holds of a Keras 3 model, and restoring weights from another run."""
from __future__ import annotations

import keras
import tensorflow as tf

from core.run_files import RunFilesError


def model_state(model: keras.Model) -> list:
    """All variables of `model` in model order (fixed by its architecture), for tf.train.Checkpoint.

    Keras 3 sublayers are not checkpoint dependencies of their parents, so
    `tf.train.Checkpoint(model=model)` would save only a few variables. The list
    also holds the SeedGenerator states (masking, sampling, dropout), which
    makes a resumed run draw the same random numbers as an uninterrupted one.
    """
    return list(model.variables)


def resolve_checkpoint(path: str) -> str:
    """A checkpoint prefix: `path` itself, or the latest checkpoint in directory `path`."""
    if tf.io.gfile.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise FileNotFoundError(f"no checkpoint in {path}")
        return latest
    if not tf.io.gfile.exists(path + ".index"):
        raise FileNotFoundError(f"{path} is neither a checkpoint prefix nor a directory with checkpoints")
    return path


def restore_weights(model: keras.Model, path: str) -> str:
    """Loads the model variables of checkpoint (or run directory) `path` into a built `model`,
    keeping the model's own random-seed states; optimizer and input state are ignored.
    Returns the checkpoint prefix read."""
    prefix = resolve_checkpoint(path)
    seeds = [(v, v.numpy()) for v in model.variables if "seed_generator_state" in v.path]
    try:
        tf.train.Checkpoint(model=model_state(model)).restore(prefix).expect_partial() \
            .assert_existing_objects_matched()
    except (ValueError, AssertionError) as e:  # shapes or variables of another model (or code version)
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        detail = detail if len(detail) <= 200 else detail[:197] + "..."  # it may quote the values
        raise RunFilesError(f"{prefix}: checkpoint does not fit the model its run's config.json "
                            f"describes: {detail}") from None
    for variable, value in seeds:
        variable.assign(value)
    return prefix


def require_checkpoint(model_dir: str) -> str:
    """The latest checkpoint prefix of `model_dir`, or a clear error."""
    latest = tf.train.latest_checkpoint(model_dir)
    if latest is None:
        raise RunFilesError(f"no checkpoint in {model_dir}; train it first")
    return latest


def weights_only_checkpoint(model_dir: str) -> str | None:
    """The latest checkpoint of `model_dir` if it holds model weights only (trainers.convert writes
    such a `ckpt-0`; training checkpoints also hold the optimizer), else None."""
    latest = tf.train.latest_checkpoint(model_dir)
    if latest is None or any(name.startswith("optimizer/") for name, _ in tf.train.list_variables(latest)):
        return None
    return latest
