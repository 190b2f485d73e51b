"""Exports a run as a SavedModel for TF Serving: `python -m trainers.export --model_dir=RUN --output=BASE
[--version=N]`.

Writes version N of the model to BASE/N/, the layout TF Serving watches
(default N: one more than the highest version in BASE, 1 for the first); an
existing version is never overwritten. The version is written to a
temporary directory in BASE (not a number, so TF Serving ignores it) and
renamed when complete. Its `serving_default` signature takes raw text and
tokenizes it in the graph with the run's tokenizer (trainers/serving/):

  pre-trained runs (trainers.pretrain, trainers.convert): discriminator.py,
    text -> per-token replaced probabilities;
  classification and regression runs (trainers.finetune): classifier.py,
    text (or text_a, text_b when the run's task.text_columns names two) ->
    probabilities, classes and label, or score;
  SQuAD runs: squad.py, question, context -> answer text, character
    start/end, score (and for 2.0 the no-answer score and decision);
  causal LM runs (GPT-2): text_generator.py, prompt -> the greedy continuation
    of --max_new_tokens tokens (text, tokens, lengths, log_probability); the
    SavedModel's `generate` function also takes max_new_tokens, temperature,
    top_k, top_p and seed.

assets.extra/tf_serving_warmup_requests holds the requests TF Serving replays
on loading (warmup.py).
"""
from __future__ import annotations

import os
import sys

import tensorflow as tf

from configs import FinetuneConfig, PretrainConfig
from core import cli, run_files
from core.files import check_directory
from trainers.checkpointing import require_checkpoint
from trainers.model_loading import load_causal_lm, load_finetuned, load_pretrainer
from trainers.serving.classifier import TextClassifier
from trainers.serving.discriminator import ReplacedTokenDetector
from trainers.serving.squad import SquadServer
from trainers.serving.text_encoder import TextEncoder
from trainers.serving.text_generator import TextGenerator
from trainers.serving.warmup import warmup_inputs, write_warmup_requests

SIGNATURE = "serving_default"


class ExportError(cli.UserError):
    """An output version that exists, or a run this export cannot serve."""


def text_encoder(model_dir: str, max_seq_length: int) -> TextEncoder:
    """The in-graph tokenizer and input layout of run `model_dir` (data.json)."""
    tokenizer = run_files.read_tokenizer(model_dir)
    return TextEncoder(os.path.join(model_dir, tokenizer.file), tokenizer.lowercase, tokenizer.special_token_ids,
                       max_seq_length)


def serving_module(model_dir: str, config: PretrainConfig | FinetuneConfig,
                   max_new_tokens: int = 32) -> tuple[tf.Module, int]:
    """(module with a `serve` tf.function, its maximum length in tokens) for run `model_dir`."""
    if isinstance(config, PretrainConfig) and config.model.objective == "causal_lm":
        model, tokenizer = load_causal_lm(model_dir)
        if max_new_tokens >= model.config.max_position_embeddings:
            raise ExportError(f"--max_new_tokens={max_new_tokens} leaves no room for a prompt in the model's "
                              f"{model.config.max_position_embeddings} positions")
        generator = TextGenerator(model, os.path.join(model_dir, tokenizer.file), tokenizer.lowercase,
                                  tokenizer.special_token_ids["eos"], max_new_tokens)
        return generator, model.config.max_position_embeddings
    if isinstance(config, PretrainConfig):
        pretrainer, tokenizer = load_pretrainer(model_dir)
        if getattr(pretrainer, "discriminator_head", None) is None:
            raise ExportError(f"{model_dir} was trained with objective {pretrainer.config.objective!r}, which "
                              "has no replaced-token head to export")
        encoder = text_encoder(model_dir, tokenizer.max_seq_length)
        vocab = os.path.join(model_dir, run_files.VOCAB)
        return ReplacedTokenDetector(pretrainer, encoder, vocab), tokenizer.max_seq_length
    length = config.task.max_seq_length
    if config.task.is_squad:
        return SquadServer.from_run(model_dir), length
    labels = None if config.task.is_regression else run_files.read_labels(model_dir)
    classifier = TextClassifier(load_finetuned(model_dir), text_encoder(model_dir, length), labels,
                                config.task.num_texts == 2)
    return classifier, length


def version_dir(base: str, version: int | None) -> str:
    """BASE/<version>: `version`, which must not exist, or one more than the highest in BASE.
    BASE must be a directory or not exist yet (nor be under a file)."""
    check_directory(base, "--output")
    existing = [int(name.rstrip("/")) for name in (tf.io.gfile.listdir(base) if tf.io.gfile.isdir(base) else [])
                if name.rstrip("/").isdigit()]
    if version is None:
        version = max(existing, default=0) + 1
    if version < 1:
        raise ExportError(f"--version must be a positive integer, got {version}")
    path = os.path.join(base, str(version))
    if version in existing:
        raise ExportError(f"{path} exists; versions are never overwritten: pick another --version "
                          "or leave it out (the next free one)")
    return path


def readable_checkpoint(model_dir: str) -> str:
    """The run's latest checkpoint prefix, every tensor the export restores read once: a truncated
    or damaged file is an ExportError naming it, before the model is built."""
    checkpoint = require_checkpoint(model_dir)
    try:
        reader = tf.train.load_checkpoint(checkpoint)
        for name, dtype in reader.get_variable_to_dtype_map().items():
            if dtype != tf.variant and not name.startswith("optimizer/"):  # not the input or optimizer state
                reader.get_tensor(name)
    except (tf.errors.OpError, IndexError) as err:  # IndexError: a data file shorter than its index says
        raise ExportError(f"{checkpoint}: not a readable checkpoint ({cli.message(err)})") from None
    return checkpoint


def labels_of(model_dir: str, config) -> list[str] | None:
    classifies = isinstance(config, FinetuneConfig) and not (config.task.is_regression or config.task.is_squad)
    return run_files.read_labels(model_dir) if classifies else None


def check_same_model(base: str, record: dict) -> None:
    """The newest earlier version in `base` must serve the same kind of run, task, labels and
    tokenizer (vocabulary fingerprint) as `record`: versions of one model never mix."""
    versions = sorted((int(n.rstrip("/")) for n in (tf.io.gfile.listdir(base) if tf.io.gfile.isdir(base) else [])
                       if n.rstrip("/").isdigit()), reverse=True)
    for version in versions:
        held = run_files.read_export_record(os.path.join(base, str(version)))
        if held is None:
            continue
        if held != record:
            flat = lambda r: {**{k: v for k, v in r.items() if k != "tokenizer"}, **r["tokenizer"]}  # noqa: E731
            raise ExportError(f"--output {base}: version {version} serves another model "
                              f"({run_files.differences(flat(held), flat(record))}); export to another --output")
        return


def export(model_dir: str, output: str, version: int | None = None, max_new_tokens: int = 32) -> str:
    """Writes run `model_dir` as version `version` under `output` (see module doc); returns its directory.
    Everything the user gave is checked before the model is loaded; a failed export leaves `output` as it was."""
    if not tf.io.gfile.isdir(model_dir):
        problem = "is a file, not" if tf.io.gfile.exists(model_dir) else "not found: give"
        raise run_files.RunFilesError(f"--model_dir {model_dir} {problem} a run directory")
    seeds = sorted(tf.io.gfile.glob(os.path.join(model_dir, "seed_*")))
    if seeds and not run_files.has_config(model_dir):
        raise run_files.RunFilesError(f"{model_dir} holds the runs of several seeds (trainers.finetune "
                                              f"--seeds); export one of them, e.g. {seeds[0]}")
    config = run_files.read_config(model_dir)
    readable_checkpoint(model_dir)
    target = version_dir(output, version)
    record = run_files.export_record(config, run_files.read_tokenizer(model_dir), labels_of(model_dir, config))
    check_same_model(output, record)
    if max_new_tokens < 1:
        raise ExportError(f"--max_new_tokens must be positive, got {max_new_tokens}")
    module, max_seq_length = serving_module(model_dir, config, max_new_tokens)
    created = not tf.io.gfile.exists(output)
    temporary = os.path.join(output, f"tmp-{os.path.basename(target)}-{os.getpid()}")
    try:
        tf.saved_model.save(module, temporary, signatures={SIGNATURE: module.serve})
        names = [spec.name for spec in module.serve.input_signature]
        write_warmup_requests(temporary, SIGNATURE, warmup_inputs(names, max_seq_length))
        run_files.write_export_record(temporary, record)
        tf.io.gfile.rename(temporary, target)  # fails if `target` appeared meanwhile
    finally:
        if tf.io.gfile.exists(temporary):
            tf.io.gfile.rmtree(temporary)
        if created and tf.io.gfile.exists(output) and not tf.io.gfile.listdir(output):
            tf.io.gfile.rmtree(output)
    print(f"wrote SavedModel version {os.path.basename(target)} to {target}")
    return target


def main(argv=None) -> int:
    p = cli.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model_dir", required=True, help="a run directory of trainers.pretrain, trainers.convert "
                   "or trainers.finetune")
    p.add_argument("--output", required=True, help="the model's base directory; writes OUTPUT/VERSION/")
    p.add_argument("--version", type=int, default=None, help="default: one more than the highest in OUTPUT")
    p.add_argument("--max_new_tokens", type=int, default=32,
                   help="causal LMs: the tokens the serving signature generates after a prompt")
    args = p.parse_args(argv)
    export(args.model_dir, args.output, args.version, args.max_new_tokens)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
