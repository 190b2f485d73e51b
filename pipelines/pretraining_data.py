"""Beam job library: Wikipedia XML dumps -> packed ELECTRA TFRecords + manifest.

Stages: match files -> read pages (streaming) -> clean, split sentences,
tokenize, pack (one document at a time, never across documents) -> split whole
documents into train/heldout by a stable hash of the document id -> sharded
TFRecords `train-SSSSS-of-NNNNN.tfrecord` / `heldout-...`. Per-document counts
are summed inside the pipeline and written to `manifest.json` (any runner),
next to a copy of the vocab, once both splits are written. A dump that cannot
be read to its end counts as one more read-and-skipped document, so
documents_read == documents_written + sum(documents_skipped.values()).
"""
import hashlib
import json
import logging
import math

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipelines import packing, sentences, tokenization, wikipedia

TRAIN, HELDOUT = "train", "heldout"
NO_TOKENS = "no_tokens"  # cleaned text tokenized to nothing
MANIFEST = "manifest.json"
VOCAB_FILE = "vocab.txt"
METRICS_NAMESPACE = "pretraining_data"
_STATS = "stats"

_log = logging.getLogger(__name__)


def split_of(document_id: str, heldout_percent: float) -> str:
    """TRAIN or HELDOUT for a whole document, from a stable hash of its id
    (seed-independent, so the heldout set stays fixed across data rebuilds)."""
    digest = hashlib.sha256(f"split\0{document_id}".encode("utf-8")).digest()
    return HELDOUT if int.from_bytes(digest[:8], "big") < heldout_percent / 100 * 2**64 else TRAIN


def _skipped(reason: str) -> dict:
    """Counts of one read-and-skipped document (also bumps the Beam metrics)."""
    beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"documents_skipped_{reason}").inc()
    return {"documents_read": 1, "documents_skipped": {reason: 1}}


def add_counts(total: dict, part: dict) -> dict:
    """Adds the (nested) counts of `part` into `total`, in place; returns total."""
    for key, value in part.items():
        if isinstance(value, dict):
            add_counts(total.setdefault(key, {}), value)
        else:
            total[key] = total.get(key, 0) + value
    return total


class SumCountsFn(beam.CombineFn):
    """Sums per-document count dicts into the manifest's counts."""

    def create_accumulator(self):
        split_counts = {"examples": 0, "tokens": 0, "documents": 0}
        return {"documents_read": 0, "documents_written": 0, "documents_skipped": {},
                "examples": 0, "tokens": 0,
                "splits": {TRAIN: dict(split_counts), HELDOUT: dict(split_counts)}}

    def add_input(self, accumulator, counts):
        return add_counts(accumulator, counts)

    def merge_accumulators(self, accumulators):
        accumulators = iter(accumulators)
        total = next(accumulators)
        for accumulator in accumulators:
            add_counts(total, accumulator)
        return total

    def extract_output(self, accumulator):
        return accumulator


def _open_raw(path: str):
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


class ReadPagesFn(beam.DoFn):
    """Dump path -> article Pages (main output) and counts of skipped pages or
    of an unreadable file (output `stats`)."""

    def process(self, path: str):
        read = beam.metrics.Metrics.counter(METRICS_NAMESPACE, "documents_read")
        try:
            with wikipedia.open_dump(path, _open_raw) as dump:
                for page in wikipedia.iter_pages(dump):
                    read.inc()
                    reason = wikipedia.skip_reason(page)
                    if reason:
                        yield beam.pvalue.TaggedOutput(_STATS, _skipped(reason))
                    else:
                        yield page
        except Exception as error:  # corrupt compression, malformed XML, I/O
            _log.error("skipping the rest of unreadable dump %s: %r", path, error)
            read.inc()
            yield beam.pvalue.TaggedOutput(_STATS, _skipped(wikipedia.UNREADABLE_FILE))


class PageToExamplesFn(beam.DoFn):
    """Article Page -> serialized tf.train.Examples (outputs `train` / `heldout`)
    and the document's counts (output `stats`)."""

    def __init__(self, vocab_path: str, lowercase: bool, max_seq_length: int,
                 heldout_percent: float, seed: int):
        self._vocab_path = vocab_path
        self._lowercase = lowercase
        self._max_seq_length = max_seq_length
        self._heldout_percent = heldout_percent
        self._seed = seed
        self._tokenizer = None

    def setup(self):
        self._tokenizer = tokenization.WordpieceTokenizer(self._vocab_path, self._lowercase)

    def _pack(self, page: wikipedia.Page) -> list[tuple[list[int], list[int]]] | str:
        """The page's unpadded examples, or the reason it yields none."""
        paragraphs = wikipedia.wikitext_to_paragraphs(page.wikitext)
        if not paragraphs:
            return wikipedia.EMPTY_AFTER_CLEANING
        lines = [s for paragraph in paragraphs for s in sentences.split_sentences(paragraph)]
        ids = self._tokenizer.tokenize_lines(lines)
        special = self._tokenizer.special_ids
        examples = packing.pack_document(ids, self._max_seq_length, special["cls"],
                                         special["sep"],
                                         packing.document_rng(self._seed, page.page_id))
        return examples or NO_TOKENS

    def process(self, page: wikipedia.Page):
        try:
            examples = self._pack(page)
            serialized = [] if isinstance(examples, str) else [
                packing.serialize_example(ids, segments, self._max_seq_length)
                for ids, segments in examples]
        except Exception:  # a bad page must never fail the job
            _log.exception("skipping page %r (id %s)", page.title, page.page_id)
            examples = wikipedia.PAGE_ERROR
        if isinstance(examples, str):
            yield beam.pvalue.TaggedOutput(_STATS, _skipped(examples))
            return
        split = split_of(page.page_id, self._heldout_percent)
        tokens = sum(len(ids) for ids, _ in examples)
        for name, value in (("documents_written", 1), ("examples", len(examples)),
                            ("tokens", tokens)):
            beam.metrics.Metrics.counter(METRICS_NAMESPACE, name).inc(value)
        for record in serialized:
            yield beam.pvalue.TaggedOutput(split, record)
        yield beam.pvalue.TaggedOutput(_STATS, {
            "documents_read": 1, "documents_written": 1,
            "examples": len(examples), "tokens": tokens,
            "splits": {split: {"examples": len(examples), "tokens": tokens, "documents": 1}}})


def _write_manifest(counts: dict, output_dir: str, vocab_path: str, static: dict,
                    written_files: list) -> dict:
    """Copies the vocab into output_dir and writes manifest.json (counts +
    static fields). `written_files` only orders this after both writes."""
    del written_files
    with FileSystems.open(vocab_path, compression_type=CompressionTypes.UNCOMPRESSED) as src:
        vocab_bytes = src.read()
    with FileSystems.create(FileSystems.join(output_dir, VOCAB_FILE)) as dst:
        dst.write(vocab_bytes)
    splits = {split: dict(counts["splits"][split], pattern=f"{split}-*")
              for split in (TRAIN, HELDOUT)}
    manifest = dict(counts, splits=splits, **static)
    with FileSystems.create(FileSystems.join(output_dir, MANIFEST)) as f:
        f.write(json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"))
    return manifest


def run(pipeline: beam.Pipeline, input_patterns: list[str], output_dir: str, vocab_path: str,
        max_seq_length: int = 128, lowercase: bool = True, num_shards: int = 8,
        heldout_percent: float = 1.0, seed: int = 12345) -> dict:
    """Builds and runs the job on `pipeline`; returns the written manifest.

    Train gets `num_shards` shards, heldout ceil(num_shards * heldout_percent
    / 100) (at least 1). Raises ValueError for a vocab without the special
    tokens or with [PAD] != 0, and for max_seq_length < 5.
    """
    if max_seq_length < packing.MIN_SHORT_TARGET:
        raise ValueError(f"max_seq_length must be >= {packing.MIN_SHORT_TARGET}")
    vocab = tokenization.load_vocab(vocab_path)
    special_ids = tokenization.special_token_ids(vocab)
    if special_ids["pad"] != 0:
        raise ValueError(f"[PAD] must be id 0 (padding is 0) but is {special_ids['pad']} "
                         f"in {vocab_path}")
    static = {"max_seq_length": max_seq_length, "vocab_size": len(vocab),
              "lowercase": lowercase, "vocab_file": VOCAB_FILE,
              "special_token_ids": special_ids, "seed": seed,
              "input_patterns": list(input_patterns)}
    shards = {TRAIN: num_shards,
              HELDOUT: max(1, math.ceil(num_shards * heldout_percent / 100))}

    pages = (pipeline
             | "InputPatterns" >> beam.Create(list(input_patterns))
             | "MatchFiles" >> fileio.MatchAll()
             | "Paths" >> beam.Map(lambda metadata: metadata.path)
             | "SpreadFiles" >> beam.Reshuffle()
             | "ReadPages" >> beam.ParDo(ReadPagesFn()).with_outputs(_STATS, main="pages"))
    examples = (pages.pages
                | "SpreadPages" >> beam.Reshuffle()
                | "PagesToExamples" >> beam.ParDo(PageToExamplesFn(
                    vocab_path, lowercase, max_seq_length, heldout_percent, seed)
                ).with_outputs(_STATS, TRAIN, HELDOUT))
    written = [
        examples[split] | f"Write_{split}" >> beam.io.WriteToTFRecord(
            FileSystems.join(output_dir, split), file_name_suffix=".tfrecord",
            num_shards=shards[split], shard_name_template="-SSSSS-of-NNNNN")
        for split in (TRAIN, HELDOUT)]
    all_written = written | "WrittenFiles" >> beam.Flatten()
    _ = ((pages[_STATS], examples[_STATS])
         | "AllCounts" >> beam.Flatten()
         | "SumCounts" >> beam.CombineGlobally(SumCountsFn())
         | "WriteManifest" >> beam.Map(_write_manifest, output_dir, vocab_path, static,
                                       beam.pvalue.AsList(all_written)))
    pipeline.run().wait_until_finish()
    with FileSystems.open(FileSystems.join(output_dir, MANIFEST)) as f:
        return json.loads(f.read())
