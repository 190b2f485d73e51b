"""Whether downstream texts occur in a pre-training corpus: the share of each labelled file's texts
that share a word 13-gram with the corpus (the contamination test of "Language Models are Few-Shot
Learners", arXiv 2005.14165, sec. 4), and of those found whole. Prints JSON.

    python -m benchmarks.studies.overlap --corpus='bookshelf/*.txt' \
        --labelled=data/sentiment/train.tsv --labelled=data/sentiment/dev.tsv [--n=13]

Words are lower-cased runs of letters and digits; texts shorter than n words are checked whole.
"""
import glob
import hashlib
import json
import re
import sys

import numpy as np

from core import cli
from trainers.tasks.labelled_files import read_labelled_texts

WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def gram_hashes(tokens: list[str], n: int) -> np.ndarray:
    """(max(len - n + 1, 1),) uint64 hashes of the n-grams of `tokens` (the whole if shorter)."""
    grams = [tokens[i:i + n] for i in range(max(len(tokens) - n + 1, 1))]
    return np.array([int.from_bytes(hashlib.blake2b(" ".join(g).encode(), digest_size=8).digest(), "little")
                     for g in grams], np.uint64)


def corpus_grams(paths: list[str], n: int) -> tuple[np.ndarray, int]:
    """(sorted unique n-gram hashes of the corpus, its words); lines are joined within a file."""
    parts, total = [], 0
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            tokens = words(f.read())
        total += len(tokens)
        parts.append(gram_hashes(tokens, n))
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
    grams, corpus_words = corpus_grams(paths, args.n)
    result = {"corpus": args.corpus, "corpus_files": len(paths), "corpus_words": corpus_words, "n": args.n,
              "files": {}}
    for path in args.labelled:
        texts = read_labelled_texts(path, [args.text_column], args.label_column).texts_a
        shared = whole = 0
        for text in texts:
            hashes = gram_hashes(words(text), args.n)
            found = np.isin(hashes, grams, assume_unique=False)
            shared += bool(found.any())
            whole += bool(found.all())
        result["files"][path] = {"texts": len(texts), "sharing_an_ngram": shared, "fraction": shared / len(texts),
                                 "found_whole": whole}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
