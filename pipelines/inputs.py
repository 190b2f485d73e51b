"""Command-line input patterns: parsing and fail-fast matching."""
import tensorflow as tf


def split_patterns(values: list[str]) -> list[str]:
    """Flattens repeated and comma-separated `--input` values, in order."""
    return [p.strip() for value in values for p in value.split(",") if p.strip()]


def match_patterns(patterns: list[str]) -> list[str]:
    """Sorted files matched by the glob patterns (local or gs://, ...).

    Raises FileNotFoundError naming every pattern that matches nothing."""
    matched, empty = set(), []
    for pattern in patterns:
        files = tf.io.gfile.glob(pattern)
        if not files:
            empty.append(pattern)
        matched.update(files)
    if empty or not patterns:
        raise FileNotFoundError(f"no input files match {empty or patterns}")
    return sorted(matched)
