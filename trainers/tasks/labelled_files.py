"""Reading labelled texts from CSV, TSV and JSON-lines files (the user's own data, and GLUE's TSVs).

CSV and TSV files start with a header row naming the columns. TSV is read as
GLUE writes it: tab-separated, quote characters are text (no quoting). CSV
follows the usual quoting rules. JSON lines: one object per line. Files are
UTF-8, with or without a byte-order mark, and any line ends (a spreadsheet's
CRLF included).

A bad row (a delimited row whose field count is not the header's, e.g. a tab
inside a TSV text; a missing or empty label) is an error naming the file and
line, or with `skip_bad_rows` a counted skip. Rows with an empty text are
left out and counted (kept for prediction).
"""
from __future__ import annotations

import csv
import io
import json
import sys

import tensorflow as tf

from trainers.tasks.labelled_texts import DataFileError, LabelledTexts, check_rows

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}
SKIP_FLAG = "--skip_bad_rows"
csv.field_size_limit(sys.maxsize)


def file_format(path: str) -> str:
    """csv, tsv or jsonl, from the file name."""
    for suffix, kind in FORMATS.items():
        if path.endswith(suffix):
            return kind
    raise DataFileError(f"{path}: unknown format; name it .csv, .tsv or .jsonl")


def check_file(path: str) -> None:
    """A missing path or a directory is an error naming it."""
    if not tf.io.gfile.exists(path):
        raise DataFileError(f"{path}: file not found")
    if tf.io.gfile.isdir(path):
        raise DataFileError(f"{path}: is a directory; give a CSV, TSV or JSON-lines file")


def read_text(path: str) -> str:
    """The file's text without a byte-order mark; a byte that is not UTF-8 is an error naming its
    line and byte offset."""
    check_file(path)
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DataFileError(f"{path}, line {line}: not UTF-8 text (byte 0x{data[err.start]:02x} at byte offset "
                            f"{err.start}); save the file as UTF-8") from None
    return text.removeprefix("\ufeff")


def read_rows(path: str, kind: str | None = None, header: bool = True):
    """(header or None, [(line number, row)]) of a CSV/TSV (rows: lists of fields) or JSON-lines
    file (rows: dicts); invalid UTF-8 or JSON is an error naming the line."""
    kind = kind or file_format(path)
    text = read_text(path)
    if kind == "jsonl":
        rows = []
        for number, line in enumerate(io.StringIO(text, newline=None), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataFileError(f"{path}, line {number}: not valid JSON ({err.msg})") from None
                if not isinstance(row, dict):
                    raise DataFileError(f"{path}, line {number}: a JSON object is expected")
                rows.append((number, row))
        return None, rows
    options = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if kind == "tsv" else {}
    reader = csv.reader(io.StringIO(text, newline=""), **options)
    try:
        names = next(reader, None) if header else None
        if header and names is None:
            raise DataFileError(f"{path}: empty file")
        return names, [(reader.line_num, row) for row in reader if row]
    except csv.Error as err:
        raise DataFileError(f"{path}, line {reader.line_num}: malformed {kind.upper()} ({err})") from None


def column_indices(path: str, header: list[str], columns: list[str]) -> list[int]:
    """Positions of `columns` in `header`; a missing one is an error listing the file's columns."""
    for name in columns:
        if name not in header:
            raise DataFileError(f"{path}: no column {name!r}; its columns are {', '.join(map(repr, header))}")
    return [header.index(name) for name in columns]


def read_labelled_texts(path: str, text_columns: list[str], label_column: str | None,
                        id_column: str | None = None, keep_empty: bool = False,
                        skip_bad_rows: bool = False) -> LabelledTexts:
    """The examples of a CSV/TSV/JSON-lines file with a header; label_column None: unlabelled.
    Rows with an empty text are left out and counted, or kept with `keep_empty` (prediction)."""
    check_file(path)
    kind = file_format(path)
    header, rows = read_rows(path, kind)
    wanted = list(text_columns) + ([label_column] if label_column else []) + ([id_column] if id_column else [])
    if kind == "jsonl":
        keys = set().union(*(row.keys() for _, row in rows)) if rows else set()
        for name in wanted:
            if name not in keys:
                raise DataFileError(f"{path}: no field {name!r} in any line; its fields are {', '.join(sorted(keys))}")
        records = [(n, [row.get(name) for name in wanted], None) for n, row in rows]
        return _collect(path, records, len(text_columns), label_column is not None, id_column is not None,
                        keep_empty, skip_bad_rows)
    indices = column_indices(path, header, wanted)
    return texts_from_rows(path, rows, indices[:len(text_columns)],
                           indices[len(text_columns)] if label_column else None,
                           indices[-1] if id_column else None, keep_empty, skip_bad_rows, width=len(header))


def texts_from_rows(path: str, rows: list, text_indices: list[int], label_index: int | None,
                    id_index: int | None, keep_empty: bool = False, skip_bad_rows: bool = False,
                    width: int | None = None) -> LabelledTexts:
    """LabelledTexts from delimited rows (lists of fields) by column position; every row must have
    `width` fields (the header's; None: at least enough for the columns read)."""
    wanted = list(text_indices) + ([label_index] if label_index is not None else []) + (
        [id_index] if id_index is not None else [])
    records = []
    for n, row in rows:
        if (len(row) != width) if width is not None else (len(row) <= max(wanted)):
            expected = f"the header's {width}" if width is not None else f"at least {max(wanted) + 1}"
            hint = " (a delimiter inside a text?)" if width is not None and len(row) > width else ""
            records.append((n, None, f"{len(row)} fields where {expected} are expected{hint}"))
        else:
            records.append((n, [row[i] for i in wanted], None))
    return _collect(path, records, len(text_indices), label_index is not None, id_index is not None, keep_empty,
                    skip_bad_rows)


def _collect(path, records, num_texts, has_label, has_id, keep_empty, skip_bad_rows) -> LabelledTexts:
    """records: (line, fields or None, what is wrong with the row or None)."""
    data = LabelledTexts(path, [], [] if num_texts == 2 else None, [], [], [])
    for row_number, (line, fields, problem) in enumerate(records):
        if problem is None and has_label and (fields[num_texts] is None or not _label(fields[num_texts])):
            problem = "empty label" if fields[num_texts] is not None else "no label"
        if problem:
            if not skip_bad_rows:
                raise DataFileError(f"{path}, line {line}: {problem}; fix the file, or pass {SKIP_FLAG} to leave "
                                    "such rows out (counted)")
            data.malformed += 1
            data.first_malformed = data.first_malformed or line
            continue
        texts = ["" if t is None else str(t).strip() for t in fields[:num_texts]]
        if not all(texts):
            data.empty += 1
            if not keep_empty:
                continue
        data.texts_a.append(texts[0])
        if num_texts == 2:
            data.texts_b.append(texts[1])
        data.labels.append(_label(fields[num_texts]) if has_label else None)
        data.ids.append(str(fields[-1]) if has_id else str(row_number))
        data.lines.append(line)
    return check_rows(data, len(records))


def _label(value):
    """A label as text (JSON numbers become their text, so 1 and "1" are the same label)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()
