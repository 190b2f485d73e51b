"""Web crawls (ClueWeb / CommonCrawl): WARC files with HTML responses, whose
main text is extracted by resiliparse, and WET files (extracted text).

Records are read with warcio, streaming (`.warc.gz` members too); a record's
payload is read at most max_bytes + 1 bytes. Bytes that are not a WARC
record (garbage, a broken gzip member) are skipped up to the next record,
found by `next_record`, and reported once. Offsets and boundaries are
positions in the file as stored (a `.gz` member's first byte).
"""
import dataclasses
import re
import zlib
from typing import BinaryIO, Callable, Iterator

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding
from warcio.archiveiterator import ArchiveIterator

from pipelines import documents

_RECORD_START = re.compile(rb"WARC/1\.[01]\r?\n")
_GZIP_MAGIC = re.compile(rb"\x1f\x8b\x08")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_SCAN_BYTES = 1 << 20
_OVERLAP = 64


def _is_gzip_record(data: bytes) -> bool:
    try:
        return zlib.decompressobj(31).decompress(data, 16).startswith(b"WARC/")
    except zlib.error:
        return False


def next_record(raw: BinaryIO, position: int, gzipped: bool) -> int | None:
    """Position of the first WARC record (for .gz: a gzip member holding one)
    starting at or after `position` in the seekable raw stream, or None."""
    pattern = _GZIP_MAGIC if gzipped else _RECORD_START
    raw.seek(position)
    window, base = b"", position
    while True:
        chunk = raw.read(_SCAN_BYTES)
        window += chunk
        for match in pattern.finditer(window):
            if not gzipped or _is_gzip_record(window[match.start():match.start() + 4096]):
                return base + match.start()
        if not chunk:
            return None
        base += len(window) - _OVERLAP
        window = window[-_OVERLAP:]


def _content_type(record) -> str:
    headers = record.http_headers or record.rec_headers
    return (headers.get_header("Content-Type") or "").split(";")[0].strip().lower()


def _record_document(record, path: str, fmt: str, max_bytes: int
                     ) -> documents.Document | documents.Skip | None:
    """The record's document, the reason it is skipped, or None for records
    that never hold one (warcinfo, request, metadata, ...). Offsets are -1:
    warcio knows a record's offset only once it is read."""
    kind = "conversion" if fmt == documents.WET else "response"
    if record.rec_type != kind:
        return None
    offset = -1
    doc_id = record.rec_headers.get_header("WARC-Record-ID") or ""
    if fmt == documents.WARC and _content_type(record) not in _HTML_TYPES:
        return documents.Skip(path, offset, documents.NOT_HTML, _content_type(record), doc_id)
    payload = record.content_stream().read(max_bytes + 1)
    if len(payload) > max_bytes:
        return documents.Skip(path, offset, documents.DOCUMENT_TOO_LONG,
                              f"payload over {max_bytes} bytes", doc_id)
    if fmt == documents.WET:
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as error:
            return documents.Skip(path, offset, documents.INVALID_UTF8, str(error), doc_id)
    else:
        try:
            html = bytes_to_str(payload, detect_encoding(payload))
        except Exception as error:  # resiliparse raises on hopeless bytes
            return documents.Skip(path, offset, documents.UNDECODABLE_HTML, repr(error), doc_id)
        text = extract_plain_text(html, preserve_formatting=True, main_content=True,
                                  list_bullets=False, alt_texts=False)
    return documents.Document(doc_id, path, offset, fmt, text)


def read_records(open_at: Callable[[int], BinaryIO], path: str, start: int, end: int,
                 fmt: str, max_bytes: int) -> Iterator[documents.Document | documents.Skip]:
    """Documents of the WARC/WET records starting in [start, end).

    `open_at(position)` returns the raw (still gzipped) stream from there,
    seekable, ending at `end`."""
    gzipped = path.endswith(".gz")
    position = start
    while position is not None and position < end:
        records = ArchiveIterator(open_at(position), check_digests=False)
        next_start = position  # where the record being read begins
        try:
            for record in records:
                item = _record_document(record, path, fmt, max_bytes)
                offset = position + records.get_record_offset()  # reads to the record's end
                next_start = offset + records.get_record_length()
                if item is not None:
                    yield dataclasses.replace(item, offset=offset,
                                              doc_id=item.doc_id or f"{path}@{offset}")
            return
        except Exception as error:  # garbage, broken gzip member, truncation
            yield documents.Skip(path, next_start, documents.MALFORMED_WARC, repr(error)[:300])
            position = next_record(open_at(0), next_start + 1, gzipped)
