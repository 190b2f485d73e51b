"""Converts ELECTRA and BERT checkpoints: `python -m trainers.convert --from=DIR_OR_PREFIX --to=DIR`.

Formats (detected from --from, or given by --from_format / --to_format):
  tf1          the ELECTRA release's TF1 checkpoint (a prefix, or a directory with one) with vocab.txt
  huggingface  ElectraForPreTraining (discriminator) and ElectraForMaskedLM (generator) directories:
               --from=DISC [--generator=GEN], or --from=DIR holding discriminator/ and generator/;
               or one BERT directory (BertModel, BertForMaskedLM, BertForPreTraining: a masked LM,
               objective mlm; BertForSequenceClassification: a fine-tuned run)
  run          this project's pre-training run directory (trainers.pretrain or trainers.convert)
A GPT-2 (GPT2LMHeadModel or GPT2Model with vocab.json and merges.txt) converts between huggingface
and a causal LM run (conversion/gpt2.py).
A checkpoint is imported into a run directory (the default --to_format); a run is exported to
Hugging Face (its default --to_format) or the release's TF1 format. Generator and discriminator
convert together; a discriminator alone gets a new generator for continued pre-training.
"""
from __future__ import annotations

import argparse
import sys

import tensorflow as tf

from core import cli
from core.files import check_directory
from trainers.conversion import gpt2, huggingface, run_format, tf1_checkpoint
from trainers.conversion.errors import ConversionError

FORMATS = ("run", "tf1", "huggingface")
WRITERS = {"run": run_format.write, "tf1": tf1_checkpoint.write, "huggingface": huggingface.write}


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--from", dest="source", required=True, help="checkpoint prefix or directory to convert")
    p.add_argument("--to", dest="target", required=True, help="directory to write")
    p.add_argument("--from_format", default="auto", choices=("auto", *FORMATS))
    p.add_argument("--to_format", default="auto", choices=("auto", *FORMATS),
                   help="default: huggingface for a run, else run")
    p.add_argument("--generator", default="", help="huggingface: the generator's directory (ElectraForMaskedLM)")
    p.add_argument("--vocab", default="", help="the vocab.txt, when it is not beside the checkpoint")
    p.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=None,
                   help="uncased (lower-case, strip accents) or not; default: the tokenizer files' setting, "
                        "for tf1 hparams.json's do_lower_case, else uncased as the release's models")
    p.add_argument("--num_heads", type=int, default=None,
                   help="tf1: the discriminator's attention heads (default: hparams.json, else hidden / 64)")
    p.add_argument("--generator_size", type=float, default=None,
                   help="without an imported generator: the new one's size as a fraction of the "
                        "discriminator's (default: the preset's of the same sizes, e.g. 1/3 for base)")
    args = p.parse_args(argv)
    if args.num_heads is not None and args.num_heads < 1:
        p.error(f"--num_heads must be a positive integer, got {args.num_heads}")
    if args.generator_size is not None and not 0 < args.generator_size <= 1:
        p.error(f"--generator_size must be in (0, 1], a fraction of the discriminator's size, got "
                f"{args.generator_size}")
    return args


# The flags each source format reads; the others would be ignored, so giving one is a mistake.
SOURCE_FLAGS = {"run": (), "tf1": ("vocab", "lowercase", "num_heads", "generator_size"),
                "huggingface": ("generator", "vocab", "lowercase", "generator_size")}


def check_flags(args, source_format: str) -> None:
    """Refuses a flag the source format does not read (it would be ignored)."""
    for name in ("generator", "vocab", "lowercase", "num_heads", "generator_size"):
        if getattr(args, name) not in (None, "") and name not in SOURCE_FLAGS[source_format]:
            readers = " and ".join(f for f, flags in SOURCE_FLAGS.items() if name in flags)
            raise ConversionError(f"--{name} applies to {readers} sources only; --from {args.source} is "
                                  f"{source_format}")


def check_target(path: str) -> None:
    """--to must be a new directory (or an empty one), not a file nor under one."""
    check_directory(path, "--to")
    held = sorted(name.rstrip("/") for name in tf.io.gfile.listdir(path)) if tf.io.gfile.isdir(path) else []
    if held:
        raise ConversionError(f"--to {path} is not empty (it holds {', '.join(held[:4])}"
                              f"{' ...' if len(held) > 4 else ''}); convert into a new directory")


def detect_format(path: str) -> str:
    """The format of an existing --from path."""
    if run_format.is_run_directory(path):
        return "run"
    if tf.io.gfile.exists(f"{path}/{huggingface.CONFIG}") or tf.io.gfile.exists(f"{path}/discriminator/{huggingface.CONFIG}"):
        return "huggingface"
    if tf.io.gfile.exists(path + ".index") or tf.io.gfile.isdir(path):
        return "tf1"
    raise ConversionError(f"{path} not found (--from: a checkpoint prefix or directory)")


def read(args, source_format: str):
    if source_format == "run":
        return run_format.read(args.source)
    if source_format == "tf1":
        return tf1_checkpoint.read(args.source, args.vocab or None, args.lowercase, args.num_heads,
                                   args.generator_size)
    return huggingface.read(args.source, args.generator or None, args.vocab or None, args.lowercase,
                            args.generator_size)


def describe(converted) -> str:
    model = converted.config.model
    e, g = model.encoder, model.generator_encoder()
    case = "uncased" if converted.tokenizer.lowercase else "cased"
    sizes = (f"layers {e.num_layers}, hidden {e.hidden_size}, heads {e.num_heads}, FFN {e.intermediate_size}, "
             f"embeddings {e.vocab_size} x {e.embedding_size}")
    if model.objective == "mlm":
        kind = "masked LM" if converted.classifier is None else "sequence classifier"
        return f"BERT ({kind}): {sizes}; {'with' if model.pooler else 'no'} pooler; {case}"
    return (f"discriminator: {sizes}; generator: layers {g.num_layers}, hidden {g.hidden_size}, heads "
            f"{g.num_heads}, FFN {g.intermediate_size} (generator_size {model.generator_size:.4g}); sharing "
            f"{model.sharing}; {case}")


def main(argv=None) -> int:
    args = parse_args(argv)
    source_format = detect_format(args.source) if args.from_format == "auto" else args.from_format
    target_format = args.to_format
    if target_format == "auto":
        target_format = "huggingface" if source_format == "run" else "run"
    check_flags(args, source_format)
    check_target(args.target)
    if gpt2.is_gpt2(args.source):
        if {source_format, target_format} != {"huggingface", "run"}:
            raise ConversionError(f"{args.source} is a GPT-2: it converts between huggingface and run only")
        convert = gpt2.import_huggingface if source_format == "huggingface" else gpt2.export_huggingface
        notes = convert(args.source, args.target)
        print(f"converted the GPT-2 {args.source} ({source_format}) -> {args.target} ({target_format})")
        for note in notes:
            print(f"  note: {note}")
        return 0
    converted = read(args, source_format)
    notes = converted.notes + WRITERS[target_format](converted, args.target)
    print(f"converted {args.source} ({source_format}) -> {args.target} ({target_format})")
    print(f"  {describe(converted)}")
    for note in notes:
        print(f"  note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
