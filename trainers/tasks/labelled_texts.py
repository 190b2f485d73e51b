"""One split of a text classification or regression data set, as read from its file."""
from __future__ import annotations

import dataclasses
import logging

from core.cli import UserError

logger = logging.getLogger(__name__)


class DataFileError(UserError):
    """A data file that is missing or malformed; the message names the file (and line)."""


@dataclasses.dataclass
class LabelledTexts:
    """Parallel lists, one entry per example (N in all).

    texts_b is None for single-text tasks; labels hold label names (str) for
    classification, floats for regression, None where the file has no labels
    (GLUE test sets); ids are the examples' ids in their file (GLUE's index
    column, else the row number); lines their 1-based line numbers.
    empty: rows with an empty text (left out, unless kept for prediction); malformed: rows left out
    (skip_bad_rows) for a wrong number of fields or no label (the first one's line in first_malformed).
    """

    path: str
    texts_a: list[str]
    texts_b: list[str] | None
    labels: list
    ids: list[str]
    lines: list[int]
    empty: int = 0
    malformed: int = 0
    first_malformed: int = 0

    def __len__(self) -> int:
        return len(self.texts_a)

    @property
    def has_labels(self) -> bool:
        return bool(self.labels) and self.labels[0] is not None

    def report(self) -> str:
        """One line: how many examples, and what was left out."""
        text = f"{self.path}: {len(self)} examples"
        if self.empty:
            text += f", {self.empty} rows with an empty text"
        if self.malformed:
            text += f", {self.malformed} bad rows left out (first at line {self.first_malformed})"
        return text


def label_ids(data: LabelledTexts, label_names: list[str]) -> list[int]:
    """Label ids of `data`'s examples; a label outside `label_names` is an error naming its line."""
    index = {name: i for i, name in enumerate(label_names)}
    ids = []
    for label, line in zip(data.labels, data.lines):
        if label not in index:
            raise DataFileError(f"{data.path}, line {line}: label {label!r} was not seen in the training data "
                                f"(labels: {', '.join(label_names)})")
        ids.append(index[label])
    return ids


def regression_targets(data: LabelledTexts) -> list[float]:
    """Float targets of a regression split; a label that is not a number is an error naming its line."""
    targets = []
    for label, line in zip(data.labels, data.lines):
        try:
            targets.append(float(label))
        except (TypeError, ValueError):
            raise DataFileError(f"{data.path}, line {line}: label {label!r} is not a number") from None
    return targets


def check_rows(data: LabelledTexts, total_rows: int) -> LabelledTexts:
    """Logs what was left out; a file whose rows are mostly malformed is an error (a wrong file)."""
    if total_rows and data.malformed > total_rows // 2:
        raise DataFileError(f"{data.path}, line {data.first_malformed}: {data.malformed} of {total_rows} rows "
                            "are bad (wrong number of fields or no label); is it the right file and format?")
    if not len(data):
        raise DataFileError(f"{data.path}: no examples")
    if data.empty or data.malformed:
        logger.warning(data.report())
    return data
