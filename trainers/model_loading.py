"""Models rebuilt from run directories with their checkpoints' weights (export, fine-tuning, conversion)."""
from __future__ import annotations

import os

import tensorflow as tf

from configs import FinetuneConfig, PretrainConfig
from core import run_files
from core.run_files import RunFilesError, TokenizerSettings
from models.decoder import CausalLM
from models.finetuning_model import FinetuningModel, copy_encoder_weights
from models.pretrainer import ElectraPretrainer
from trainers.checkpointing import require_checkpoint, restore_weights
from trainers.loop import MILESTONES


def pretrained_run(path: str) -> tuple[str, PretrainConfig]:
    """(run directory, config) of the pre-trained run that `path` (directory or checkpoint prefix, a
    kept milestone RUN/milestones/ckpt-N included) belongs to."""
    run_dir = path if tf.io.gfile.isdir(path) else os.path.dirname(path)
    if os.path.basename(run_dir) == MILESTONES:
        run_dir = os.path.dirname(run_dir)
    if not run_files.has_config(run_dir):
        raise RunFilesError(f"{path}: no {run_files.CONFIG} beside it; it must be a run directory of "
                            "trainers.pretrain or trainers.convert (or a checkpoint in one)")
    config = run_files.read_config(run_dir)
    if not isinstance(config, PretrainConfig):
        raise RunFilesError(f"{run_dir} is a fine-tuning run; a pre-trained run is needed")
    return run_dir, config


def load_pretrainer(model_dir: str, checkpoint: str | None = None) -> tuple[ElectraPretrainer, TokenizerSettings]:
    """The pretrainer of pre-training run `model_dir` with the weights of its latest checkpoint (or
    of `checkpoint`, a prefix in it), and the run's tokenizer settings."""
    config = run_files.read_config(model_dir)
    if not isinstance(config, PretrainConfig):
        raise RunFilesError(f"{model_dir} is a fine-tuning run, not a pre-training run")
    if config.model.objective == "causal_lm":
        raise RunFilesError(f"{model_dir} is a causal language model (GPT-2); it has no ELECTRA generator or "
                            "discriminator (use trainers.generate, trainers.fewshot, trainers.export)")
    tokenizer = run_files.read_tokenizer(model_dir)
    require_checkpoint(model_dir)
    pretrainer = ElectraPretrainer(config.model, tokenizer.special_token_ids)
    zeros = tf.zeros((1, tokenizer.max_seq_length), tf.int32)
    pretrainer({"input_ids": zeros, "input_mask": zeros, "segment_ids": zeros})
    print(f"restored {restore_weights(pretrainer, checkpoint or model_dir)}")
    return pretrainer, tokenizer


def load_causal_lm(model_dir: str, checkpoint: str | None = None) -> tuple[CausalLM, TokenizerSettings]:
    """The causal LM of run `model_dir` (trainers.pretrain with a causal_lm preset, or a converted
    GPT-2) with its latest checkpoint's weights (or `checkpoint`'s), and the run's tokenizer settings."""
    config = run_files.read_config(model_dir)
    if not isinstance(config, PretrainConfig) or config.model.objective != "causal_lm":
        raise RunFilesError(f"{model_dir} is not a causal language model run (model.objective causal_lm)")
    tokenizer = run_files.read_tokenizer(model_dir)
    require_checkpoint(model_dir)
    model = CausalLM(config.model.encoder, name="causal_lm")
    model(tf.zeros((1, 1), tf.int32))
    print(f"restored {restore_weights(model, checkpoint or model_dir)}")
    return model, tokenizer


def load_finetuned(model_dir: str, beam_size: int = 20) -> FinetuningModel:
    """The FinetuningModel of fine-tuning run `model_dir` with its latest checkpoint's weights
    (SQuAD runs: a span head keeping `beam_size` start/end candidates)."""
    config = run_files.read_config(model_dir)
    if not isinstance(config, FinetuneConfig):
        raise RunFilesError(f"{model_dir} is a pre-training run, not a fine-tuning run")
    latest = require_checkpoint(model_dir)
    if config.task.is_squad:
        model = FinetuningModel(config.encoder, "span", beam_size=beam_size)
    else:
        outputs = 1 if config.task.is_regression else len(run_files.read_labels(model_dir))
        model = FinetuningModel(config.encoder, "classification", outputs, pooler=config.pooler)
    zeros = tf.zeros((1, config.task.max_seq_length), tf.int32)
    model({"input_ids": zeros, "input_mask": zeros, "segment_ids": zeros}, training=False)
    print(f"restored {restore_weights(model, latest)}")
    return model


def load_discriminator(path: str, model: FinetuningModel) -> str:
    """Copies the pre-trained discriminator's encoder (of checkpoint or run `path`) into `model`'s,
    and BERT's pooler into a head that reads one (where the run has it; else it stays random);
    returns the pre-trained run's directory."""
    run_dir, _ = pretrained_run(path)
    pretrainer, _ = load_pretrainer(run_dir, checkpoint=path if not tf.io.gfile.isdir(path) else None)
    copy_encoder_weights(pretrainer.discriminator, model.encoder)
    if pretrainer.config.pooler and getattr(model.head, "pooler", None) is not None:
        model.head.pooler.set_weights(pretrainer.pooler.get_weights())
    return run_dir
