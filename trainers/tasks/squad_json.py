"""The official SQuAD JSON files (v1.1, v2.0): reading and checking them, and writing predictions.

A file is {"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question",
"answers": [{"text", "answer_start"}], "is_impossible" (v2.0)}]}]}]}; answer_start is
a character (Python str) offset into the context.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import logging
import os

import numpy as np
import tensorflow as tf

from trainers.tasks.labelled_texts import DataFileError

logger = logging.getLogger(__name__)

# Why a training question was left out.
ANSWER_NOT_AT_OFFSET = "answer text not at its answer_start"
NO_ANSWER = "answerable question without an answer"
ANSWER_WITHOUT_TOKENS = "answer covers no word piece"


@dataclasses.dataclass
class SquadSplit:
    """The questions of one file (N of them), in file order, with their contexts.

    answer_start, answer_end (N,) int32: the answer used for training labels, [start, end) in
    characters of the context; -1 for none (unanswerable, or no usable answer outside training).
    dataset: the file's "data" list, for the official evaluation. skipped: training questions
    left out, by reason; first_skipped: the id of the first of each.
    """

    path: str
    dataset: list
    ids: list[str]
    questions: list[str]
    contexts: list[str]
    answer_start: np.ndarray
    answer_end: np.ndarray
    skipped: dict = dataclasses.field(default_factory=collections.Counter)
    first_skipped: dict = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def skip(self, reason: str, qid: str) -> None:
        self.skipped[reason] += 1
        self.first_skipped.setdefault(reason, qid)

    def leave_out(self, rows: np.ndarray, reason: str) -> None:
        """Leaves out the questions at `rows` (indices), counted under `reason`."""
        for row in rows:
            self.skip(reason, self.ids[row])
        keep = np.setdiff1d(np.arange(len(self)), rows)
        for name in ("ids", "questions", "contexts"):
            values = getattr(self, name)
            setattr(self, name, [values[i] for i in keep])
        self.answer_start, self.answer_end = self.answer_start[keep], self.answer_end[keep]

    def report(self) -> str:
        """One line: questions kept and those left out, by reason."""
        text = f"{self.path}: {len(self)} questions"
        if self.skipped:
            text += ", left out: " + "; ".join(f"{count} {reason} (first: id {self.first_skipped[reason]!r})"
                                               for reason, count in sorted(self.skipped.items()))
        return text


def _field(value: dict, key: str, kind, path: str, where: str):
    if not isinstance(value, dict) or key not in value:
        raise DataFileError(f"{path}: {where}: missing {key!r}")
    if not isinstance(value[key], kind) or isinstance(value[key], bool) and kind is not bool:
        raise DataFileError(f"{path}: {where}.{key}: expected {getattr(kind, '__name__', kind)}, "
                            f"got {type(value[key]).__name__}")
    return value[key]


def load_json(path: str) -> list:
    """The "data" list of a SQuAD file; a missing file or malformed JSON is a DataFileError naming it."""
    if not tf.io.gfile.exists(path):
        raise DataFileError(f"{path} not found")
    with tf.io.gfile.GFile(path, "rb") as f:
        raw = f.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise DataFileError(f"{path}: not UTF-8 (byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise DataFileError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None
    return _field(data, "data", list, path, "top level")


def read_squad(path: str, version_2: bool, training: bool) -> SquadSplit:
    """The questions of SQuAD file `path`.

    training: every question needs a usable answer (its first; v2.0: unless is_impossible),
    else it is left out and counted; otherwise every question is kept, answers are optional
    (a test file) and used only where they fit.
    """
    dataset = load_json(path)
    split = SquadSplit(path, dataset, [], [], [], np.zeros(0, np.int32), np.zeros(0, np.int32))
    starts, ends, seen = [], [], {}
    for a, article in enumerate(dataset):
        for p, paragraph in enumerate(_field(article, "paragraphs", list, path, f"data[{a}]")):
            where = f"data[{a}].paragraphs[{p}]"
            context = _field(paragraph, "context", str, path, where)
            for q, qa in enumerate(_field(paragraph, "qas", list, path, where)):
                at = f"{where}.qas[{q}]"
                qid = _field(qa, "id", str, path, at)
                if qid in seen:
                    raise DataFileError(f"{path}: {at}: id {qid!r} repeats {seen[qid]}")
                seen[qid] = at
                question = _field(qa, "question", str, path, at)
                answers = _field(qa, "answers", list, path, at) if training or "answers" in qa else []
                impossible = version_2 and "is_impossible" in qa and _field(qa, "is_impossible", bool, path, at)
                start = end = -1
                if answers and not impossible:
                    text = _field(answers[0], "text", str, path, f"{at}.answers[0]")
                    offset = _field(answers[0], "answer_start", int, path, f"{at}.answers[0]")
                    if text and offset >= 0 and context[offset:offset + len(text)] == text:
                        start, end = offset, offset + len(text)
                    elif training:
                        split.skip(ANSWER_NOT_AT_OFFSET, qid)
                        continue
                elif training and not impossible:
                    split.skip(NO_ANSWER, qid)
                    continue
                split.ids.append(qid)
                split.questions.append(question)
                split.contexts.append(context)
                starts.append(start)
                ends.append(end)
    split.answer_start, split.answer_end = np.asarray(starts, np.int32), np.asarray(ends, np.int32)
    if not split.ids and not split.skipped:
        raise DataFileError(f"{path}: no questions")
    return split


def write_predictions(output_dir: str, predictions: dict, nbest: dict, no_answer: dict | None) -> str:
    """Writes predictions.json ({id: answer text}), nbest_predictions.json and, for v2.0,
    null_odds.json ({id: no-answer score}) to output_dir; returns predictions.json's path."""
    tf.io.gfile.makedirs(output_dir)
    files = {"predictions.json": predictions, "nbest_predictions.json": nbest}
    if no_answer is not None:
        files["null_odds.json"] = no_answer
    for name, value in files.items():
        with tf.io.gfile.GFile(os.path.join(output_dir, name), "w") as f:
            json.dump(value, f, indent=2, ensure_ascii=False)
    return os.path.join(output_dir, "predictions.json")
