"""Reading and writing the small JSON files of run directories and checkpoint formats."""
from __future__ import annotations

import json

import tensorflow as tf


def read_json(path: str, error: type[Exception], missing: str | None = ""):
    """The JSON value in `path` (any file system tf.io.gfile reads). A missing file is
    `error(f"{path} not found{missing}")`, or {} when `missing` is None; invalid JSON is
    `error` naming the path and the place."""
    if not tf.io.gfile.exists(path):
        if missing is None:
            return {}
        raise error(f"{path} not found{missing}")
    with tf.io.gfile.GFile(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as err:
            raise error(f"{path}: not valid JSON ({err})") from None


def write_json(path: str, value, sort_keys: bool = False) -> None:
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(value, indent=2, sort_keys=sort_keys) + "\n")
