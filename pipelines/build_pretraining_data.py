"""Builds ELECTRA pre-training TFRecords (or a causal LM's token blocks) from
Wikipedia dumps, books, web crawls (WARC / WET) or plain text (Beam job).

    python -m pipelines.build_pretraining_data --input=GLOB --output_dir=DIR \\
        --vocab=vocab.txt|spm.model [--objective=electra|causal_lm] [--format=auto] [--max_seq_length=128] \\
        [--lowercase|--no_lowercase] [--num_shards=8] [--heldout_percent=1.0] \\
        [--seed=12345] [--strict] [--quality_filter=auto|all|none] [BEAM OPTIONS]

Writes DIR/train-SSSSS-of-NNNNN.tfrecord, DIR/heldout-..., DIR/manifest.json,
DIR/vocab.txt and DIR/dead_letter.jsonl. --objective=causal_lm (with a BPE
vocabulary of `pipelines.build_vocab --model=bpe`) writes blocks of
max_seq_length + 1 contiguous tokens, documents separated by <|endoftext|>, and
keeps case unless --lowercase is given. Flags not listed here go to Beam's
PipelineOptions (DirectRunner by default), e.g. `--direct_num_workers=2
--direct_running_mode=multi_processing`, or `--runner=DataflowRunner ...`.
"""
import argparse
import dataclasses
import sys
import time

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from core import cli
from pipelines import documents, formats, inputs, pretraining_data, quality


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """(job flags, remaining flags for Beam)."""
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", action="append", required=True,
                        help="file glob; repeatable or comma separated")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--vocab", required=True,
                        help="WordPiece vocab.txt ([PAD] = id 0) or SentencePiece .model")
    parser.add_argument("--format", default="auto", choices=("auto",) + documents.FORMATS,
                        help="auto: from each file name (.xml[.bz2|.gz] wikipedia, "
                             ".warc[.gz] warc, .wet[.gz] wet, .txt[.gz|.bz2] text); "
                             "books: one book per file")
    parser.add_argument("--objective", default=pretraining_data.ELECTRA,
                        choices=(pretraining_data.ELECTRA, pretraining_data.CAUSAL_LM),
                        help="electra: packed [CLS] A [SEP] B [SEP] examples (every masked objective); "
                             "causal_lm: contiguous blocks of max_seq_length + 1 tokens")
    parser.add_argument("--max_seq_length", type=int, default=128,
                        help="tokens per example (causal_lm: the model's context; blocks hold one more)")
    parser.add_argument("--lowercase", dest="lowercase", action="store_true", default=None,
                        help="lower-case the text (default: on, except for --objective=causal_lm)")
    parser.add_argument("--no_lowercase", dest="lowercase", action="store_false")
    parser.add_argument("--num_shards", type=int, default=8, help="train shards")
    parser.add_argument("--heldout_percent", type=float, default=1.0,
                        help="percent of documents (by id hash) in the heldout split")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--max_document_bytes", type=int, default=10_000_000,
                        help="longer documents are skipped as document_too_long")
    parser.add_argument("--split_mb", type=float, default=64,
                        help="work unit size within large uncompressed files and .warc.gz")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace another job's output in --output_dir (only the files this job writes)")
    parser.add_argument("--strict", action="store_true",
                        help="fail on bad input (see dead_letter.jsonl) instead of skipping it")
    parser.add_argument("--quality_filter", default=pretraining_data.QUALITY_AUTO,
                        choices=(pretraining_data.QUALITY_AUTO, pretraining_data.QUALITY_ALL,
                                 pretraining_data.QUALITY_NONE),
                        help="which documents the quality filter sees (auto: WARC and WET)")
    for field in dataclasses.fields(quality.QualityFilter):
        parser.add_argument(f"--{field.name}", type=type(field.default), default=field.default,
                            help="quality filter threshold")
    args, beam_args = parser.parse_known_args(argv)
    if args.lowercase is None:
        args.lowercase = args.objective != pretraining_data.CAUSAL_LM
    for name, value in (("max_seq_length", args.max_seq_length), ("num_shards", args.num_shards),
                        ("max_document_bytes", args.max_document_bytes),
                        ("split_mb", args.split_mb)):
        if value <= 0:
            parser.error(f"--{name} must be positive, got {value}")
    if not 0 <= args.heldout_percent <= 100:
        parser.error(f"--heldout_percent must be in [0, 100], got {args.heldout_percent}")
    return args, beam_args


def job_config(args: argparse.Namespace) -> pretraining_data.JobConfig:
    return pretraining_data.JobConfig(
        vocab_path=args.vocab, max_seq_length=args.max_seq_length, lowercase=args.lowercase,
        num_shards=args.num_shards, heldout_percent=args.heldout_percent, seed=args.seed,
        input_format=args.format, max_document_bytes=args.max_document_bytes,
        split_bytes=int(args.split_mb * 2**20), strict=args.strict,
        quality_formats=args.quality_filter, objective=args.objective,
        quality_filter=quality.QualityFilter(**{
            f.name: getattr(args, f.name) for f in dataclasses.fields(quality.QualityFilter)}))


def main(argv: list[str] | None = None) -> int:
    args, beam_args = parse_args(sys.argv[1:] if argv is None else argv)
    patterns = inputs.split_patterns(args.input)
    print(f"[1/3] matching {patterns}", flush=True)
    try:
        files = inputs.match_patterns(patterns)
        kinds = {formats.detect_format(f, args.format) for f in files}
    except (FileNotFoundError, ValueError) as error:
        raise cli.UserError(str(error)) from None
    if not FileSystems.exists(args.vocab):
        raise cli.UserError(f"vocab file {args.vocab} does not exist")
    size_mb = sum(files.values()) / 1e6
    print(f"      {len(files)} file(s), {size_mb:.1f} MB, format(s) {sorted(kinds)}", flush=True)

    options = PipelineOptions(beam_args)
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    print(f"[2/3] running the pipeline on {runner} -> {args.output_dir}", flush=True)
    start = time.time()
    try:
        manifest, _ = pretraining_data.run(beam.Pipeline(options=options), patterns,
                                           args.output_dir, job_config(args), overwrite=args.overwrite)
    except ValueError as error:
        raise cli.UserError(str(error)) from None
    except Exception as error:  # runners wrap the DoFn's BadInputError
        if type(error).__name__ == "KilledWorker":  # distributed's, through Beam's DaskRunner
            raise cli.UserError(
                f"{runner}: a task's Dask worker died {error.allowed_failures + 1} time(s) "
                f"(distributed.scheduler.allowed-failures is {error.allowed_failures}; the last "
                f"was {error.last_worker.address}, see its log), so the job failed and "
                f"{args.output_dir} is incomplete: rerun it once the cluster is idle (a rerun "
                "clears what this run left)") from None
        strict_lines = [line for line in str(error).splitlines() if "--strict:" in line]
        if not strict_lines:
            raise
        raise cli.UserError(f"{strict_lines[-1].split('--strict:', 1)[1].strip()} "
                            "(--strict; drop it to skip and dead-letter bad input)") from None
    seconds = time.time() - start

    print(f"[3/3] done in {seconds:.1f}s: {manifest.documents_read} documents read, "
          f"{manifest.documents_written} written ({manifest.documents_written / seconds:.1f} docs/s), "
          f"{manifest.tokens} tokens ({manifest.tokens / seconds:.0f} tokens/s)")
    print(f"      skipped: {manifest.documents_skipped}")
    if manifest.dead_letters:
        print(f"      {manifest.dead_letters} bad input item(s) listed in "
              f"{args.output_dir}/{pretraining_data.DEAD_LETTER}")
    for name, split in manifest.splits.items():
        dropped = (f", {split.tokens_dropped} tokens dropped at the ends of work units"
                   if manifest.objective == pretraining_data.CAUSAL_LM else "")
        print(f"      {name}: {split.documents} documents, {split.examples} examples, "
              f"{split.tokens} tokens{dropped} ({args.output_dir}/{split.pattern})")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
