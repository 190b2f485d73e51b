"""Whether downstream texts occur in a pre-training corpus: the share of each labelled file's texts
that share a word 13-gram with the corpus (the contamination test of "Language Models are Few-Shot
Learners", arXiv 2005.14165, sec. 4), and of those found whole. Prints JSON.

    python -m benchmarks.studies.overlap --corpus='bookshelf/*.txt' \
        --labelled=data/sentiment/train.tsv --labelled=data/sentiment/dev.tsv [--n=13]

Words are lower-cased runs of letters and digits; texts shorter than n words cannot share an
n-gram and are counted apart (`shorter_than_n`).
"""
import glob
import json
import re
import sys

import numpy as np

from core import cli
from trainers.tasks.labelled_files import read_labelled_texts

WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def gram_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """(N - n + 1,) uint64 hashes of the n-grams of word ids (N,), N >= n: a polynomial over the
    ids with wrap-around arithmetic, one vectorised pass per position."""
    out = np.zeros(len(ids) - n + 1, np.uint64)
    for i in range(n):
        out = out * np.uint64(1_000_003) + ids[i:len(ids) - n + 1 + i]
    return out


def word_ids(tokens: list[str], vocabulary: dict) -> np.ndarray:
    """(N,) uint64 ids of `tokens`, new words added to `vocabulary` (ids from 1)."""
    return np.array([vocabulary.setdefault(t, len(vocabulary) + 1) for t in tokens], np.uint64)


def corpus_grams(paths: list[str], n: int, vocabulary: dict) -> tuple[np.ndarray, int]:
    """(sorted unique n-gram hashes of the corpus, its words); lines are joined within a file."""
    parts, total = [], 0
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            ids = word_ids(words(f.read()), vocabulary)
        total += len(ids)
        if len(ids) >= n:
            parts.append(gram_hashes(ids, n))
    return np.unique(np.concatenate(parts)), total


def main(argv=None) -> int:
    p = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", required=True, help="glob of the pre-training text files")
    p.add_argument("--labelled", action="append", required=True, help="TSV/CSV/JSON-lines file; repeatable")
    p.add_argument("--text_column", default="sentence")
    p.add_argument("--label_column", default="label")
    p.add_argument("--n", type=int, default=13)
    args = p.parse_args(argv)
    if args.n < 1:
        p.error(f"--n must be positive, got {args.n}")
    paths = sorted(glob.glob(args.corpus))
    if not paths:
        raise cli.UserError(f"--corpus {args.corpus!r} matches no file")
    vocabulary = {}
    grams, corpus_words = corpus_grams(paths, args.n, vocabulary)
    result = {"corpus": args.corpus, "corpus_files": len(paths), "corpus_words": corpus_words, "n": args.n,
              "files": {}}
    for path in args.labelled:
        texts = read_labelled_texts(path, [args.text_column], args.label_column).texts_a
        shared = whole = short = 0
        for text in texts:
            ids = word_ids(words(text), vocabulary)
            if len(ids) < args.n:
                short += 1
                continue
            hashes = gram_hashes(ids, args.n)
            at = np.minimum(np.searchsorted(grams, hashes), len(grams) - 1)  # grams: sorted, unique
            found = grams[at] == hashes
            shared += bool(found.any())
            whole += bool(found.all())
        result["files"][path] = {"texts": len(texts), "shorter_than_n": short, "sharing_an_ngram": shared,
                                 "fraction": shared / len(texts), "found_whole": whole}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
