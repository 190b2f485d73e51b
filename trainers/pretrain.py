"""ELECTRA pre-training: `python -m trainers.pretrain --config=tiny --data=GLOB --model_dir=DIR`; a causal LM
(GPT-2, GPT-3) with a causal_lm preset (gpt_tiny, gpt2, ...) on data of `--objective=causal_lm`.

Writes to DIR: config.json (resolved), vocab.txt (and spm.model for
SentencePiece data), data.json (tokenizer settings, for export), checkpoints,
TensorBoard logs (train/, eval/) and eval_results.json. Rerunning with the
same DIR resumes from its latest checkpoint. Without --config, the config is
that of the run in DIR (e.g. one trainers.convert wrote), else of the
--init_checkpoint run; a converted run's weights-only checkpoint starts
generator and discriminator together on a fresh schedule (new optimizer, step 0).
"""
from __future__ import annotations

import dataclasses
import os
import sys

import tensorflow as tf

from configs import ModelConfig, PretrainConfig, apply_overrides, get_config, with_vocab_size
from core import cli, run_files
from core.cli import UserError
from core.run_files import DataManifest
from core.vocabulary import piece_byte_lengths
from models.word_boundaries import continuation_flags
from trainers import baselines
from trainers.checkpointing import weights_only_checkpoint
from trainers.distribution import STRATEGIES, make_strategy, worker_input_context
from trainers.input_data import two_segment_fraction
from trainers.loop import Trainer
from trainers.model_loading import pretrained_run
from trainers.tasks.causal_lm import CausalLMTask
from trainers.tasks.pretraining import RTD_OBJECTIVES, PretrainingTask


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=None,
                   help="preset: tiny, small, base, large, albert_base, albert_large, albert_xlarge, albert_xxlarge; "
                        "causal LMs gpt_tiny, gpt2, gpt2_medium, gpt2_large, gpt2_xl, gpt3_small ... gpt3_175b "
                        "(default: the config of the run in --model_dir, else of the --init_checkpoint run, else tiny)")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="dotted config override, repeatable, e.g. train.num_steps=1000")
    p.add_argument("--data", required=True, help="glob of training TFRecords")
    p.add_argument("--eval_data", default="",
                   help="glob of held-out TFRecords, evaluated every train.eval_every steps and at the end")
    p.add_argument("--init_checkpoint", default="",
                   help="start from this checkpoint's (or run directory's) model weights, not its optimizer")
    p.add_argument("--model_dir", required=True)
    p.add_argument("--strategy", default="auto", choices=STRATEGIES)
    p.add_argument("--tpu", default="", help="TPU name or grpc:// address (with --strategy=tpu or auto)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run in --model_dir if it was made from other data or another "
                        "--init_checkpoint (its checkpoints and logs are deleted)")
    p.add_argument("--skip_corrupt_records", action="store_true",
                   help="read only the readable part of corrupt TFRecord files (counted and reported); by "
                        "default a corrupt record stops training with an error naming the file")
    return p.parse_args(argv)


# Model settings that shape no weight: a converted run may change them before its first step.
TRAINING_SETTINGS = ("mask_rate", "mask_token_fraction", "max_predictions_per_seq", "mlm_weight", "disc_weight",
                     "temperature")


def saved_config(args) -> tuple[PretrainConfig, str] | tuple[None, None]:
    """Without --config: (config, directory) of the pre-training run in --model_dir (an earlier
    run of this command, or one trainers.convert wrote), else of the --init_checkpoint run; else (None, None)."""
    init = args.init_checkpoint
    init_dir = (init if tf.io.gfile.isdir(init) else os.path.dirname(init)) if init else ""
    for directory in (args.model_dir, init_dir) if args.config is None else ():
        if directory and run_files.has_config(directory):
            saved = run_files.read_config(directory)
            # Another kind of run in --model_dir: write_run_files refuses it.
            return (saved, directory) if isinstance(saved, PretrainConfig) else (None, None)
    return None, None


def resolve_config(args, manifest: DataManifest) -> PretrainConfig:
    """The preset (or saved_config's) with overrides, its vocabulary size taken from the data
    (a mismatch with an override or with the run's vocabulary is an error)."""
    saved, saved_dir = saved_config(args)
    try:
        config = apply_overrides(saved, args.override) if saved else get_config(args.config or "tiny", args.override)
    except ValueError as err:  # an unknown preset or key, a bad value: the user's flags
        raise UserError(f"--config/--override: {err}") from None
    data_vocab = manifest.vocab_size
    if saved or any(o.split("=")[0].strip().endswith("vocab_size") for o in args.override):
        if config.model.encoder.vocab_size != data_vocab:
            source = f" (the run in {saved_dir}; tokenize the data with its vocab.txt)" if saved else ""
            raise UserError(f"model.encoder.vocab_size={config.model.encoder.vocab_size}{source} but the data "
                             f"was tokenized with a vocabulary of {data_vocab}")
    config = with_vocab_size(config, data_vocab)
    causal = config.model.objective == "causal_lm"
    if causal != (manifest.objective == run_files.CAUSAL_LM_DATA):
        wanted = "--objective=causal_lm" if causal else "the default --objective=electra"
        raise UserError(f"model.objective={config.model.objective} but {manifest.directory} holds "
                        f"{manifest.objective} data: build the data with {wanted}")
    if manifest.max_seq_length > config.model.encoder.max_position_embeddings:
        raise UserError(f"data max_seq_length {manifest.max_seq_length} exceeds "
                         f"max_position_embeddings {config.model.encoder.max_position_embeddings}")
    if config.model.sentence_order and not two_segment_fraction(args.data, manifest.max_seq_length):
        raise UserError(f"model.sentence_order needs two-segment examples, but the first examples of "
                         f"{args.data} all have one segment")
    return config


def word_continuation(manifest: DataManifest):
    """(V,) flags of the data vocabulary's pieces that continue a word (whole-word/n-gram masking)."""
    pieces = run_files.read_vocabulary(manifest.directory, manifest.tokenizer).pieces
    return continuation_flags(pieces, manifest.tokenizer.kind)


def check_init_vocabulary(init_checkpoint: str, manifest: DataManifest) -> None:
    """The --init_checkpoint run must have tokenized with the data's vocabulary (same content, not just size)."""
    if not init_checkpoint:
        return
    init_dir, _ = pretrained_run(init_checkpoint)
    held = run_files.read_tokenizer(init_dir)
    if held.vocab_fingerprint != manifest.tokenizer.vocab_fingerprint:
        raise UserError(f"the data in {manifest.directory} was tokenized with another vocabulary (fingerprint "
                        f"{manifest.tokenizer.vocab_fingerprint}) than --init_checkpoint's run {init_dir} "
                        f"({held.vocab_fingerprint}); tokenize the data with {init_dir}/{held.file}")


def same_weights(saved: ModelConfig, new: ModelConfig) -> bool:
    """Whether `new` differs from `saved` only in TRAINING_SETTINGS."""
    return dataclasses.replace(saved, **{k: getattr(new, k) for k in TRAINING_SETTINGS}) == new


def write_run_files(model_dir: str, config: PretrainConfig, manifest: DataManifest, converted: bool = False) -> None:
    """Saves the resolved config and tokenizer files; refuses to resume with another model config
    (a `converted` run not yet trained: with other weights) or another vocabulary."""
    same_model = (lambda s, n: same_weights(s.model, n.model)) if converted else (lambda s, n: s.model == n.model)
    run_files.write_config(model_dir, config, same_model=same_model)
    run_files.write_tokenizer(model_dir, manifest.tokenizer, manifest.directory)


def print_heldout_comparison(metrics: dict, objective: str) -> None:
    """The held-out numbers against the constant baselines (RTD objectives have a discriminator)."""
    gen_ok = metrics["mlm_accuracy"] > metrics["most_frequent_token_accuracy"]
    print(f"held-out ({metrics['tokens']:.0f} tokens, {metrics['masked_positions']:.0f} masked):")
    if objective in RTD_OBJECTIVES:
        disc_ok = metrics["disc_loss"] < metrics["constant_disc_loss"]
        print(f"  discriminator loss {metrics['disc_loss']:.4f} vs best constant predictor "
              f"{metrics['constant_disc_loss']:.4f} (replaced fraction {metrics['replaced_fraction']:.3f}) "
              f"-> {'beats' if disc_ok else 'DOES NOT beat'} it")
    print(f"  generator masked-token accuracy {metrics['mlm_accuracy']:.4f} vs most-frequent-token "
          f"{metrics['most_frequent_token_accuracy']:.4f} -> {'beats' if gen_ok else 'DOES NOT beat'} it")
    print(f"  generator entropy {metrics['generator_entropy']:.4f} nats per masked position")
    if "sop_accuracy" in metrics:
        print(f"  sentence-order accuracy {metrics['sop_accuracy']:.4f} (0.5 = chance)")
    if objective in RTD_OBJECTIVES:
        counted = metrics["tokens"] if objective == "electra" else metrics["masked_positions"]
        positives = metrics["replaced_fraction"] * counted
        se = baselines.auc_standard_error(metrics["disc_auc"], positives, counted - positives)
        print(f"  discriminator accuracy {metrics['disc_accuracy']:.4f} precision "
              f"{metrics['disc_precision']:.4f} recall {metrics['disc_recall']:.4f} "
              f"AUC {metrics['disc_auc']:.4f} +- {se:.4f} (1 s.e.; 0.5 = chance)")


def print_language_model_comparison(metrics: dict) -> None:
    """The held-out perplexity and bits per byte against the n-gram baselines."""
    print(f"held-out ({metrics['tokens']:.0f} predicted tokens):")
    for name in ("unigram", "bigram"):
        ok = metrics["loss"] < metrics[f"{name}_loss"]
        print(f"  perplexity {metrics['perplexity']:.2f} vs {name} {metrics[f'{name}_perplexity']:.2f}, bits per byte "
              f"{metrics['bits_per_byte']:.4f} vs {metrics[f'{name}_bits_per_byte']:.4f} -> "
              f"{'beats' if ok else 'DOES NOT beat'} it")
    print(f"  next-token accuracy {metrics['accuracy']:.4f}")


def make_task(args, config: PretrainConfig, manifest: DataManifest) -> PretrainingTask:
    """The pre-training task of the config's objective, reading --data and --eval_data."""
    common = dict(eval_pattern=args.eval_data, skip_corrupt_records=args.skip_corrupt_records,
                  shard_examples=manifest.shard_examples())
    if config.model.objective == "causal_lm":
        pieces = run_files.read_vocabulary(manifest.directory, manifest.tokenizer).pieces
        return CausalLMTask(config, args.data, manifest.max_seq_length, piece_byte_lengths(pieces), **common)
    return PretrainingTask(config, manifest.special_token_ids, args.data, manifest.max_seq_length, **common)


def skipped_records(skipped: dict) -> float:
    """Records left out of corrupt files (-1 for each file whose count the manifest lacks)."""
    return float(sum(-1 if s["records_lost"] is None else s["records_lost"] for s in skipped.values()))


def main(argv=None) -> int:
    args = parse_args(argv)
    manifest = run_files.find_manifest(args.data)
    if args.eval_data and not tf.io.gfile.glob(args.eval_data):
        raise FileNotFoundError(f"no files match --eval_data {args.eval_data!r}")
    config = resolve_config(args, manifest)
    converted = weights_only_checkpoint(args.model_dir)
    if converted and args.init_checkpoint:
        raise UserError(f"{args.model_dir} holds converted weights ({converted}) to start from; "
                        "--init_checkpoint would replace them: give one of the two")
    check_init_vocabulary(args.init_checkpoint, manifest)
    job = run_files.JobRecord("trainers.pretrain", {"data": manifest.fingerprint(),
                                                   "init_checkpoint": args.init_checkpoint})
    strategy = make_strategy(args.strategy, args.tpu)  # first: multi-worker set-up precedes TF's start
    chief = worker_input_context(strategy).input_pipeline_id == 0
    if chief:
        run_files.check_job(args.model_dir, job, run_files.RUN_OUTPUTS, args.overwrite and not converted)
        write_run_files(args.model_dir, config, manifest, converted=bool(converted))
        run_files.record_job(args.model_dir, job)
    print(f"strategy {type(strategy).__name__} with {strategy.num_replicas_in_sync} replica(s); "
          f"data {manifest.splits['train'].examples} examples, vocab {manifest.vocab_size}")
    task = make_task(args, config, manifest)
    for path, skipped in task.skipped.items():
        lost = "the rest" if skipped["records_lost"] is None else f"{skipped['records_lost']} records"
        print(f"skipping corrupt records: {path} from byte {skipped['offset']} ({lost}; "
              f"{skipped['records_kept']} kept)")
    trainer = Trainer(task, strategy, args.model_dir)
    if task.skipped:
        trainer.log_scalars("train", {"skipped_corrupt_records": skipped_records(task.skipped)})
    step = 0 if converted else trainer.restore()
    if step:
        print(f"resumed from {trainer.manager.latest_checkpoint} at step {step}")
    elif converted:
        print(f"starting from the converted weights {trainer.initialize_from(converted)} (generator and "
              "discriminator; new optimizer, schedule from step 0)")
    elif args.init_checkpoint:
        print(f"initialised the model from {trainer.initialize_from(args.init_checkpoint)}")
    if not step and config.model.generator == "unigram":
        trainer.model.set_unigram_counts(task.count_tokens())
        print("unigram generator set from the training data's token counts")
    if not step and config.model.masking != "token":
        trainer.model.set_word_continuation(word_continuation(manifest))
        print(f"{config.model.masking} masking: word boundaries from the data's vocabulary")
    trainer.train(evaluate_every=bool(args.eval_data))
    if args.eval_data and trainer.step >= config.train.num_steps:
        metrics = trainer.evaluate(config.train.eval_batches)
        if task.skipped:
            metrics["skipped_corrupt_records"] = skipped_records(task.skipped)
            metrics["corrupt_files"] = task.skipped
        if chief:
            run_files.write_json(os.path.join(args.model_dir, run_files.EVAL_RESULTS), metrics)
        if config.model.objective == "causal_lm":
            print_language_model_comparison(metrics)
        else:
            print_heldout_comparison(metrics, config.model.objective)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
