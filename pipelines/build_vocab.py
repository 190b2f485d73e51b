"""Learns a BERT WordPiece vocab or a SentencePiece model from a sample of
the same sources as the pre-training data.

    python -m pipelines.build_vocab --input=GLOB --output=vocab.txt|spm.model \
        --vocab_size=N [--model=wordpiece|sentencepiece] [--format=auto] \
        [--lowercase|--no_lowercase] [--max_documents=N] [--heldout_percent=1.0]

Documents go through the same readers, cleaning, quality filter and sentence
splitter as the pre-training data. Documents that `build_pretraining_data`
puts in its held-out split (the same id hash and --heldout_percent) are left
out, so held-out evaluation meets no token that training never saw. The reserved tokens come first, so [PAD]
is id 0, then [UNK], [CLS], [SEP], [MASK] (ids 0-4 in both kinds).
"""
import argparse
import collections
import logging
import os
import sys
import time
from typing import Iterator

import sentencepiece
import tensorflow as tf
import tqdm
from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bert_vocab
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

from core import cli, vocabulary
from pipelines import documents, formats, inputs, pretraining_data, sentences, tokenization

HELDOUT_REASON = "heldout_split"
_log = logging.getLogger(__name__)


def _open(path: str):
    return tf.io.gfile.GFile(path, "rb")


def iter_sentences(paths: list[str], input_format: str, max_documents: int | None,
                   skipped: collections.Counter, heldout_percent: float = 0.0) -> Iterator[str]:
    """Sentences of the training-split documents in `paths`, in order, up to
    max_documents documents; held-out documents (pretraining_data.split_of) and
    what cannot be used are counted in `skipped` by reason."""
    config = pretraining_data.JobConfig(vocab_path="", input_format=input_format)
    progress = tqdm.tqdm(desc="documents read", unit="doc", file=sys.stderr)
    for path in paths:
        fmt = formats.detect_format(path, input_format)
        size = tf.io.gfile.stat(path).length
        unit = formats.Unit(path, fmt, 0, size, size)
        for item in formats.read_unit(unit, _open, config.max_document_bytes):
            if max_documents is not None and progress.n >= max_documents:
                progress.close()
                return
            if isinstance(item, documents.Skip):
                skipped[item.reason] += 1
                continue
            if pretraining_data.split_of(item.doc_id, heldout_percent) == pretraining_data.HELDOUT:
                skipped[HELDOUT_REASON] += 1
                continue
            try:
                paragraphs = formats.paragraphs(item)
                reason = None if paragraphs else documents.EMPTY_AFTER_CLEANING
                if not reason and config.filters(fmt):
                    reason = config.quality_filter.reason(paragraphs)
            except Exception:  # one bad document must not stop the run
                _log.exception("skipping document %s of %s", item.doc_id, path)
                reason = documents.PAGE_ERROR
            if reason:
                skipped[reason] += 1
                continue
            progress.update()
            for paragraph in paragraphs:
                yield from sentences.split_sentences(paragraph)
    progress.close()


def search_bracket(word_counts: collections.Counter, vocab_size: int) -> dict[str, int]:
    """Frequency-threshold range for the learner's binary search (learn_params).

    A word counted at least t times always becomes a token at threshold t, so
    the threshold must exceed the count of the vocab_size-th most frequent word
    (lower bound). Whole words make up most of a learned vocab (~3/4 on
    Wikipedia), so at the count of the (vocab_size/4)-th word the vocab is
    about a third of vocab_size (upper bound). This range takes ~5 learner
    passes on the default corpus, the library's [10, max count] ~14.
    """
    counts = sorted(word_counts.values(), reverse=True)
    lower = counts[vocab_size - 1] + 1 if len(counts) >= vocab_size else 1
    quarter = max(1, vocab_size // 4)
    upper = counts[quarter - 1] if len(counts) >= quarter else 1
    return {"lower_thresh": lower, "upper_thresh": max(upper, lower)}


def learn_vocab(lines: list[str], vocab_size: int, lowercase: bool) -> list[str]:
    """WordPiece vocab (<= vocab_size entries, reserved tokens first) learned
    from non-empty text lines with BERT's pre-tokenization."""
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(lines, tf.string)).batch(1024)
    tokenizer_params = {"lower_case": lowercase}
    # Counted as bert_vocab_from_dataset counts them, to bound its search.
    word_counts = learner.count_words(dataset.map(BasicTokenizer(**tokenizer_params).tokenize))
    bracket = search_bracket(word_counts, vocab_size)
    print(f"{len(word_counts)} distinct words; threshold search in "
          f"[{bracket['lower_thresh']}, {bracket['upper_thresh']}]", flush=True)

    def learn(learn_params):
        return bert_vocab.bert_vocab_from_dataset(
            dataset, vocab_size=vocab_size, reserved_tokens=list(vocabulary.RESERVED_TOKENS),
            bert_tokenizer_params=tokenizer_params, learn_params=learn_params)

    vocab = learn(bracket)
    if len(vocab) > vocab_size:  # upper bound too low for this corpus: library's range
        vocab = learn({"lower_thresh": bracket["lower_thresh"]})
    return vocab


def learn_sentencepiece(lines: list[str], vocab_size: int, lowercase: bool) -> bytes:
    """A serialized unigram SentencePiece model with [PAD]=0, [UNK]=1 and
    control symbols [CLS]=2, [SEP]=3, [MASK]=4 (never produced from text)."""
    writer = _BytesWriter()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(tokenization.lower_case(lines) if lowercase else lines),
        model_writer=writer, vocab_size=vocab_size, model_type="unigram",
        pad_id=0, pad_piece=vocabulary.PAD, unk_id=1, unk_piece=vocabulary.UNK,
        bos_id=-1, eos_id=-1, control_symbols=[vocabulary.CLS, vocabulary.SEP,
                                               vocabulary.MASK],
        character_coverage=0.9995, input_sentence_size=2_000_000, shuffle_input_sentence=True,
        num_threads=os.cpu_count() or 1, minloglevel=2)
    return writer.data


class _BytesWriter:
    """model_writer target of SentencePieceTrainer."""

    data = b""

    def write(self, data: bytes) -> None:
        self.data += data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", action="append", required=True,
                        help="file glob; repeatable or comma separated")
    parser.add_argument("--output", required=True,
                        help="vocab.txt (wordpiece) or NAME.model (sentencepiece) to write")
    parser.add_argument("--vocab_size", type=int, default=30522)
    parser.add_argument("--model", default=vocabulary.WORDPIECE,
                        choices=(vocabulary.WORDPIECE, vocabulary.SENTENCEPIECE))
    parser.add_argument("--format", default="auto", choices=("auto",) + documents.FORMATS)
    parser.add_argument("--lowercase", dest="lowercase", action="store_true", default=True)
    parser.add_argument("--no_lowercase", dest="lowercase", action="store_false")
    parser.add_argument("--max_documents", type=int, default=None)
    parser.add_argument("--heldout_percent", type=float, default=1.0,
                        help="leave out the documents build_pretraining_data puts in its held-out "
                             "split with this --heldout_percent (use the same value there)")
    args = parser.parse_args(argv)
    if args.vocab_size <= len(vocabulary.RESERVED_TOKENS):
        parser.error(f"--vocab_size must exceed the {len(vocabulary.RESERVED_TOKENS)} "
                     "reserved tokens")
    if not 0 <= args.heldout_percent < 100:
        parser.error(f"--heldout_percent must be in [0, 100), got {args.heldout_percent}")
    if (args.model == vocabulary.SENTENCEPIECE) != args.output.endswith(".model"):
        parser.error("--output must end with .model exactly when --model=sentencepiece")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    try:
        paths = inputs.match_patterns(inputs.split_patterns(args.input))
        for path in paths:
            formats.detect_format(path, args.format)
    except (FileNotFoundError, ValueError) as error:
        raise cli.UserError(str(error)) from None
    print(f"reading {len(paths)} file(s); learning a {args.vocab_size}-token {args.model} "
          f"vocab (lowercase={args.lowercase})", flush=True)
    start = time.time()
    skipped = collections.Counter()

    lines = list(iter_sentences(paths, args.format, args.max_documents, skipped,
                                args.heldout_percent))
    if not lines:
        raise cli.UserError(f"no usable text in {paths} (skipped: {dict(skipped)})")
    print(f"read {len(lines)} sentences in {time.time() - start:.1f}s (skipped: "
          f"{dict(skipped)}); learning the {args.model} vocab...", flush=True)
    if os.path.dirname(args.output):
        tf.io.gfile.makedirs(os.path.dirname(args.output))
    if args.model == vocabulary.SENTENCEPIECE:
        with tf.io.gfile.GFile(args.output, "wb") as f:
            f.write(learn_sentencepiece(lines, args.vocab_size, args.lowercase))
        size = len(vocabulary.read(args.output, lambda path: tf.io.gfile.GFile(path, "rb")).pieces)
    else:
        vocab = learn_vocab(lines, args.vocab_size, args.lowercase)
        with tf.io.gfile.GFile(args.output, "w") as f:
            f.write("".join(token + "\n" for token in vocab))
        size = len(vocab)
    print(f"wrote {size} tokens to {args.output} in {time.time() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
