"""Builds ELECTRA pre-training TFRecords from Wikipedia XML dumps (Beam job).

    python -m pipelines.build_pretraining_data --input=GLOB --output_dir=DIR \
        --vocab=vocab.txt [--max_seq_length=128] [--lowercase|--no_lowercase] \
        [--num_shards=8] [--heldout_percent=1.0] [--seed=12345] [BEAM OPTIONS]

Flags not listed here go to Beam's PipelineOptions (DirectRunner by default),
e.g. `--direct_num_workers=2 --direct_running_mode=multi_processing`, or
`--runner=DataflowRunner --project=... --region=... --temp_location=gs://...`.
"""
import argparse
import sys
import time

import apache_beam as beam
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipelines import inputs, pretraining_data


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """(job flags, remaining flags for Beam)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", action="append", required=True,
                        help="dump glob (.xml or .xml.bz2); repeatable or comma separated")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--vocab", required=True, help="WordPiece vocab.txt ([PAD] = id 0)")
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--lowercase", dest="lowercase", action="store_true", default=True)
    parser.add_argument("--no_lowercase", dest="lowercase", action="store_false")
    parser.add_argument("--num_shards", type=int, default=8, help="train shards")
    parser.add_argument("--heldout_percent", type=float, default=1.0,
                        help="percent of documents (by id hash) in the heldout split")
    parser.add_argument("--seed", type=int, default=12345)
    return parser.parse_known_args(argv)


def main(argv: list[str] | None = None) -> None:
    args, beam_args = parse_args(sys.argv[1:] if argv is None else argv)
    patterns = inputs.split_patterns(args.input)
    print(f"[1/3] matching {patterns}", flush=True)
    try:
        files = inputs.match_patterns(patterns)
    except FileNotFoundError as error:
        sys.exit(f"error: {error}")
    if not tf.io.gfile.exists(args.vocab):
        sys.exit(f"error: vocab file {args.vocab} does not exist")
    size_mb = sum(tf.io.gfile.stat(f).length for f in files) / 1e6
    print(f"      {len(files)} file(s), {size_mb:.1f} MB", flush=True)

    options = PipelineOptions(beam_args)
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    print(f"[2/3] running the pipeline on {runner} -> {args.output_dir}", flush=True)
    start = time.time()
    manifest = pretraining_data.run(
        beam.Pipeline(options=options), patterns, args.output_dir, args.vocab,
        max_seq_length=args.max_seq_length, lowercase=args.lowercase,
        num_shards=args.num_shards, heldout_percent=args.heldout_percent, seed=args.seed)
    seconds = time.time() - start

    print(f"[3/3] done in {seconds:.1f}s: {manifest['documents_read']} pages read, "
          f"{manifest['documents_written']} documents written "
          f"({manifest['documents_written'] / seconds:.1f} docs/s), "
          f"{manifest['tokens']} tokens ({manifest['tokens'] / seconds:.0f} tokens/s)")
    print(f"      skipped: {manifest['documents_skipped']}")
    for split, counts in manifest["splits"].items():
        print(f"      {split}: {counts['documents']} documents, {counts['examples']} examples, "
              f"{counts['tokens']} tokens ({args.output_dir}/{counts['pattern']})")


if __name__ == "__main__":
    main()
