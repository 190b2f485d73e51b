"""tf.data input over the TFRecords written by pipelines.build_pretraining_data (their manifest: core/run_files.py)."""
from __future__ import annotations

import re

import numpy as np
import tensorflow as tf

FEATURES = ("input_ids", "input_mask", "segment_ids")
BLOCK_FEATURES = ("input_ids",)  # a causal LM's blocks (pipelines.blocks), of max_seq_length + 1 tokens


def parse_examples(serialized, max_seq_length: int, features: tuple[str, ...] = FEATURES) -> dict:
    """Serialized tf.train.Examples (B,) -> {feature: (B, max_seq_length) int32}."""
    spec = {name: tf.io.FixedLenFeature([max_seq_length], tf.int64) for name in features}
    parsed = tf.io.parse_example(serialized, spec)
    return {name: tf.cast(value, tf.int32) for name, value in parsed.items()}


def scan_records(path: str) -> tuple[int, int | None]:
    """(records readable from the start of TFRecord file `path`, byte offset of the first corrupt
    record or None). TensorFlow's reader cannot resynchronise after a corrupt record, so
    everything after it is unreadable."""
    good = int(tf.data.TFRecordDataset(path).ignore_errors().reduce(np.int64(0), lambda n, _: n + 1))
    try:
        for _ in tf.data.TFRecordDataset(path).skip(good).take(1):
            pass
    except tf.errors.DataLossError as err:
        found = re.search(r"corrupted record at (\d+)", err.message)
        return good, int(found.group(1)) if found else -1
    return good, None


def corrupt_files(pattern: str) -> dict[str, tuple[int, int]]:
    """{file: (records readable before the corruption, its byte offset)} for the corrupt files of `pattern`."""
    scans = {path: scan_records(path) for path in sorted(tf.io.gfile.glob(pattern))}
    return {path: (good, offset) for path, (good, offset) in scans.items() if offset is not None}


def make_dataset(pattern: str, batch_size: int, max_seq_length: int, *, training: bool, seed: int,
                 shuffle_buffer: int = 10_000, input_context: tf.distribute.InputContext | None = None,
                 record_limits: dict[str, int] | None = None, features: tuple[str, ...] = FEATURES
                 ) -> tf.data.Dataset:
    """Batches of `batch_size` (per input pipeline) examples.

    Training: this pipeline's shard of the files, shuffled, records interleaved
    and shuffled within each epoch, then repeated: every epoch holds each
    example exactly once, and the order is fixed by the seed (so the iterator
    state in a checkpoint resumes exactly). Evaluation: one ordered pass.
    record_limits: {file: n} reads only the first n records of those files
    (the readable part of a corrupt file). features: the records' (FEATURES, or a causal LM's
    BLOCK_FEATURES with max_seq_length its blocks' length).
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
    read = tf.data.TFRecordDataset
    if record_limits:
        limits = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            list(record_limits), tf.constant(list(record_limits.values()), tf.int64)), default_value=-1)
        read = lambda path: tf.data.TFRecordDataset(path).take(limits.lookup(path))  # noqa: E731
    ds = ds.interleave(read, cycle_length=min(8, len(files)), num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True)
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed).repeat()
    ds = ds.batch(batch_size, drop_remainder=training)
    ds = ds.map(lambda x: parse_examples(x, max_seq_length, features), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def in_memory_batches(features: dict, batch_size: int, seed: int,
                      input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """Endless batches of in-memory examples {name: (N, ...) array}: epoch e visits all N in an
    order fixed by (seed, e); batches may straddle epochs.

    Every input pipeline draws the same global batches (batch_size x pipelines
    examples) and keeps its own slice of each, so the global batch at a step
    does not depend on the number of workers. The iterator's state is a few
    counters (the examples are captured constants), so checkpoints stay small.
    """
    n = len(next(iter(features.values())))
    pipelines = input_context.num_input_pipelines if input_context else 1
    part = input_context.input_pipeline_id if input_context else 0
    tensors = {name: tf.constant(value) for name, value in features.items()}

    def epoch_order(epoch):
        keys = tf.random.stateless_uniform([n], seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(tf.argsort(keys))

    order = tf.data.Dataset.range(2**62).flat_map(epoch_order).batch(batch_size * pipelines, drop_remainder=True)
    order = order.map(lambda index: index[part * batch_size:(part + 1) * batch_size])
    return order.map(lambda index: {name: tf.gather(t, index) for name, t in tensors.items()}).prefetch(2)


def two_segment_fraction(pattern: str, max_seq_length: int, max_examples: int = 1000) -> float:
    """Fraction of the first `max_examples` examples of `pattern` (file order) that have a
    second segment (segment id 1 on a real token)."""
    dataset = make_dataset(pattern, max_examples, max_seq_length, training=False, seed=0)
    batch = next(iter(dataset.take(1)))
    two = tf.reduce_any((batch["segment_ids"] > 0) & (batch["input_mask"] > 0), axis=1)
    return float(tf.reduce_mean(tf.cast(two, tf.float32)))
