"""tf.data input over the TFRecords and manifest written by pipelines.build_pretraining_data."""
from __future__ import annotations

import json
import os

import tensorflow as tf

FEATURES = ("input_ids", "input_mask", "segment_ids")


def load_manifest(pattern: str) -> dict:
    """The manifest.json beside the files matched by `pattern`; fails fast with a clear message."""
    files = tf.io.gfile.glob(pattern)
    if not files:
        raise FileNotFoundError(f"no files match {pattern!r}")
    directory = os.path.dirname(files[0])
    path = os.path.join(directory, "manifest.json")
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path} not found: data must come from pipelines.build_pretraining_data")
    with tf.io.gfile.GFile(path) as f:
        manifest = json.load(f)
    manifest["directory"] = directory
    return manifest


def parse_examples(serialized, max_seq_length: int) -> dict:
    """Serialized tf.train.Examples (B,) -> {feature: (B, max_seq_length) int32}."""
    spec = {name: tf.io.FixedLenFeature([max_seq_length], tf.int64) for name in FEATURES}
    parsed = tf.io.parse_example(serialized, spec)
    return {name: tf.cast(value, tf.int32) for name, value in parsed.items()}


def make_dataset(pattern: str, batch_size: int, max_seq_length: int, *, training: bool, seed: int,
                 shuffle_buffer: int = 10_000, input_context: tf.distribute.InputContext | None = None
                 ) -> tf.data.Dataset:
    """Batches of `batch_size` (per input pipeline) examples.

    Training: this pipeline's shard of the files, shuffled, records interleaved
    and shuffled within each epoch, then repeated: every epoch holds each
    example exactly once, and the order is fixed by the seed (so the iterator
    state in a checkpoint resumes exactly). Evaluation: one ordered pass.
    """
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no files match {pattern!r}")
    ds = tf.data.Dataset.from_tensor_slices(files)
    if input_context is not None and input_context.num_input_pipelines > 1:
        if len(files) < input_context.num_input_pipelines:
            raise ValueError(f"{len(files)} files cannot be sharded over {input_context.num_input_pipelines} workers")
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if training:
        ds = ds.shuffle(len(files), seed=seed)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(8, len(files)),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed).repeat()
    ds = ds.batch(batch_size, drop_remainder=training)
    ds = ds.map(lambda x: parse_examples(x, max_seq_length), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def two_segment_fraction(pattern: str, max_seq_length: int, max_examples: int = 1000) -> float:
    """Fraction of the first `max_examples` examples of `pattern` (file order) that have a
    second segment (segment id 1 on a real token)."""
    dataset = make_dataset(pattern, max_examples, max_seq_length, training=False, seed=0)
    batch = next(iter(dataset.take(1)))
    two = tf.reduce_any((batch["segment_ids"] > 0) & (batch["input_mask"] > 0), axis=1)
    return float(tf.reduce_mean(tf.cast(two, tf.float32)))
