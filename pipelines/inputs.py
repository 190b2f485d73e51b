"""Command-line input patterns: parsing and fail-fast matching."""
from apache_beam.io.filesystems import FileSystems


def split_patterns(values: list[str]) -> list[str]:
    """Flattens repeated and comma-separated `--input` values, in order."""
    return [p.strip() for value in values for p in value.split(",") if p.strip()]


def match_patterns(patterns: list[str]) -> dict[str, int]:
    """{file: size in bytes} of the files the glob patterns match (local or
    gs://, ...), sorted by path.

    Raises FileNotFoundError naming every pattern that matches nothing."""
    matched, empty = {}, []
    for pattern, result in zip(patterns, FileSystems.match(patterns)):
        files = {m.path: m.size_in_bytes for m in result.metadata_list}
        if not files:
            empty.append(pattern)
        matched.update(files)
    if empty or not patterns:
        raise FileNotFoundError(f"no input files match {empty or patterns}")
    return dict(sorted(matched.items()))
