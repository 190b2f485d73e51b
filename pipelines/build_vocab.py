"""Learns a BERT WordPiece vocab, a SentencePiece model or a causal LM's byte-level
BPE from the same sources as the pre-training data.

    python -m pipelines.build_vocab --input=GLOB --output=vocab.txt|spm.model|bpe.model \
        --vocab_size=N [--model=wordpiece|sentencepiece|bpe] [--format=auto] \
        [--lowercase|--no_lowercase] [--max_documents=N] [--heldout_percent=1.0] \
        [--workers=N]

Documents go through the same readers, cleaning and quality filter as the
pre-training data. Documents that `build_pretraining_data` puts in its
held-out split (the same id hash and --heldout_percent) are left out, so
held-out evaluation meets no token that training never saw. The reserved
tokens come first, so [PAD] is id 0, then [UNK], [CLS], [SEP], [MASK] (ids 0-4
in both kinds).

WordPiece: the words of the documents are counted (memory grows with the
number of distinct words, not with the corpus) by --workers processes, one
unit (a file, or SPLIT_BYTES of a large splittable one) at a time, and
`wordpiece_learner` learns the vocab from the counts; the counts, hence the
vocab, do not depend on --workers. SentencePiece: the sentences stream into
its trainer, which samples up to 2M of them. BPE (for causal LMs, GPT-2's
kind): a SentencePiece BPE model with byte fallback, so every text maps to
known pieces (a character it lacks becomes its UTF-8 bytes), with no
normalisation and case kept (--lowercase is off unless given); id 0 is <unk>
(never produced), id 1 the control token <|endoftext|> that separates
documents, then the 256 byte pieces and the merges.
"""
import collections
import contextlib
import dataclasses
import io
import itertools
import logging
import multiprocessing
import multiprocessing.pool
import os
import sys
import time
from typing import Callable, Iterable, Iterator

import sentencepiece
import tqdm
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from core import cli, vocabulary
from core import files as core_files
from pipelines import documents, formats, inputs, pretraining_data, sentences, wordpiece_learner

HELDOUT_REASON = "heldout_split"
SPLIT_BYTES = 32 << 20  # work unit size within large splittable files
_log = logging.getLogger(__name__)


def _open_raw(path: str):
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


@dataclasses.dataclass(frozen=True)
class Reading:
    """Which documents of a unit are read: at most `limit` training documents
    (None: all), leaving out the held-out split of `heldout_percent`."""
    heldout_percent: float
    limit: int | None = None
    config: pretraining_data.JobConfig = pretraining_data.JobConfig(vocab_path="")


def plan_units(sizes: dict[str, int], input_format: str) -> list[formats.Unit]:
    """The files ({path: bytes}) cut into units of about SPLIT_BYTES where their
    format allows, in order."""
    return [unit for path, size in sizes.items()
            for unit in formats.plan_units(path, formats.detect_format(path, input_format), size,
                                           SPLIT_BYTES, _open_raw)]


def training_paragraphs(unit: formats.Unit, reading: Reading, skipped: collections.Counter
                        ) -> Iterator[list[str]]:
    """The paragraphs of each training document of the unit, in order; held-out
    documents (pretraining_data.split_of) and what cannot be used are counted
    in `skipped` by reason."""
    config, read = reading.config, 0
    for item in formats.read_unit(unit, _open_raw, config.max_document_bytes):
        if reading.limit is not None and read >= reading.limit:
            return
        if isinstance(item, documents.Skip):
            skipped[item.reason] += 1
            continue
        split = pretraining_data.split_of(item.doc_id, reading.heldout_percent)
        if split == pretraining_data.HELDOUT:
            skipped[HELDOUT_REASON] += 1
            continue
        try:
            paragraphs = formats.paragraphs(item)
            reason = None if paragraphs else documents.EMPTY_AFTER_CLEANING
            if not reason and config.filters(unit.format):
                reason = config.quality_filter.reason(paragraphs)
        except Exception:  # one bad document must not stop the run
            _log.exception("skipping document %s of %s", item.doc_id, unit.path)
            reason = documents.PAGE_ERROR
        if reason:
            skipped[reason] += 1
            continue
        read += 1
        yield paragraphs


def count_unit(unit: formats.Unit, reading: Reading, lowercase: bool,
               progress: tqdm.tqdm | None = None
               ) -> tuple[collections.Counter, int, collections.Counter]:
    """(piece -> count (wordpiece_learner.count_pieces), documents read,
    skipped documents by reason) of the unit's training documents."""
    skipped, read = collections.Counter(), 0

    def texts():
        nonlocal read
        for paragraphs in training_paragraphs(unit, reading, skipped):
            yield " ".join(paragraphs)
            read += 1
            if progress is not None:
                progress.update()

    return wordpiece_learner.count_pieces(texts(), lowercase), read, skipped


def _in_order(pool: multiprocessing.pool.Pool, function: Callable, tasks: list[tuple],
              window: int) -> Iterator:
    """function(*task) for each task, run by the pool, in order; at most
    `window` tasks submitted and not yet consumed (bounded memory)."""
    pending = collections.deque()
    for task in tasks:
        pending.append(pool.apply_async(function, task))
        if len(pending) >= window:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def count_words(units: list[formats.Unit], reading: Reading, lowercase: bool, workers: int,
                skipped: collections.Counter) -> collections.Counter:
    """word -> count over the units' training documents (the first
    reading.limit documents if set, in unit order); skips added to `skipped`."""
    counter, read, limit = wordpiece_learner.WordCounter(lowercase), 0, reading.limit
    progress = tqdm.tqdm(desc="documents read", unit="doc", file=sys.stderr)
    parallel = workers > 1 and len(units) > 1
    with contextlib.ExitStack() as stack:
        results = itertools.repeat(None)  # each unit counted here
        if parallel:
            pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(
                min(workers, len(units))))
            results = _in_order(pool, count_unit, [(unit, reading, lowercase) for unit in units],
                                2 * workers)
        for unit, result in zip(units, results):
            remaining = None if limit is None else limit - read
            if result is None or (remaining is not None and remaining < limit
                                  and result[1] >= remaining):
                # Here, or again: a worker read up to `limit` documents, of which only
                # the first `remaining` are within it.
                result = count_unit(unit, dataclasses.replace(reading, limit=remaining), lowercase,
                                    None if parallel else progress)
            pieces, unit_read, unit_skipped = result
            counter.add_pieces(pieces)
            skipped.update(unit_skipped)
            read += unit_read
            if parallel:
                progress.update(unit_read)
            if limit is not None and read >= limit:
                break
    progress.close()
    return counter.counts()


def iter_sentences(units: list[formats.Unit], reading: Reading, skipped: collections.Counter
                   ) -> Iterator[str]:
    """Sentences of the units' training documents, in order, up to reading.limit documents."""
    progress = tqdm.tqdm(desc="documents read", unit="doc", file=sys.stderr)
    for unit in units:
        limit = None if reading.limit is None else reading.limit - progress.n
        if limit is not None and limit <= 0:
            break
        for paragraphs in training_paragraphs(unit, dataclasses.replace(reading, limit=limit),
                                              skipped):
            progress.update()
            for paragraph in paragraphs:
                yield from sentences.split_sentences(paragraph)
    progress.close()


def _lowercased(lines: Iterable[str], batch: int = 1024) -> Iterator[str]:
    # TensorFlow's lower-casing, the one SentencePieceTextTokenizer applies in the graph;
    # imported here so that the WordPiece path and its worker processes never load TensorFlow.
    from pipelines import tokenization
    iterator = iter(lines)
    while chunk := list(itertools.islice(iterator, batch)):
        yield from tokenization.lower_case(chunk)


def learn_sentencepiece(lines: Iterable[str], vocab_size: int, lowercase: bool) -> bytes:
    """A serialized unigram SentencePiece model of non-empty text lines, with
    [PAD]=0, [UNK]=1 and control symbols [CLS]=2, [SEP]=3, [MASK]=4 (never
    produced from text)."""
    writer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(_lowercased(lines) if lowercase else lines),
        model_writer=writer, vocab_size=vocab_size, model_type="unigram",
        pad_id=0, pad_piece=vocabulary.PAD, unk_id=1, unk_piece=vocabulary.UNK,
        bos_id=-1, eos_id=-1, control_symbols=[vocabulary.CLS, vocabulary.SEP,
                                               vocabulary.MASK],
        character_coverage=0.9995, input_sentence_size=2_000_000, shuffle_input_sentence=True,
        num_threads=os.cpu_count() or 1, minloglevel=2)
    return writer.getvalue()


BPE = "bpe"


def learn_bpe(lines: Iterable[str], vocab_size: int, lowercase: bool) -> bytes:
    """A serialized byte-level BPE SentencePiece model of non-empty text lines (see the module doc)."""
    writer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(_lowercased(lines) if lowercase else lines),
        model_writer=writer, vocab_size=vocab_size, model_type="bpe", byte_fallback=True,
        unk_id=0, unk_piece="<unk>", bos_id=-1, eos_id=-1, pad_id=-1, control_symbols=[vocabulary.EOS],
        normalization_rule_name="identity", add_dummy_prefix=False, remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True, split_digits=True, character_coverage=0.9995,
        input_sentence_size=2_000_000, shuffle_input_sentence=True, num_threads=os.cpu_count() or 1,
        minloglevel=2)
    return writer.getvalue()


def write_output(path: str, data: bytes, overwrite: bool, files) -> None:
    """Writes the learned vocabulary to `path`; an existing file is left as it is if it holds the
    same bytes, and replaced only with `overwrite`."""
    if files.exists(path):
        if files.read(path) == data:
            print(f"{path} already holds this vocabulary: left as it is")
            return
        if not overwrite:
            raise cli.UserError(f"--output {path} exists and holds another vocabulary; give another --output, "
                                "or --overwrite to replace it")
        print(f"--overwrite: replacing {path}")
    files.write(path, data)


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", action="append", required=True,
                        help="file glob; repeatable or comma separated")
    parser.add_argument("--output", required=True,
                        help="vocab.txt (wordpiece) or NAME.model (sentencepiece) to write")
    parser.add_argument("--vocab_size", type=int, default=30522)
    parser.add_argument("--model", default=vocabulary.WORDPIECE,
                        choices=(vocabulary.WORDPIECE, vocabulary.SENTENCEPIECE, BPE))
    parser.add_argument("--format", default="auto", choices=("auto",) + documents.FORMATS)
    parser.add_argument("--lowercase", dest="lowercase", action="store_true", default=None,
                        help="lower-case the text (default: on, except for --model=bpe)")
    parser.add_argument("--no_lowercase", dest="lowercase", action="store_false")
    parser.add_argument("--max_documents", type=int, default=None)
    parser.add_argument("--heldout_percent", type=float, default=1.0,
                        help="leave out the documents build_pretraining_data puts in its held-out "
                             "split with this --heldout_percent (use the same value there)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="processes counting words (wordpiece; default: one per CPU)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --output if it holds another vocabulary (by default it is refused; "
                             "one that holds the same vocabulary is left as it is)")
    args = parser.parse_args(argv)
    for name in ("workers", "max_documents"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be positive, got {getattr(args, name)}")
    if os.path.isdir(args.output):
        parser.error(f"--output {args.output} is a directory; give the vocabulary file to write")
    if args.vocab_size <= len(vocabulary.RESERVED_TOKENS):
        parser.error(f"--vocab_size must exceed the {len(vocabulary.RESERVED_TOKENS)} "
                     "reserved tokens")
    if not 0 <= args.heldout_percent < 100:
        parser.error(f"--heldout_percent must be in [0, 100), got {args.heldout_percent}")
    if (args.model != vocabulary.WORDPIECE) != args.output.endswith(".model"):
        parser.error("--output must end with .model exactly when --model=sentencepiece or bpe")
    if args.lowercase is None:
        args.lowercase = args.model != BPE
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    try:
        sizes = inputs.match_patterns(inputs.split_patterns(args.input))
        paths = list(sizes)
        for path in paths:
            formats.detect_format(path, args.format)
    except (FileNotFoundError, ValueError) as error:
        raise cli.UserError(str(error)) from None
    print(f"reading {len(paths)} file(s); learning a {args.vocab_size}-token {args.model} "
          f"vocab (lowercase={args.lowercase})", flush=True)
    start = time.time()
    skipped = collections.Counter()
    units = plan_units(sizes, args.format)
    reading = Reading(args.heldout_percent, args.max_documents)
    files = core_files.layer("beam")
    if os.path.dirname(args.output):
        files.makedirs(os.path.dirname(args.output))
    if args.model != vocabulary.WORDPIECE:
        lines = iter_sentences(units, reading, skipped)
        first = next(lines, None)
        if first is None:
            raise cli.UserError(f"no usable text in {paths} (skipped: {dict(skipped)})")
        learn = learn_bpe if args.model == BPE else learn_sentencepiece
        write_output(args.output, learn(itertools.chain([first], lines), args.vocab_size, args.lowercase),
                     args.overwrite, files)
        print(f"read the sentences in {time.time() - start:.1f}s (skipped: {dict(skipped)})")
        size = len(vocabulary.read(args.output, files).pieces)
    else:
        counts = count_words(units, reading, args.lowercase, args.workers, skipped)
        if not counts:
            raise cli.UserError(f"no usable text in {paths} (skipped: {dict(skipped)})")
        print(f"counted {sum(counts.values())} words ({len(counts)} distinct) in "
              f"{time.time() - start:.1f}s (skipped: {dict(skipped)}); learning the vocab...",
              flush=True)
        vocab = wordpiece_learner.learn_vocab(counts, args.vocab_size)
        write_output(args.output, vocabulary.vocab_text(vocab).encode("utf-8"), args.overwrite, files)
        size = len(vocab)
    print(f"done: {size} tokens in {args.output} after {time.time() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
