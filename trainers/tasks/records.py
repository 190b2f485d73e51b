"""The input side shared by the tasks that read pre-training TFRecords
(pipelines.build_pretraining_data): ELECTRA and the objectives compared with it,
causal language modelling, general distillation."""
from __future__ import annotations

import os

import tensorflow as tf

from core.cli import UserError
from trainers.input_data import FEATURES, corrupt_files, make_dataset
from trainers.tasks.base import Task


class RecordsTask(Task):
    """train_pattern / eval_pattern: TFRecord globs; max_seq_length: T of the records, each holding
    T + `extra_tokens` tokens of `features`; self.config.train gives seed and shuffle buffer.
    skip_corrupt_records: scan the files first and read only the readable part of corrupt ones;
    shard_examples {file name: examples} (the manifest's) says how many were lost."""

    features = FEATURES
    extra_tokens = 0

    def __init__(self, train_pattern: str, eval_pattern: str, max_seq_length: int,
                 skip_corrupt_records: bool = False, shard_examples: dict | None = None):
        self.train_pattern, self.eval_pattern = train_pattern, eval_pattern
        self.max_seq_length = max_seq_length
        # {file: {"offset", "records_kept", "records_lost"}} of the corrupt files skipped.
        self.skipped = {}
        if skip_corrupt_records:
            for pattern in filter(None, (train_pattern, eval_pattern)):
                for path, (good, offset) in corrupt_files(pattern).items():
                    expected = (shard_examples or {}).get(os.path.basename(path))
                    self.skipped[path] = {"offset": offset, "records_kept": good,
                                          "records_lost": expected - good if expected is not None else None}
        self.record_limits = {path: s["records_kept"] for path, s in self.skipped.items()}

    def dummy_batch(self):
        zeros = tf.zeros((1, self.max_seq_length + self.extra_tokens), tf.int32)
        return {name: zeros for name in self.features}

    def _dataset(self, pattern, batch_size, training, context=None):
        t = self.config.train
        return make_dataset(pattern, batch_size, self.max_seq_length + self.extra_tokens, training=training,
                            seed=t.seed, shuffle_buffer=t.shuffle_buffer, input_context=context,
                            record_limits=self.record_limits, features=self.features)

    def train_dataset(self, batch_size, context):
        return self._dataset(self.train_pattern, batch_size, True, context)

    def eval_dataset(self, batch_size, split):
        if not self.eval_pattern:
            raise ValueError("no held-out data given (--eval_data)")
        return self._dataset(self.eval_pattern, batch_size, False)

    def input_error(self, error, checkpoint):
        corrupt = {}
        for pattern in filter(None, (self.train_pattern, self.eval_pattern)):
            corrupt.update(corrupt_files(pattern))
        if not corrupt:
            return super().input_error(error, checkpoint)
        path, (good, offset) = next(iter(corrupt.items()))
        return UserError(f"{path}: corrupted record at byte {offset} (after {good} readable records); the "
                         f"last good state is saved in {checkpoint}; rerun with --skip_corrupt_records to train "
                         "without the unreadable rest of such files")
