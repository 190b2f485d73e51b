"""Beam job library: corpora -> packed ELECTRA TFRecords (or a causal LM's token blocks),
manifest, dead letters.

Stages:
1. Match files, cut them into work units (`formats.plan_units`).
2. Fingerprint pass: every document of every unit -> (hash of its normalised
   text, (unit id, document key)); documents sharing a hash with a smaller
   key are duplicates, whose keys are grouped by unit and joined to it
   (CoGroupByKey), so a worker holds only the duplicate keys of the unit it
   works on, not those of the whole corpus.
3. Examples pass, one unit at a time: skip duplicates, clean to paragraphs,
   quality filter (web formats by default), split sentences, tokenize (in
   batches of documents), pack (never across documents), split whole
   documents into train/heldout by a stable hash of the document id, and
   write examples round-robin into per-unit temporary shard files and dead
   letters into a per-unit temporary file. With objective causal_lm a
   document's paragraphs are joined by newlines and tokenized whole, and each
   split's documents of the unit, each followed by the end-of-text token,
   are cut into contiguous blocks of max_seq_length + 1 tokens
   (pipelines.blocks); the unit's last partial block is dropped and counted
   (tokens_dropped). Each unit emits one element: its
   counts and the names of its temporary files.
4. Finalize: one combine sums the units' counts and gathers their file
   names; then each shard's temporary files are merged record by record into
   `train-SSSSS-of-NNNNN.tfrecord` / `heldout-...` (`mix_records`: a seeded
   merge that spreads every unit's records evenly through the shard, so any
   stretch of a shard holds the corpus's sources in proportion, as a global
   shuffle would, while a trainer reads files sequentially), the dead letters
   are concatenated into `dead_letter.jsonl`, and `manifest.json` and the vocab
   are written.

Only unit descriptors, fingerprints, counts and file names pass between
stages, never document text or examples, so memory stays bounded by one
unit's batch also on the DirectRunner (which holds stage outputs in memory).
Output bytes do not depend on the runner or the number of workers.

Portability: every transform has one output and no side input, and the
manifest comes from the pipeline's own data, never from Beam metrics, so the
job runs unchanged on runners with fewer features (Beam's DaskRunner has no
multi-output ParDo, no metrics, and evaluates side inputs apart from the
main graph).

The output directory belongs to one job: its manifest records the job (the
inputs with sizes and modification times, the vocabulary's fingerprint, every
setting that shapes the output). A rerun of the same job finds its output
finished; another job's output is refused unless the user says --overwrite,
which deletes exactly the files this job writes (shard names, manifest, dead
letters, vocabulary). Temporary files live in `_pretraining_data_temporary/`,
a name only this job uses, with the job's record: a rerun of the same job
removes what a killed run left there.

Accounting: every document read is written or skipped for one reason, and a
read that fails counts as one skipped item, so documents_read ==
documents_written + sum(documents_skipped.values()); the same counts are Beam
metrics in namespace `pretraining_data` on runners that report metrics.
"""
import dataclasses
import hashlib
import json
import logging
import heapq
import math
import os
import random
import struct
import sys
import unicodedata

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter

from core import files as core_files
from core import run_files, vocabulary
from pipelines import blocks, documents, formats, inputs, packing, quality, sentences

TRAIN, HELDOUT = "train", "heldout"
DEAD_LETTER = "dead_letter.jsonl"
TEMP_DIR = "_pretraining_data_temporary"
METRICS_NAMESPACE = "pretraining_data"
QUALITY_AUTO, QUALITY_ALL, QUALITY_NONE = "auto", "all", "none"
ELECTRA, CAUSAL_LM = run_files.ELECTRA_DATA, run_files.CAUSAL_LM_DATA  # what the examples are for
_DEAD = "dead_letter"  # kind of temporary file, beside the splits
_SHARD = "{split}-{shard}-of-{of}.tfrecord"  # shard and of: 5 digits
MIX_GROUP = 64  # temporary files one shard's merge reads at once (bounds its open files)
_BATCH_LINES = 4096  # sentences tokenized per TF call

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class JobConfig:
    """Everything the job does besides its inputs and output directory."""
    vocab_path: str  # WordPiece vocab.txt or SentencePiece .model
    max_seq_length: int = 128
    lowercase: bool = True
    num_shards: int = 8  # train shards; heldout gets ceil(num_shards * heldout_percent / 100)
    heldout_percent: float = 1.0
    seed: int = 12345
    input_format: str = "auto"  # or one of documents.FORMATS for every file
    max_document_bytes: int = 10_000_000
    split_bytes: int = 64 << 20  # work unit size within large splittable files
    quality_filter: quality.QualityFilter = quality.QualityFilter()
    quality_formats: str = QUALITY_AUTO  # auto: web formats only; all; none
    strict: bool = False  # bad input raises BadInputError instead of being skipped
    objective: str = ELECTRA  # or CAUSAL_LM: blocks of max_seq_length + 1 tokens

    def shards(self) -> dict[str, int]:
        return {TRAIN: self.num_shards,
                HELDOUT: max(1, math.ceil(self.num_shards * self.heldout_percent / 100))}

    def filters(self, fmt: str) -> bool:
        return (self.quality_formats == QUALITY_ALL
                or (self.quality_formats == QUALITY_AUTO and fmt in documents.WEB_FORMATS))


def split_of(document_id: str, heldout_percent: float) -> str:
    """TRAIN or HELDOUT for a whole document, from a stable hash of its id
    (seed-independent, so the heldout set stays fixed across data rebuilds)."""
    digest = hashlib.sha256(f"split\0{document_id}".encode("utf-8")).digest()
    return HELDOUT if int.from_bytes(digest[:8], "big") < heldout_percent / 100 * 2**64 else TRAIN


def fingerprint(text: str) -> bytes:
    """128-bit hash of NFC text with whitespace runs collapsed (exact dedup)."""
    normal = " ".join(unicodedata.normalize("NFC", text).split())
    return hashlib.sha256(normal.encode("utf-8", "surrogatepass")).digest()[:16]


def document_key(document: documents.Document) -> tuple[str, int, int]:
    """(path, stream, offset): unique per document in the job (ids need not
    be: two files may share a name) and ordered as the documents are read."""
    return document.path, document.stream, document.offset


def add_counts(total: dict, part: dict) -> dict:
    """Adds the (nested) counts of `part` into `total`, in place; returns total."""
    for key, value in part.items():
        if isinstance(value, dict):
            add_counts(total.setdefault(key, {}), value)
        else:
            total[key] = total.get(key, 0) + value
    return total


def _open_raw(path: str):
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def zero_counts() -> dict:
    """The counts of a job (or unit) that read nothing."""
    split_counts = {"examples": 0, "tokens": 0, "documents": 0, "tokens_dropped": 0}
    return {"documents_read": 0, "documents_written": 0, "documents_skipped": {},
            "examples": 0, "tokens": 0, "dead_letters": 0, "tokens_dropped": 0,
            "splits": {TRAIN: dict(split_counts), HELDOUT: dict(split_counts)},
            "shards": {TRAIN: {}, HELDOUT: {}}}


class SumUnitsFn(beam.CombineFn):
    """Units' (counts, temporary files) -> the job's (summed counts, all files)."""

    def create_accumulator(self):
        return zero_counts(), []

    def add_input(self, accumulator, unit_result):
        counts, files = unit_result
        add_counts(accumulator[0], counts)
        accumulator[1].extend(files)
        return accumulator

    def merge_accumulators(self, accumulators):
        accumulators = iter(accumulators)
        total = next(accumulators)
        for accumulator in accumulators:
            self.add_input(total, accumulator)
        return total

    def extract_output(self, accumulator):
        return accumulator


class PlanUnitsFn(beam.DoFn):
    """(matched file, size in bytes) -> its work units."""

    def __init__(self, config: JobConfig):
        self._config = config

    def process(self, path_and_size):
        path, size = path_and_size
        fmt = formats.detect_format(path, self._config.input_format)
        yield from formats.plan_units(path, fmt, size, self._config.split_bytes, _open_raw)


class FingerprintFn(beam.DoFn):
    """Unit -> (fingerprint, (unit id, document key)) of each document read."""

    def __init__(self, config: JobConfig):
        self._config = config

    def process(self, unit: formats.Unit):
        for item in formats.read_unit(unit, _open_raw, self._config.max_document_bytes):
            if isinstance(item, documents.Document):
                yield fingerprint(item.text), (unit.unit_id, document_key(item))


def duplicate_keys(fingerprint_and_keys):
    """(unit id, document key) of every document of one fingerprint but the
    first read."""
    _, keys = fingerprint_and_keys
    return sorted(keys, key=lambda unit_and_key: unit_and_key[1])[1:]


class _UnitFiles:
    """One unit's temporary files: its examples dealt round-robin into shard
    files, its dead letters (JSON lines) into one file."""

    def __init__(self, output_dir: str, unit: formats.Unit, shards: dict[str, int], open_writer):
        self._open_writer = open_writer  # path -> TFRecord writer
        self._unit_hash = hashlib.sha256(unit.unit_id.encode("utf-8")).hexdigest()[:20]
        self._dir = FileSystems.join(output_dir, TEMP_DIR)
        self._shards = shards
        start = int(self._unit_hash, 16)
        self._next = {split: start % n for split, n in shards.items()}
        self._writers = {}
        self.sort_key = (unit.path, unit.start)

    def _writer(self, kind: str, shard: int, name: str, open_writer):
        if (kind, shard) not in self._writers:
            path = FileSystems.join(self._dir, name)
            self._writers[kind, shard] = (path, open_writer(path))
        return self._writers[kind, shard][1]

    def write(self, split: str, record: bytes) -> int:
        """Writes one serialized example; returns its shard."""
        shard = self._next[split]
        self._next[split] = (shard + 1) % self._shards[split]
        self._writer(split, shard, f"{split}-{shard:05d}-{self._unit_hash}.tfrecord",
                     self._open_writer).write(record)
        return shard

    def dead_letter(self, line: str) -> None:
        """Appends one dead-letter JSON line."""
        self._writer(_DEAD, 0, f"{_DEAD}-{self._unit_hash}.jsonl",
                     FileSystems.create).write(line.encode("utf-8") + b"\n")

    def close(self) -> list[tuple[str, int, tuple[str, int], str]]:
        """(split or "dead_letter", shard, sort key, path) of every file written."""
        files = []
        for (kind, shard), (path, writer) in sorted(self._writers.items()):
            writer.close()
            files.append((kind, shard, self.sort_key, path))
        return files


class UnitToExamplesFn(beam.DoFn):
    """(unit id, {"unit": [unit], "duplicates": [document key]}) -> (the
    unit's counts, its temporary files as `_UnitFiles.close` lists them)."""

    def __init__(self, config: JobConfig, output_dir: str):
        self._config = config
        self._output_dir = output_dir
        self._tokenizer = self._records = None
        self._streams = {}  # causal LM: {split: blocks.BlockStream} of the unit being read

    def setup(self):
        # TensorFlow loads here, in the workers: the launching process never imports it.
        from pipelines import tf_records, tokenization
        self._records = tf_records
        self._tokenizer = tokenization.Tokenizer(self._config.vocab_path, self._config.lowercase)

    def _counter(self, name: str, value: int = 1):
        beam.metrics.Metrics.counter(METRICS_NAMESPACE, name).inc(value)

    def _skip(self, skip: documents.Skip, counts: dict, files: _UnitFiles):
        if skip.is_bad_input and self._config.strict:
            raise documents.BadInputError(skip)
        add_counts(counts, {"documents_read": 1, "documents_skipped": {skip.reason: 1}})
        self._counter("documents_read")
        self._counter(f"documents_skipped_{skip.reason}")
        if skip.is_bad_input:
            _log.warning("skipped %s at byte %d of %s: %s", skip.reason, skip.offset,
                         skip.path, skip.detail[:200])
            counts["dead_letters"] = counts.get("dead_letters", 0) + 1
            self._counter("dead_letters")
            files.dead_letter(skip.to_json())

    def _sentences(self, document: documents.Document) -> list[str] | str:
        """The document's sentences, or the reason it is skipped."""
        paragraphs = formats.paragraphs(document)
        if not paragraphs:
            return documents.EMPTY_AFTER_CLEANING
        if self._config.filters(document.format):
            reason = self._config.quality_filter.reason(paragraphs)
            if reason:
                return reason
        if self._config.objective == CAUSAL_LM:
            return ["\n".join(paragraphs)]
        return [s for p in paragraphs for s in sentences.split_sentences(p)]

    def _write_batch(self, batch, files: _UnitFiles, counts: dict):
        """Tokenizes, packs and writes a batch of (document, sentences)."""
        try:
            ids = self._tokenizer.tokenize_lines([s for _, lines in batch for s in lines])
        except Exception:  # find the document at fault one by one
            ids = None
        start = 0
        for document, lines in batch:
            try:
                doc_ids = (ids[start:start + len(lines)] if ids is not None
                           else self._tokenizer.tokenize_lines(lines))
                start += len(lines)
                self._write_document(document, doc_ids, files, counts)
            except documents.BadInputError:
                raise
            except Exception as error:  # one bad document must never fail the job
                self._skip(document.skip(documents.PAGE_ERROR, repr(error)), counts, files)

    def _records_of(self, document, sentence_ids, split) -> list[tuple[bytes, int]] | None:
        """(serialized example, its tokens) of the document (None: it has no tokens)."""
        config, special = self._config, self._tokenizer.special_ids
        if config.objective == CAUSAL_LM:
            if not sentence_ids[0]:
                return None
            return [(self._records.serialize_block(block), len(block))
                    for block in self._streams[split].add(sentence_ids[0])]
        examples = packing.pack_document(sentence_ids, config.max_seq_length, special["cls"], special["sep"],
                                         packing.document_rng(config.seed, document.doc_id))
        return [(self._records.serialize_example(input_ids, segment_ids, config.max_seq_length), len(input_ids))
                for input_ids, segment_ids in examples] or None

    def _write_document(self, document, sentence_ids, files, counts):
        split = split_of(document.doc_id, self._config.heldout_percent)
        examples = self._records_of(document, sentence_ids, split)
        if examples is None:
            self._skip(document.skip(documents.NO_TOKENS), counts, files)
            return
        shard_counts = {}
        for record, length in examples:
            shard = f"{files.write(split, record):05d}"
            add_counts(shard_counts, {shard: {"examples": 1, "tokens": length}})
        tokens = sum(length for _, length in examples)
        add_counts(counts, {
            "documents_read": 1, "documents_written": 1, "examples": len(examples),
            "tokens": tokens, "shards": {split: shard_counts},
            "splits": {split: {"examples": len(examples), "tokens": tokens, "documents": 1}}})
        for name, value in (("documents_read", 1), ("documents_written", 1),
                            ("examples", len(examples)), ("tokens", tokens),
                            (f"{split}_documents", 1), (f"{split}_examples", len(examples)),
                            (f"{split}_tokens", tokens)):
            self._counter(name, value)
        for shard, shard_count in shard_counts.items():
            self._counter(f"{split}_{shard}_examples", shard_count["examples"])
            self._counter(f"{split}_{shard}_tokens", shard_count["tokens"])

    def process(self, unit_and_duplicates):
        _, joined = unit_and_duplicates
        (unit,) = joined["unit"]
        duplicates = frozenset(joined["duplicates"])
        counts = zero_counts()
        files = _UnitFiles(self._output_dir, unit, self._config.shards(),
                           self._records.open_writer)
        if self._config.objective == CAUSAL_LM:
            self._streams = {split: blocks.BlockStream(self._config.max_seq_length + 1,
                                                       self._tokenizer.special_ids["eos"])
                             for split in (TRAIN, HELDOUT)}
        batch, batch_lines = [], 0
        for item in formats.read_unit(unit, _open_raw, self._config.max_document_bytes):
            if isinstance(item, documents.Skip):
                self._skip(item, counts, files)
                continue
            if document_key(item) in duplicates:
                self._skip(item.skip(documents.DUPLICATE), counts, files)
                continue
            try:
                lines = self._sentences(item)
            except Exception as error:  # one bad document must never fail the job
                lines = item.skip(documents.PAGE_ERROR, repr(error))
            if isinstance(lines, str):
                lines = item.skip(lines)
            if isinstance(lines, documents.Skip):
                self._skip(lines, counts, files)
                continue
            batch.append((item, lines))
            batch_lines += len(lines)
            if batch_lines >= _BATCH_LINES:
                self._write_batch(batch, files, counts)
                batch, batch_lines = [], 0
        self._write_batch(batch, files, counts)
        for split, stream in self._streams.items():
            add_counts(counts, {"tokens_dropped": stream.tail, "splits": {split: {"tokens_dropped": stream.tail}}})
            self._counter("tokens_dropped", stream.tail)
        print(f"      unit {unit.path} [{unit.start}, {unit.end}): "
              f"{counts['documents_written']}/{counts['documents_read']} documents written, "
              f"{counts['examples']} examples", file=sys.stderr, flush=True)
        yield counts, files.close()


def _concatenate(sources: list[str], destination: str) -> None:
    with FileSystems.create(destination) as out:
        for source in sources:
            with _open_raw(source) as f:
                for block in iter(lambda: f.read(1 << 22), b""):
                    out.write(block)


def _framed_records(f, path: str):
    """The TFRecord records of an open file, each as its framed bytes (length, its CRC, data, data
    CRC), copied verbatim; ValueError for a truncated file."""
    while header := f.read(12):
        if len(header) < 12:
            raise ValueError(f"{path}: truncated TFRecord header")
        (length,) = struct.unpack("<Q", header[:8])
        body = f.read(length + 4)
        if len(body) < length + 4:
            raise ValueError(f"{path}: truncated TFRecord of {length} bytes")
        yield header + body


def mix_records(sources: list[tuple[str, int]], destination: str, seed: str) -> None:
    """Writes the records of the TFRecord files `sources` [(path, size in bytes)] into one file,
    each source's records spread evenly through it: a record that starts at byte b of a source of
    s bytes takes the position key (b + u * its length) / s, u uniform in [0, 1) from
    random.Random(seed), and records are written in key order (a k-way merge; a source's records
    keep their order). Sources are merged in seeded random groups of MIX_GROUP, one after another,
    so at most MIX_GROUP files are open. The output depends only on the sources and the seed."""
    rng = random.Random(seed)
    order = list(sources)
    rng.shuffle(order)
    with FileSystems.create(destination) as out:
        for start in range(0, len(order), MIX_GROUP):
            _merge_group(order[start:start + MIX_GROUP], out, rng)


def _merge_group(group: list[tuple[str, int]], out, rng: random.Random) -> None:
    """`mix_records`' k-way merge of one group of sources into the open file `out`."""
    opened = [_open_raw(path) for path, _ in group]
    try:
        streams = [_framed_records(f, path) for f, (path, _) in zip(opened, group)]
        heap = []  # (position key, source index, framed record, bytes of the source before it)
        for index in range(len(group)):
            _push_next(heap, streams[index], index, 0, group[index][1], rng)
        while heap:
            _, index, record, offset = heapq.heappop(heap)
            out.write(record)
            _push_next(heap, streams[index], index, offset + len(record), group[index][1], rng)
    finally:
        for f in opened:
            f.close()


def _push_next(heap: list, stream, index: int, offset: int, size: int, rng: random.Random) -> None:
    """Pushes the next record of source `index` (read from `stream`, starting at byte `offset` of
    its `size`) with its position key; nothing when the source is exhausted."""
    record = next(stream, None)
    if record is not None:
        heapq.heappush(heap, ((offset + rng.random() * len(record)) / max(size, 1), index, record, offset))


def _finalize(counts_and_files: tuple[dict, list], output_dir: str, config: JobConfig,
              tokenizer: run_files.TokenizerSettings, job: dict) -> dict:
    """Mixes the units' records into shards (`mix_records`, seeded by the job's seed, split and
    shard), concatenates the dead letters, copies the vocab, writes manifest.json; returns the
    manifest's fields (run_files.DataManifest.to_dict)."""
    counts, files = counts_and_files
    files = sorted(files, key=lambda file: file[2])  # unit order

    def sources(kind, shard):
        return [path for k, n, _, path in files if (k, n) == (kind, shard)]

    _concatenate(sources(_DEAD, 0), FileSystems.join(output_dir, DEAD_LETTER))
    splits = {}
    for split, num_shards in config.shards().items():
        shards = []
        for shard in range(num_shards):
            name = _SHARD.format(split=split, shard=f"{shard:05d}", of=f"{num_shards:05d}")
            paths = sources(split, shard)
            sizes = [match.metadata_list[0].size_in_bytes for match in FileSystems.match(paths)] if paths else []
            mix_records(list(zip(paths, sizes)), FileSystems.join(output_dir, name), f"{config.seed}/{split}/{shard}")
            shard_counts = counts["shards"][split].get(f"{shard:05d}", {})
            shards.append(run_files.Shard(name, shard_counts.get("examples", 0), shard_counts.get("tokens", 0)))
        splits[split] = run_files.Split(**counts["splits"][split], pattern=f"{split}-*", shards=tuple(shards))
    files_layer = core_files.layer("beam")
    vocab = vocabulary.read(config.vocab_path, files_layer)
    files_layer.write(FileSystems.join(output_dir, run_files.VOCAB), vocabulary.vocab_text(vocab.pieces).encode("utf-8"))
    if vocab.kind == vocabulary.SENTENCEPIECE:
        _concatenate([config.vocab_path], FileSystems.join(output_dir, run_files.SENTENCEPIECE_MODEL))
    manifest = run_files.DataManifest(
        tokenizer, splits, job=job, objective=config.objective,
        **{k: v for k, v in counts.items() if k not in ("shards", "splits")})
    run_files.write_manifest(output_dir, manifest, files_layer)
    return manifest.to_dict()


def _static_fields(config: JobConfig, input_patterns: list[str]) -> tuple[run_files.TokenizerSettings, dict]:
    """(tokenizer settings, how the job runs): the manifest's fields known before the run; validates the vocab."""
    vocab = vocabulary.read(config.vocab_path, core_files.layer("beam"))
    if config.objective == CAUSAL_LM:
        if "eos" not in vocab.special_ids:
            raise ValueError(f"--objective={CAUSAL_LM} needs a byte-level BPE vocabulary with the end-of-text "
                             f"token {vocabulary.EOS}; {config.vocab_path} has none (learn one with "
                             "`python -m pipelines.build_vocab --model=bpe`)")
    elif "pad" not in vocab.special_ids:
        raise ValueError(f"{config.vocab_path} is a causal LM's vocabulary (it has {vocabulary.EOS}, not [PAD], "
                         f"[CLS], [SEP], [MASK]); use it with --objective={CAUSAL_LM}")
    elif vocab.special_ids["pad"] != 0:
        raise ValueError(f"[PAD] must be id 0 (padding is 0) but is "
                         f"{vocab.special_ids['pad']} in {config.vocab_path}")
    tokenizer = run_files.TokenizerSettings.of_vocabulary(vocab, config.lowercase, config.max_seq_length)
    job = {"seed": config.seed, "input_patterns": list(input_patterns), "format": config.input_format,
           "max_document_bytes": config.max_document_bytes, "dead_letter_file": DEAD_LETTER,
           "num_shards": config.num_shards, "heldout_percent": config.heldout_percent,
           "split_bytes": config.split_bytes, "strict": config.strict,
           "quality_filter": {"applies_to": config.quality_formats, **dataclasses.asdict(config.quality_filter)}}
    return tokenizer, job


def _owned_outputs(output_dir: str, config: JobConfig) -> list[str]:
    """The files and folders in output_dir that this job writes (shards, manifest, dead letters,
    vocabulary, temporary folder), except the job's own --vocab if it lives there."""
    digits = "[0-9]" * 5
    patterns = [_SHARD.format(split=split, shard=digits, of=digits) for split in (TRAIN, HELDOUT)]
    patterns += [run_files.MANIFEST, DEAD_LETTER, run_files.VOCAB, run_files.SENTENCEPIECE_MODEL]
    found = [m.path for p in patterns for m in FileSystems.match([FileSystems.join(output_dir, p)])[0].metadata_list]
    if FileSystems.exists(FileSystems.join(output_dir, TEMP_DIR)):
        found.append(FileSystems.join(output_dir, TEMP_DIR))
    return sorted(p for p in found if os.path.normpath(p) != os.path.normpath(config.vocab_path))


def claim_output_dir(output_dir: str, config: JobConfig, tokenizer: run_files.TokenizerSettings, job: dict,
                     overwrite: bool) -> run_files.DataManifest | None:
    """Makes output_dir this job's; returns its manifest if it already holds this job's finished output.

    The manifest records the job (tokenizer settings, inputs with sizes and modification times,
    every setting that shapes the output). Another job's output, or files this job would write
    without a manifest (unless they are what a killed run of this same job left), is refused with
    one line naming what differs; `overwrite` deletes exactly those files and says so.
    """
    files_layer = core_files.layer("beam")
    core_files.check_directory(output_dir, "--output_dir", files_layer)
    record = json.loads(json.dumps(dict(job, tokenizer=tokenizer.to_dict(), objective=config.objective)))
    marker = FileSystems.join(output_dir, TEMP_DIR, run_files.JOB)
    if FileSystems.exists(FileSystems.join(output_dir, run_files.MANIFEST)):
        try:
            done = run_files.read_manifest(output_dir, files_layer)
            recorded = dict(done.job, tokenizer=done.tokenizer.to_dict(), objective=done.objective)
        except run_files.RunFilesError as err:
            done, recorded = None, {"manifest": str(err)}
        if done is not None and recorded == record:
            print(f"      {output_dir} holds this job's finished output (same inputs and settings): nothing to do",
                  flush=True)
            return done
        reason = f"the output of another job: {run_files.differences(recorded, record)}"
    elif FileSystems.exists(marker) and run_files.read_json(marker, files_layer) == record:
        reason = None  # what a killed run of this job left
    else:
        present = _owned_outputs(output_dir, config)
        reason = (f"files this job writes ({', '.join(p.rsplit('/', 1)[-1] for p in present[:3])}, ...) from "
                  "another job") if present else None
    if reason and not overwrite:
        raise run_files.RunFilesError(f"--output_dir {output_dir} holds {reason}; use a new directory, or "
                                      f"{run_files.OVERWRITE_FLAG} to replace it")
    stale = _owned_outputs(output_dir, config)
    if reason:
        print(f"{run_files.OVERWRITE_FLAG}: replacing {len(stale)} file(s) in {output_dir}: "
              f"{', '.join(p.rsplit('/', 1)[-1] for p in stale)}", flush=True)
    if stale:
        FileSystems.delete(stale)
    files_layer.makedirs(FileSystems.join(output_dir, TEMP_DIR))
    run_files.write_json(marker, record, files_layer)
    return None


def metric_counts(result) -> dict[str, int] | None:
    """Committed (else attempted) Beam counters of the job, by name; None on
    a runner that reports no metrics (the manifest never needs them)."""
    try:
        counters = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    except NotImplementedError:
        return None
    return {c.key.metric.name: (c.committed if c.committed is not None else c.attempted)
            for c in counters["counters"]}


def manifest_as_metrics(manifest: run_files.DataManifest) -> dict[str, int]:
    """The manifest's counts under the names of the job's Beam counters."""
    names = {"documents_read": manifest.documents_read, "documents_written": manifest.documents_written,
             "examples": manifest.examples, "tokens": manifest.tokens, "dead_letters": manifest.dead_letters,
             "tokens_dropped": manifest.tokens_dropped}
    names.update({f"documents_skipped_{reason}": n for reason, n in manifest.documents_skipped.items()})
    for name, split in manifest.splits.items():
        names.update({f"{name}_{key}": getattr(split, key) for key in ("documents", "examples", "tokens")})
        for index, shard in enumerate(split.shards):
            names.update({f"{name}_{index:05d}_{key}": getattr(shard, key) for key in ("examples", "tokens")})
    return {name: value for name, value in names.items() if value}


def run(pipeline: beam.Pipeline, input_patterns: list[str], output_dir: str,
        config: JobConfig, overwrite: bool = False) -> tuple[run_files.DataManifest, dict[str, int] | None]:
    """Builds and runs the job on `pipeline`; returns (the written manifest,
    the Beam counters or None where the runner reports none). An output_dir
    that holds this job's finished output is left as it is: (its manifest,
    None); one of another job is refused unless `overwrite`. Raises
    ValueError for a vocab whose [PAD] is not id 0, without the special
    tokens, and for max_seq_length < 5; FileNotFoundError for a pattern that
    matches no file."""
    if config.max_seq_length < packing.MIN_SHORT_TARGET:
        raise ValueError(f"max_seq_length must be >= {packing.MIN_SHORT_TARGET}")
    matched = inputs.match_files(input_patterns)  # so there is at least one unit to combine
    tokenizer, job = _static_fields(config, input_patterns)
    job["inputs"] = {path: [size, round(mtime, 3)] for path, (size, mtime) in matched.items()}
    finished = claim_output_dir(output_dir, config, tokenizer, job, overwrite)
    if finished is not None:
        return finished, None

    units = (pipeline
             | "InputPatterns" >> beam.Create(list(input_patterns))
             | "MatchFiles" >> fileio.MatchAll()
             | "OnlyFiles" >> beam.Filter(lambda metadata: inputs.is_input_file(metadata.path))
             | "PathAndSize" >> beam.Map(lambda metadata: (metadata.path, metadata.size_in_bytes))
             | "OncePerFile" >> beam.Distinct()  # patterns may overlap
             | "PlanUnits" >> beam.ParDo(PlanUnitsFn(config))
             | "SpreadUnits" >> beam.Reshuffle())
    duplicates = (units
                  | "Fingerprint" >> beam.ParDo(FingerprintFn(config))
                  | "GroupFingerprints" >> beam.GroupByKey()
                  | "DuplicateKeys" >> beam.FlatMap(duplicate_keys))
    keyed_units = units | "KeyUnits" >> beam.Map(lambda unit: (unit.unit_id, unit))
    _ = ({"unit": keyed_units, "duplicates": duplicates}
         | "JoinDuplicatesToUnits" >> beam.CoGroupByKey()
         | "UnitsToExamples" >> beam.ParDo(UnitToExamplesFn(config, output_dir))
         # One key, no default: no side input (the default's would be one).
         | "SumUnits" >> beam.CombineGlobally(SumUnitsFn()).without_defaults()
         | "Finalize" >> beam.Map(_finalize, output_dir, config, tokenizer, job))
    result = pipeline.run()
    result.wait_until_finish()
    # Here, not in Finalize: a Finalize run again (its Dask worker died) reads the units' files.
    temp_dir = FileSystems.join(output_dir, TEMP_DIR)
    if FileSystems.exists(temp_dir):
        FileSystems.delete([temp_dir])
    return run_files.read_manifest(output_dir, core_files.layer("beam")), metric_counts(result)
