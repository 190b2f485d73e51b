"""Command-line input patterns: parsing and fail-fast matching.

A pattern is a file, a glob (local or gs://, ...), or a local directory, which stands for the
files directly in it (DIR/*: not its subdirectories, not hidden files).
"""
import os

from apache_beam.io.filesystems import FileSystems


def split_patterns(values: list[str]) -> list[str]:
    """Flattens repeated and comma-separated `--input` values, in order; a local directory
    becomes DIR/*."""
    patterns = [p.strip() for value in values for p in value.split(",") if p.strip()]
    return [os.path.join(p, "*") if os.path.isdir(p) else p for p in patterns]


def is_input_file(path: str) -> bool:
    """Whether a matched path is a file to read (not a directory, not a hidden file)."""
    return not os.path.basename(path).startswith(".") and not os.path.isdir(path)


def match_files(patterns: list[str]) -> dict[str, tuple[int, float]]:
    """{file: (size in bytes, modification time in seconds)} of the files the patterns match,
    sorted by path. Raises FileNotFoundError naming every pattern that matches no file."""
    matched, empty = {}, []
    for pattern, result in zip(patterns, FileSystems.match(patterns)):
        files = {m.path: (m.size_in_bytes, m.last_updated_in_seconds)
                 for m in result.metadata_list if is_input_file(m.path)}
        if not files:
            empty.append(pattern)
        matched.update(files)
    if empty or not patterns:
        raise FileNotFoundError(f"no input files match {empty or patterns}")
    return dict(sorted(matched.items()))


def match_patterns(patterns: list[str]) -> dict[str, int]:
    """{file: size in bytes} of the files the patterns match, sorted by path (see match_files)."""
    return {path: size for path, (size, _) in match_files(patterns).items()}
