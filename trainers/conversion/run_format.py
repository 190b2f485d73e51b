"""This project's pre-training run directory (core/run_files.py) as a conversion format.

Written: config.json (the sizes read from the checkpoint, training settings from the preset of
those sizes), vocab.txt, data.json and `ckpt-0`, a checkpoint of the model weights only, which
trainers.pretrain --model_dir starts a fresh schedule from (--init_checkpoint, trainers.finetune
and trainers.export read it as any run's). An imported sequence classifier (a
BertForSequenceClassification) is written as a fine-tuned classification run instead (config.json
a FinetuneConfig with the pooler head, labels.json from its id2label; regression without labels),
which trainers.export and trainers.finetune --eval_only read as any fine-tuned run's.
"""
from __future__ import annotations

import os

import tensorflow as tf

from configs import FinetuneConfig, PretrainConfig, finetune_config
from core import run_files, vocabulary
from models.finetuning_model import FinetuningModel, copy_encoder_weights
from trainers.checkpointing import model_state
from trainers.conversion.converted_model import ConvertedModel, ConvertedTokenizer
from trainers.conversion.errors import ConversionError
from trainers.conversion.files import read_json
from trainers.conversion.model_weights import check_convertible
from trainers.model_loading import load_pretrainer


def is_run_directory(path: str) -> bool:
    return all(tf.io.gfile.exists(os.path.join(path, name)) for name in (run_files.CONFIG, run_files.TOKENIZER))


def read(run_dir: str) -> ConvertedModel:
    """The pre-trained model of run `run_dir` (its latest checkpoint) with its tokenizer."""
    if not is_run_directory(run_dir):
        raise ConversionError(f"{run_dir}: not a run directory of trainers.pretrain or trainers.convert (no "
                              f"{run_files.CONFIG} with {run_files.TOKENIZER})")
    config = run_files.read_config(run_dir)
    config_path = os.path.join(run_dir, run_files.CONFIG)
    if not isinstance(config, PretrainConfig):
        raise ConversionError(f"{config_path}: a fine-tuning run; convert the pre-trained run it started from")
    check_convertible(config.model, config_path)
    tokenizer_path = os.path.join(run_dir, run_files.TOKENIZER)
    recorded = run_files.TokenizerSettings.from_dict(read_json(tokenizer_path, required=True), tokenizer_path)
    if recorded.kind != vocabulary.WORDPIECE:  # before its files are read: the kind alone rules it out
        raise ConversionError(f"{tokenizer_path}: the {recorded.kind} tokenizer ({recorded.file}) cannot be "
                              "represented: ELECTRA's formats hold BERT's WordPiece vocab.txt")
    settings = run_files.read_tokenizer(run_dir)
    model, _ = load_pretrainer(run_dir)
    vocab = run_files.read_vocabulary(run_dir, settings).pieces
    return ConvertedModel(config, model, ConvertedTokenizer(tuple(vocab), settings.lowercase, settings.max_seq_length))


def finetuned_model(converted: ConvertedModel) -> tuple[FinetuneConfig, FinetuningModel]:
    """The fine-tuned run of an imported sequence classifier: classification (or regression) with
    the paper's defaults for the encoder's size, the pooler head, and the imported weights."""
    classifier = converted.classifier
    task = "classification" if classifier.labels else "regression"
    config = finetune_config(task, converted.config.model.encoder, pooler=True)
    model = FinetuningModel(config.encoder, "classification", len(classifier.bias), pooler=True)
    zeros = tf.zeros((1, 8), tf.int32)
    model({"input_ids": zeros, "input_mask": zeros, "segment_ids": zeros}, training=False)
    copy_encoder_weights(converted.model.discriminator, model.encoder)
    model.head.pooler.set_weights(converted.model.pooler.get_weights())
    model.head.dense.set_weights([classifier.kernel, classifier.bias])
    return config, model


def write(converted: ConvertedModel, run_dir: str) -> list[str]:
    """Writes the run directory (see the module doc) into `run_dir`, which must hold no checkpoint;
    an imported sequence classifier as a fine-tuned run (config, labels.json, the classifier's weights)."""
    if tf.train.latest_checkpoint(run_dir):
        raise ConversionError(f"{run_dir} already holds checkpoints; convert into a new directory")
    tokenizer, config, model = converted.tokenizer, converted.config, converted.model
    max_seq_length = tokenizer.max_seq_length
    if converted.classifier is not None:
        config, model = finetuned_model(converted)
        max_seq_length = config.task.max_seq_length
    run_files.write_config(run_dir, config)
    if converted.classifier is not None and converted.classifier.labels:
        run_files.write_labels(run_dir, converted.classifier.labels)
    run_files.write_vocabulary(run_dir, tokenizer.vocab, run_files.TokenizerSettings(
        vocabulary.WORDPIECE, len(tokenizer.vocab), tokenizer.special_ids(run_dir), tokenizer.lowercase,
        max_seq_length))
    checkpoint = tf.train.Checkpoint(model=model_state(model))
    tf.train.CheckpointManager(checkpoint, run_dir, max_to_keep=1).save(checkpoint_number=0)
    return []
