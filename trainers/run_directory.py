"""The run directory: what pretrain, finetune and convert write, and finetune, export and convert read.

    config.json   the resolved config: a PretrainConfig, or for fine-tuning
                  runs a FinetuneConfig (it has a "task" section)
    data.json     tokenizer settings: special_token_ids, lowercase,
                  max_seq_length, vocab_size, tokenizer {type, file}
    vocab.txt     the vocabulary (and spm.model for SentencePiece)
    labels.json   fine-tuning classification runs: the label names, in id order
    ckpt-*        checkpoints (trainers/loop.py), eval_results.json, results.json
"""
from __future__ import annotations

import dataclasses
import os

import tensorflow as tf

from configs import FinetuneConfig, PretrainConfig, from_dict
from core.cli import UserError
from trainers.json_files import read_json, write_json

CONFIG, DATA, VOCAB, LABELS = "config.json", "data.json", "vocab.txt", "labels.json"


class RunDirectoryError(UserError):
    """A run directory that is missing, incomplete or of another kind of run."""


def _read_json(path: str):
    return read_json(path, RunDirectoryError,
                     ": not a run directory of trainers.pretrain, trainers.finetune or trainers.convert")


def _write_json(path: str, value) -> None:
    write_json(path, value, sort_keys=True)


def read_config(model_dir: str) -> PretrainConfig | FinetuneConfig:
    """The run's resolved config, a FinetuneConfig for fine-tuning runs."""
    data = _read_json(os.path.join(model_dir, CONFIG))
    cls = FinetuneConfig if "task" in data else PretrainConfig
    try:
        return from_dict(cls, data)
    except (TypeError, ValueError) as err:
        raise RunDirectoryError(f"{os.path.join(model_dir, CONFIG)}: {err}") from None


def read_data(model_dir: str) -> dict:
    """data.json: the tokenizer settings of the run."""
    return _read_json(os.path.join(model_dir, DATA))


def read_labels(model_dir: str) -> list[str]:
    return _read_json(os.path.join(model_dir, LABELS))


def write_config(model_dir: str, config, same_model=lambda saved, new: saved == new) -> None:
    """Writes config.json; refuses a directory that holds a run whose model differs
    (`same_model(saved, new)`) or a run of another kind."""
    tf.io.gfile.makedirs(model_dir)
    path = os.path.join(model_dir, CONFIG)
    if tf.io.gfile.exists(path):
        saved = read_config(model_dir)
        if type(saved) is not type(config):
            raise RunDirectoryError(f"{model_dir} holds a {_kind(saved)} run, not a {_kind(config)} run; "
                                    "use a new --model_dir")
        if not same_model(saved, config):
            raise RunDirectoryError(f"{model_dir} holds a run with a different model config; use a new --model_dir")
    _write_json(path, dataclasses.asdict(config))


def _kind(config) -> str:
    return "fine-tuning" if isinstance(config, FinetuneConfig) else "pre-training"


def write_tokenizer_files(model_dir: str, source_dir: str, data: dict) -> None:
    """Copies vocab.txt (and a SentencePiece model) from `source_dir` and writes data.json.

    data: special_token_ids, lowercase, max_seq_length, vocab_size and
    tokenizer {type, file}; `vocab_file` (default vocab.txt) names the
    vocabulary in `source_dir`.
    """
    tf.io.gfile.makedirs(model_dir)
    tokenizer = dict(data.get("tokenizer") or {"type": "wordpiece", "file": VOCAB})
    tf.io.gfile.copy(os.path.join(source_dir, data.get("vocab_file", VOCAB)), os.path.join(model_dir, VOCAB),
                     overwrite=True)
    if tokenizer.get("type") == "sentencepiece":
        tf.io.gfile.copy(os.path.join(source_dir, tokenizer["file"]), os.path.join(model_dir, tokenizer["file"]),
                         overwrite=True)
    else:
        tokenizer["file"] = VOCAB
    out = {k: data[k] for k in ("special_token_ids", "lowercase", "max_seq_length", "vocab_size")}
    write_data(model_dir, dict(out, tokenizer=tokenizer))


def write_data(model_dir: str, data: dict) -> None:
    """Writes data.json: special_token_ids, lowercase, max_seq_length, vocab_size, tokenizer {type, file}."""
    _write_json(os.path.join(model_dir, DATA), data)


def write_labels(model_dir: str, labels: list[str]) -> None:
    _write_json(os.path.join(model_dir, LABELS), list(labels))


def write_results(path: str, results: dict) -> None:
    _write_json(path, results)


def require_checkpoint(model_dir: str) -> str:
    """The latest checkpoint prefix of `model_dir`, or a clear error."""
    latest = tf.train.latest_checkpoint(model_dir)
    if latest is None:
        raise RunDirectoryError(f"no checkpoint in {model_dir}; train it first")
    return latest


def weights_only_checkpoint(model_dir: str) -> str | None:
    """The latest checkpoint of `model_dir` if it holds model weights only (trainers.convert writes
    such a `ckpt-0`; training checkpoints also hold the optimizer), else None."""
    latest = tf.train.latest_checkpoint(model_dir)
    if latest is None or any(name.startswith("optimizer/") for name, _ in tf.train.list_variables(latest)):
        return None
    return latest
