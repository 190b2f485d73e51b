"""The data of a classification or regression fine-tuning run: splits read, labels fixed, features encoded.

GLUE tasks read GLUE's TSV files from --data_dir (train.tsv, dev.tsv; MNLI
dev_matched.tsv and dev_mismatched.tsv); the user's tasks read --train_file
and --eval_file (CSV, TSV or JSON lines) with --text_columns and
--label_column. Classification labels are GLUE's for GLUE tasks; for the
user's data the labels of the training file, sorted (numerically when all are
integers), written to the run directory as labels.json.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from configs import GLUE_TASKS, FinetuneConfig
from trainers.tasks import glue_data
from trainers.tasks.classification import ClassificationTask
from trainers.tasks.labelled_files import read_labelled_texts
from trainers.tasks.labelled_texts import DataFileError, LabelledTexts, label_ids, regression_targets
from trainers.text_features import encode_texts

logger = logging.getLogger(__name__)


def sorted_labels(labels) -> list[str]:
    """Distinct labels, sorted numerically if all are integers, else as text."""
    distinct = set(labels)
    if all(label.lstrip("-").isdigit() for label in distinct):
        return sorted(distinct, key=int)
    return sorted(distinct)


class ClassificationData:
    """Reads the splits of `task` (see module doc); `labels` None for regression."""

    def __init__(self, task: str, regression: bool, data_dir: str = "", train_file: str = "",
                 eval_file: str = "", text_columns: tuple[str, ...] = (), label_column: str = "",
                 labels: list[str] | None = None, need_train: bool = True, skip_bad_rows: bool = False):
        self.task, self.regression = task, regression
        self.text_columns, self.label_column = text_columns, label_column
        self.glue = task in GLUE_TASKS
        if self.glue:
            if not data_dir:
                raise DataFileError(f"task {task} reads GLUE's TSV files: give --data_dir")
            spec = glue_data.TASKS[task]
            self.text_columns, self.label_column = spec.texts, spec.label
            read = lambda split: glue_data.read_split(task, data_dir, split)  # noqa: E731
            self.eval_splits = list(spec.eval_splits)
            self.labels = None if regression else list(spec.labels)
        else:
            if not text_columns or not label_column or (need_train and not train_file) or not eval_file:
                raise DataFileError(f"task {task} needs --train_file, --eval_file, --text_columns and --label_column")
            if len(text_columns) > 2:
                raise DataFileError(f"--text_columns takes one or two columns, got {len(text_columns)}")
            files = {"train": train_file, "eval": eval_file}
            read = lambda split: read_labelled_texts(files[split], list(text_columns), label_column,  # noqa: E731
                                                     skip_bad_rows=skip_bad_rows)
            self.eval_splits = ["eval"]
            self.labels = labels
        self.splits: dict[str, LabelledTexts] = {}
        for split in (["train"] if need_train else []) + self.eval_splits:
            self.splits[split] = read(split)
            logger.info(self.splits[split].report())
        if self.labels is None and not regression:
            self.labels = sorted_labels(self.splits["train"].labels)
            if len(self.labels) < 2:
                raise DataFileError(f"{self.splits['train'].path}: only one label ({self.labels[0]!r}) "
                                    "in the training data")
        if not regression and "train" in self.splits:
            counts = np.bincount(self.targets(self.splits["train"]), minlength=len(self.labels))
            logger.info(f"{len(self.labels)} labels (training examples): "
                        + ", ".join(f"{name!r} ({n})" for name, n in zip(self.labels, counts)))

    def num_train_examples(self) -> int:
        return len(self.splits["train"])

    def left_out(self) -> list[str]:
        """One line per split that left rows out (empty texts, bad rows), for the end of the run."""
        return [data.report() for data in self.splits.values() if data.empty or data.malformed]

    def check_tokenizer(self, tokenizer) -> None:
        """Every tokenizer serves classification and regression."""

    @property
    def num_outputs(self) -> int:
        return 1 if self.regression else len(self.labels)

    def targets(self, data: LabelledTexts) -> np.ndarray:
        if self.regression:
            return np.asarray(regression_targets(data), np.float32)
        return np.asarray(label_ids(data, self.labels), np.int32)

    def encode(self, tokenizer, data: LabelledTexts, max_seq_length: int, labelled: bool = True) -> dict:
        """Model features of one split, with label and example (row position) columns."""
        features, truncated = encode_texts(tokenizer, data.texts_a, data.texts_b, max_seq_length)
        if truncated:
            logger.info(f"{data.path}: {truncated} of {len(data)} examples truncated to {max_seq_length} tokens")
        features["label"] = self.targets(data) if labelled else np.zeros(
            len(data), np.float32 if self.regression else np.int32)
        features["example"] = np.arange(len(data), dtype=np.int32)
        return features

    def features(self, make_tokenizer, max_seq_length: int) -> dict:
        """{split: features} of every split read; `make_tokenizer()` gives the run's Tokenizer (a new
        one for each use: seeding TensorFlow invalidates a SentencePiece tokenizer built before)."""
        self.make_tokenizer = make_tokenizer
        tokenizer = make_tokenizer()
        return {split: self.encode(tokenizer, data, max_seq_length) for split, data in self.splits.items()}

    def make_task(self, config: FinetuneConfig, features: dict) -> ClassificationTask:
        return ClassificationTask(config, features, self.num_outputs)

    def majority_baseline(self) -> dict:
        """Accuracy of always predicting the training set's most frequent label, per eval split."""
        if self.regression or "train" not in self.splits:
            return {}
        counts = np.bincount(self.targets(self.splits["train"]), minlength=len(self.labels))
        majority = int(np.argmax(counts))
        return {split: float(np.mean(self.targets(self.splits[split]) == majority)) for split in self.eval_splits}

    def read_unlabelled(self, path: str) -> LabelledTexts:
        """The examples of a file to predict (GLUE: a test TSV; the user's: the same columns, labels optional)."""
        if self.glue:
            return glue_data.read_split(self.task, "", "", labelled=False, path=path)
        return read_labelled_texts(path, list(self.text_columns), None, keep_empty=True)

    def predict(self, trainer, path: str, output_dir: str) -> str:
        """Predicts every example of file `path` with the trained model; returns the file written
        (to output_dir/predictions)."""
        data = self.read_unlabelled(path)
        trainer.task.features["predict"] = self.encode(self.make_tokenizer(), data,
                                                      trainer.task.config.task.max_seq_length, labelled=False)
        rows = trainer.predict("predict")
        logits = rows["logits"][np.argsort(rows["example"], kind="stable")]
        return self.write_predictions(data, logits, os.path.join(output_dir, "predictions"))

    def write_predictions(self, data: LabelledTexts, logits: np.ndarray, output_dir: str) -> str:
        """Writes predictions: GLUE's submission file, or for the user's data a TSV of
        id, prediction (label name or score) and the label probabilities."""
        import tensorflow as tf
        tf.io.gfile.makedirs(output_dir)
        if self.regression:
            values = logits[:, 0].tolist()
        else:
            values = [self.labels[i] for i in np.argmax(logits, axis=-1)]
        if self.glue:
            path = os.path.join(output_dir, glue_data.submission_name(self.task, data.path))
            glue_data.write_submission(self.task, data, values, path)
            return path
        path = os.path.join(output_dir, os.path.splitext(os.path.basename(data.path))[0] + ".predictions.tsv")
        with tf.io.gfile.GFile(path, "w") as f:
            if self.regression:
                f.write("id\tprediction\n")
                f.writelines(f"{i}\t{v:.6f}\n" for i, v in zip(data.ids, values))
            else:
                probabilities = np.exp(logits - logits.max(-1, keepdims=True))
                probabilities /= probabilities.sum(-1, keepdims=True)
                f.write("id\tprediction\t" + "\t".join(f"p_{name}" for name in self.labels) + "\n")
                for i, value, p in zip(data.ids, values, probabilities):
                    f.write(f"{i}\t{value}\t" + "\t".join(f"{x:.6f}" for x in p) + "\n")
        return path
