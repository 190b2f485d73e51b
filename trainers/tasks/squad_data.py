"""The data of a SQuAD fine-tuning run: the official JSON files read, then cut into windows.

squad_v1 reads train-v1.1.json and dev-v1.1.json from --data_dir, squad_v2
train-v2.0.json and dev-v2.0.json. `features` gives, per split, the questions'
text and answer offsets; `make_task` cuts them into model windows with the
task's settings (trainers.tasks.squad_graph). An epoch is counted in training
questions (the release counts windows; at 512 tokens a few percent of SQuAD's
questions need more than one). Training questions whose answer is not at its
offset, or covers no word piece, are left out and counted.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from configs import FinetuneConfig, TaskConfig
from core import run_files
from core.run_files import TokenizerSettings
from pipelines.tokenization import Tokenizer
from trainers.tasks.labelled_texts import DataFileError
from trainers.tasks.squad import SquadTask
from trainers.tasks.squad_graph import MODEL_INPUTS, SquadFeaturizer
from trainers.tasks.squad_json import ANSWER_WITHOUT_TOKENS, SquadSplit, read_squad, write_predictions
from trainers.tasks.squad_metrics import thresholded

logger = logging.getLogger(__name__)

TRAIN_FEATURES = MODEL_INPUTS + ("start_positions", "end_positions", "answerable")
EVAL_FEATURES = MODEL_INPUTS + ("start_char", "end_char", "example", "start_positions", "end_positions",
                                "answerable")


def file_name(split: str, version_2: bool) -> str:
    return f"{split}-{'v2.0' if version_2 else 'v1.1'}.json"


def cut_windows(featurizer: SquadFeaturizer, questions: dict, names: tuple[str, ...],
                batch_size: int = 256) -> tuple[dict, np.ndarray]:
    """The windows {name: (W, ...) array} (`names` of featurize's outputs) of questions
    {"question", "context", "answer_start", "answer_end": (N,)}, and answer_found (N,) bool."""
    n = len(questions["question"])
    parts, found = [], []
    for start in range(0, n, batch_size):
        rows = slice(start, start + batch_size)
        out = featurizer.featurize(questions["question"][rows].tolist(), questions["context"][rows].tolist(),
                                   questions["answer_start"][rows], questions["answer_end"][rows])
        part = {name: out[name].numpy() for name in names + ("example",)}
        part["example"] += start
        parts.append(part)
        found.append(out["answer_found"].numpy())
    windows = {name: np.concatenate([p[name] for p in parts]) for name in names + ("example",)}
    return windows, np.concatenate(found) if found else np.zeros(0, bool)


class SquadData:
    """Reads the files of task squad_v1 or squad_v2 from `data_dir` (see module doc)."""

    def __init__(self, task: str, data_dir: str, need_train: bool = True):
        self.task, self.version_2 = task, task == "squad_v2"
        if not data_dir:
            raise DataFileError(f"task {task} reads {file_name('train', self.version_2)} and "
                                f"{file_name('dev', self.version_2)}: give --data_dir")
        self.labels, self.eval_splits = None, ["dev"]
        self.text_columns, self.label_column = ("question", "context"), "answers"
        self.splits: dict[str, SquadSplit] = {}
        for split in (["train"] if need_train else []) + self.eval_splits:
            self.splits[split] = read_squad(os.path.join(data_dir, file_name(split, self.version_2)),
                                            self.version_2, training=split == "train")
            logger.info(self.splits[split].report())
        if need_train and not len(self.splits["train"]):
            raise DataFileError(f"{self.splits['train'].path}: no usable training question")
        self._tasks: dict[TaskConfig, dict] = {}

    def num_train_examples(self) -> int:
        return len(self.splits["train"])

    def left_out(self) -> list[str]:
        """One line per split that left questions out, for the end of the run."""
        return [split.report() for split in self.splits.values() if split.skipped]

    def check_tokenizer(self, tokenizer: TokenizerSettings) -> None:
        """SQuAD needs [CLS], [SEP] and [PAD]."""
        missing = [k for k in ("cls", "sep", "pad") if k not in tokenizer.special_token_ids]
        if missing:
            raise DataFileError(f"the run's tokenizer ({tokenizer.kind}; special tokens "
                                f"{tokenizer.special_token_ids}) cannot serve SQuAD: it needs [CLS], [SEP] and [PAD]")

    def features(self, make_tokenizer, max_seq_length: int) -> dict:
        """{split: {"question", "context": (N,) str, "answer_start", "answer_end": (N,) int32}}: what
        make_task cuts into windows (with the task's max_seq_length) with `make_tokenizer()`."""
        self.make_tokenizer = make_tokenizer
        return {split: questions(data) for split, data in self.splits.items()}

    def windows(self, task: TaskConfig, features: dict) -> dict:
        """{split: windows} of `features` for `task`'s settings (computed once per setting)."""
        if task not in self._tasks:
            featurizer = SquadFeaturizer.from_tokenizer(self.make_tokenizer(), task)
            out = {}
            for split, values in features.items():
                training = split == "train"
                windows, found = cut_windows(featurizer, values, TRAIN_FEATURES if training else EVAL_FEATURES)
                if training:
                    lost = np.flatnonzero((values["answer_start"] >= 0) & ~found)
                    windows = {k: v[~np.isin(windows["example"], lost)] for k, v in windows.items() if k != "example"}
                    if lost.size and not self._tasks:  # the same questions for every setting
                        self.splits[split].leave_out(lost, ANSWER_WITHOUT_TOKENS)
                        logger.info(self.splits[split].report())
                else:
                    windows["window"] = np.arange(len(windows["example"]), dtype=np.int32)
                logger.info(f"{split}: {len(self.splits[split])} questions, {len(windows['input_ids'])} windows of "
                            f"{task.max_seq_length} tokens")
                out[split] = windows
            self._tasks[task] = out
        return self._tasks[task]

    def make_task(self, config: FinetuneConfig, features: dict) -> SquadTask:
        return SquadTask(config, dict(self.windows(config.task, features)), dict(self.splits))

    def majority_baseline(self) -> dict:
        return {}

    def predict(self, trainer, path: str, output_dir: str) -> str:
        """Answers every question of SQuAD file `path` with the trained model; writes
        predictions.json (v2.0: "" where the no-answer score exceeds the threshold chosen on dev),
        nbest_predictions.json and (v2.0) null_odds.json to output_dir/predictions; returns
        predictions.json's path."""
        task = trainer.task
        split = read_squad(path, self.version_2, training=False)
        logger.info(split.report())
        # A fresh tokenizer: TensorFlow's seeding (in the Trainer) drops SentencePiece's resource.
        settings = run_files.read_tokenizer(output_dir)
        tokenizer = Tokenizer(os.path.join(output_dir, settings.file), settings.lowercase)
        windows, _ = cut_windows(SquadFeaturizer.from_tokenizer(tokenizer, task.config.task), questions(split),
                                 EVAL_FEATURES)
        windows["window"] = np.arange(len(windows["example"]), dtype=np.int32)
        task.features["predict"], task.splits["predict"] = windows, split
        predictions, nbest, no_answer = task.answers(trainer.predict("predict"), "predict")
        if no_answer is not None:
            predictions = thresholded(predictions, no_answer, task.null_threshold)
        return write_predictions(os.path.join(output_dir, "predictions"), predictions, nbest, no_answer)


def questions(split: SquadSplit) -> dict:
    """The featurizer's inputs for a split's questions."""
    return {"question": np.array(split.questions, object), "context": np.array(split.contexts, object),
            "answer_start": split.answer_start, "answer_end": split.answer_end}
