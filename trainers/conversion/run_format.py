"""This project's pre-training run directory (trainers/run_directory.py) as a conversion format.

Written: config.json (the sizes read from the checkpoint, training settings from the preset of
those sizes), vocab.txt, data.json and `ckpt-0`, a checkpoint of the model weights only, which
trainers.pretrain --model_dir starts a fresh schedule from (--init_checkpoint, trainers.finetune
and trainers.export read it as any run's).
"""
from __future__ import annotations

import os

import tensorflow as tf

from configs import PretrainConfig
from trainers import run_directory
from trainers.checkpointing import model_state
from trainers.conversion.converted_model import ConvertedModel, TokenizerSettings
from trainers.conversion.errors import ConversionError
from trainers.conversion.files import read_vocab, write_vocab
from trainers.conversion.model_weights import check_convertible
from trainers.export import load_pretrainer


def is_run_directory(path: str) -> bool:
    return all(tf.io.gfile.exists(os.path.join(path, name)) for name in (run_directory.CONFIG, run_directory.DATA))


def read(run_dir: str) -> ConvertedModel:
    """The pre-trained model of run `run_dir` (its latest checkpoint) with its tokenizer."""
    config = run_directory.read_config(run_dir)
    config_path = os.path.join(run_dir, run_directory.CONFIG)
    if not isinstance(config, PretrainConfig):
        raise ConversionError(f"{config_path}: a fine-tuning run; convert the pre-trained run it started from")
    check_convertible(config.model, config_path)
    data = run_directory.read_data(run_dir)
    tokenizer = data.get("tokenizer") or {"type": "wordpiece"}
    if tokenizer.get("type") != "wordpiece":
        raise ConversionError(f"{os.path.join(run_dir, run_directory.DATA)}: the {tokenizer.get('type')} tokenizer "
                              f"({tokenizer.get('file')}) cannot be represented: ELECTRA's formats hold BERT's "
                              "WordPiece vocab.txt")
    model, _ = load_pretrainer(run_dir)
    vocab = read_vocab(os.path.join(run_dir, run_directory.VOCAB))
    return ConvertedModel(config, model, TokenizerSettings(vocab, bool(data["lowercase"]), int(data["max_seq_length"])))


def write(converted: ConvertedModel, run_dir: str) -> list[str]:
    """Writes the run directory (see the module doc) into `run_dir`, which must hold no checkpoint."""
    if tf.train.latest_checkpoint(run_dir):
        raise ConversionError(f"{run_dir} already holds checkpoints; convert into a new directory")
    tokenizer = converted.tokenizer
    run_directory.write_config(run_dir, converted.config)
    write_vocab(os.path.join(run_dir, run_directory.VOCAB), tokenizer.vocab)
    run_directory.write_data(run_dir, {
        "special_token_ids": tokenizer.special_ids(run_dir), "lowercase": tokenizer.lowercase,
        "max_seq_length": tokenizer.max_seq_length, "vocab_size": len(tokenizer.vocab),
        "tokenizer": {"type": "wordpiece", "file": run_directory.VOCAB}})
    checkpoint = tf.train.Checkpoint(model=model_state(converted.model))
    tf.train.CheckpointManager(checkpoint, run_dir, max_to_keep=1).save(checkpoint_number=0)
    return []
