"""File helpers the formats share: JSON and vocab.txt, through tf.io.gfile (local or gs:// paths)."""
from __future__ import annotations

import tensorflow as tf

from core import run_files
from core.vocabulary import parse_vocab, vocab_text
from trainers.conversion.errors import ConversionError


def read_json(path: str, required: bool = False) -> dict:
    """The JSON object in `path`; {} for a missing file unless `required`."""
    if not required and not tf.io.gfile.exists(path):
        return {}
    value = run_files.read_json(path, error=ConversionError)
    if not isinstance(value, dict):
        raise ConversionError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


write_json = run_files.write_json


def read_vocab(path: str) -> tuple[str, ...]:
    """The tokens of a vocab.txt (line = id)."""
    if not tf.io.gfile.exists(path):
        raise ConversionError(f"{path} not found: give the vocabulary with --vocab")
    if tf.io.gfile.isdir(path):
        raise ConversionError(f"{path} is a directory: give the vocabulary file (vocab.txt) with --vocab")
    with tf.io.gfile.GFile(path, "rb") as f:
        try:
            return tuple(parse_vocab(f.read().decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as err:
            raise ConversionError(f"{path}: {err}") from None


def write_vocab(path: str, tokens) -> None:
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(vocab_text(tokens))
