"""GLUE's own TSV files (as the GLUE benchmark distributes them) and its submission format.

tf-models-official 2.20's GLUE processors load the data through TFDS (a
download), not from these files, so the columns are read here by header name
(CoLA's train/dev files have no header: source, label, mark, sentence).
Test files carry no labels; their `index` (QQP: `id`) column keys the
predictions written for the GLUE server.
"""
from __future__ import annotations

import dataclasses
import os

from trainers.tasks.labelled_files import column_indices, read_rows, texts_from_rows
from trainers.tasks.labelled_texts import DataFileError, LabelledTexts


@dataclasses.dataclass(frozen=True)
class GlueTask:
    texts: tuple[str, ...]  # text column names (one or two)
    label: str  # label column name
    labels: tuple[str, ...]  # label names in id order; () for regression
    eval_splits: tuple[str, ...] = ("dev",)
    submission: str = ""  # the GLUE server's file name stem
    metric: str = "accuracy"  # the task's headline metric


TASKS = {
    "cola": GlueTask(("sentence",), "label", ("0", "1"), submission="CoLA", metric="mcc"),
    "sst2": GlueTask(("sentence",), "label", ("0", "1"), submission="SST-2"),
    "mrpc": GlueTask(("#1 String", "#2 String"), "Quality", ("0", "1"), submission="MRPC", metric="f1"),
    "stsb": GlueTask(("sentence1", "sentence2"), "score", (), submission="STS-B", metric="spearman"),
    "qqp": GlueTask(("question1", "question2"), "is_duplicate", ("0", "1"), submission="QQP", metric="f1"),
    "mnli": GlueTask(("sentence1", "sentence2"), "gold_label", ("contradiction", "entailment", "neutral"),
                     eval_splits=("dev_matched", "dev_mismatched"), submission="MNLI"),
    "qnli": GlueTask(("question", "sentence"), "label", ("entailment", "not_entailment"), submission="QNLI"),
    "rte": GlueTask(("sentence1", "sentence2"), "label", ("entailment", "not_entailment"), submission="RTE"),
    "wnli": GlueTask(("sentence1", "sentence2"), "label", ("0", "1"), submission="WNLI"),
}
COLA_COLUMNS = {"label": 1, "sentence": 3}  # CoLA train/dev: source, label, mark, sentence (no header)


def split_path(data_dir: str, split: str) -> str:
    """GLUE's file of `split` (train, dev, dev_matched, test, test_mismatched, ...) in data_dir."""
    return os.path.join(data_dir, f"{split}.tsv")


def read_split(task: str, data_dir: str, split: str, labelled: bool = True, path: str = "") -> LabelledTexts:
    """Examples of GLUE `task`'s `split` (or the TSV at `path`); unlabelled files (test sets)
    keep rows with empty texts, since the server wants a prediction for every row."""
    spec = TASKS[task]
    path = path or split_path(data_dir, split)
    if task == "cola" and labelled:
        _, rows = read_rows(path, "tsv", header=False)
        return texts_from_rows(path, rows, [COLA_COLUMNS["sentence"]], COLA_COLUMNS["label"], None,
                               skip_bad_rows=True, width=4)
    header, rows = read_rows(path, "tsv")
    texts = column_indices(path, header, list(spec.texts))
    label = column_indices(path, header, [spec.label])[0] if labelled else None
    ids = [name for name in ("index", "id") if name in header]
    id_index = header.index(ids[0]) if ids else None
    return texts_from_rows(path, rows, texts, label, id_index, keep_empty=not labelled, skip_bad_rows=True,
                           width=len(header))


def submission_name(task: str, path: str) -> str:
    """The GLUE server's file name for predictions on test file `path` (MNLI: -m / -mm)."""
    stem = TASKS[task].submission
    if task == "mnli":
        stem += "-mm" if "mismatched" in os.path.basename(path) else "-m"
    return f"{stem}.tsv"


def write_submission(task: str, data: LabelledTexts, predictions: list, path: str) -> None:
    """Writes `index<TAB>prediction` rows as the GLUE server reads them (labels by name, STS-B
    scores clipped to [0, 5])."""
    import tensorflow as tf
    if len(predictions) != len(data):
        raise DataFileError(f"{len(predictions)} predictions for {len(data)} examples of {data.path}")
    with tf.io.gfile.GFile(path, "w") as f:
        f.write("index\tprediction\n")
        for example_id, value in zip(data.ids, predictions):
            text = f"{min(5.0, max(0.0, float(value))):.3f}" if task == "stsb" else str(value)
            f.write(f"{example_id}\t{text}\n")
