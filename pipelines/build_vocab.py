"""Learns a BERT WordPiece vocab from Wikipedia XML dumps.

    python -m pipelines.build_vocab --input=GLOB --output=PATH --vocab_size=N \
        [--lowercase|--no_lowercase] [--max_documents=N]

Documents go through the same reader, cleaner and sentence splitter as the
pre-training data; the reserved tokens come first, so [PAD] is id 0.
"""
import argparse
import collections
import logging
import os
import sys
import time
from typing import Iterator

import tensorflow as tf
import tqdm
from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bert_vocab
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

from pipelines import inputs, sentences, tokenization, wikipedia

_log = logging.getLogger(__name__)


def iter_sentences(paths: list[str], max_documents: int | None,
                   skipped: collections.Counter) -> Iterator[str]:
    """Sentences of the articles in `paths`, in order, up to max_documents
    articles; pages and files that cannot be used are counted in `skipped`."""
    progress = tqdm.tqdm(desc="documents read", unit="doc", file=sys.stderr)
    for path in paths:
        try:
            with wikipedia.open_dump(path, lambda p: tf.io.gfile.GFile(p, "rb")) as dump:
                for page in wikipedia.iter_pages(dump):
                    if max_documents is not None and progress.n >= max_documents:
                        progress.close()
                        return
                    reason = wikipedia.skip_reason(page)
                    try:
                        paragraphs = [] if reason else wikipedia.wikitext_to_paragraphs(
                            page.wikitext)
                    except Exception:  # one bad page must not stop the run
                        _log.exception("skipping page %r", page.title)
                        reason = wikipedia.PAGE_ERROR
                    if not reason and not paragraphs:
                        reason = wikipedia.EMPTY_AFTER_CLEANING
                    if reason:
                        skipped[reason] += 1
                        continue
                    progress.update()
                    for paragraph in paragraphs:
                        yield from sentences.split_sentences(paragraph)
        except Exception as error:  # corrupt compression, malformed XML, I/O
            _log.error("skipping the rest of unreadable dump %s: %r", path, error)
            skipped[wikipedia.UNREADABLE_FILE] += 1
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
            dataset, vocab_size=vocab_size, reserved_tokens=list(tokenization.RESERVED_TOKENS),
            bert_tokenizer_params=tokenizer_params, learn_params=learn_params)

    vocab = learn(bracket)
    if len(vocab) > vocab_size:  # upper bound too low for this corpus: library's range
        vocab = learn({"lower_thresh": bracket["lower_thresh"]})
    return vocab


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", action="append", required=True,
                        help="dump glob (.xml or .xml.bz2); repeatable or comma separated")
    parser.add_argument("--output", required=True, help="vocab.txt to write")
    parser.add_argument("--vocab_size", type=int, default=30522)
    parser.add_argument("--lowercase", dest="lowercase", action="store_true", default=True)
    parser.add_argument("--no_lowercase", dest="lowercase", action="store_false")
    parser.add_argument("--max_documents", type=int, default=None)
    args = parser.parse_args(argv)
    if args.vocab_size <= len(tokenization.RESERVED_TOKENS):
        parser.error(f"--vocab_size must exceed the {len(tokenization.RESERVED_TOKENS)} "
                     "reserved tokens")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    try:
        paths = inputs.match_patterns(inputs.split_patterns(args.input))
    except FileNotFoundError as error:
        sys.exit(f"error: {error}")
    print(f"reading {len(paths)} file(s); learning a {args.vocab_size}-token vocab "
          f"(lowercase={args.lowercase})", flush=True)
    start = time.time()
    skipped = collections.Counter()

    lines = list(iter_sentences(paths, args.max_documents, skipped))
    if not lines:
        sys.exit(f"error: no article text in {paths} (skipped pages: {dict(skipped)})")
    print(f"read {len(lines)} sentences in {time.time() - start:.1f}s (skipped pages: "
          f"{dict(skipped)}); learning the WordPiece vocab...", flush=True)
    vocab = learn_vocab(lines, args.vocab_size, args.lowercase)
    if os.path.dirname(args.output):
        tf.io.gfile.makedirs(os.path.dirname(args.output))
    with tf.io.gfile.GFile(args.output, "w") as f:
        f.write("".join(token + "\n" for token in vocab))
    print(f"wrote {len(vocab)} tokens to {args.output} in {time.time() - start:.1f}s")


if __name__ == "__main__":
    main()
