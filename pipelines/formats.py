"""Input files: format detection, work units (byte ranges), and reading a
unit into Documents and Skips with every failure mapped to a skip reason.

Large uncompressed files, `.warc.gz` (whose records are gzip members) and
multistream `.xml.bz2` dumps (Wikipedia's `pages-articles-multistream`, whose
bz2 streams hold whole pages) are cut into units of about `split_bytes` at
document boundaries, so one big file is read by many workers; other files
are one unit each.
"""
import bz2
import dataclasses
import gzip
import io
import re
import zlib
from typing import BinaryIO, Callable, Iterator
from xml.parsers import expat

from pipelines import documents, plaintext, web, wikipedia

_SUFFIXES = (  # checked in order, on the lower-cased file name
    (".wet", documents.WET), (".wet.gz", documents.WET),
    (".warc", documents.WARC), (".warc.gz", documents.WARC),
    (".xml", documents.WIKIPEDIA), (".xml.bz2", documents.WIKIPEDIA),
    (".xml.gz", documents.WIKIPEDIA),
    (".txt", documents.TEXT), (".txt.gz", documents.TEXT), (".txt.bz2", documents.TEXT),
)
_BLANK_LINE = re.compile(rb"\n[ \t\r]*\n")
# A bz2 stream header and the magic number of its first block; streams start
# at byte boundaries (blocks inside a stream do not).
_BZ2_STREAM = re.compile(rb"BZh[1-9]1AY&SY")
# Wikipedia's multistream dumps start a stream every 100 pages (well under 1 MB).
_MAX_STREAM_GAP = 16 << 20
_SCAN_BYTES = 1 << 20


def detect_format(path: str, requested: str = "auto") -> str:
    """`requested` unless "auto"; else from the name (`.txt` is `text`: use
    --format=books for one book per file). Raises ValueError if unknown."""
    if requested != "auto":
        if requested not in documents.FORMATS:
            raise ValueError(f"unknown format {requested!r}; one of {documents.FORMATS}")
        return requested
    name = path.lower()
    for suffix, fmt in _SUFFIXES:
        if name.endswith(suffix):
            return fmt
    raise ValueError(f"cannot tell the format of {path} from its name; pass --format "
                     f"(one of {', '.join(documents.FORMATS)})")


@dataclasses.dataclass(frozen=True)
class Unit:
    """Raw byte range [start, end) of one file, read by one worker."""
    path: str
    format: str
    start: int
    end: int
    size: int  # of the whole file

    @property
    def unit_id(self) -> str:
        return f"{self.path}@{self.start}"

    @property
    def stream(self) -> int:
        """Raw offset of the bz2 stream the unit starts at (`Document.stream`), else 0."""
        return self.start if _compression(self.path) == "bz2" else 0


def _compression(path: str) -> str | None:
    return next((c for c in ("bz2", "gz") if path.lower().endswith("." + c)), None)


def is_splittable(path: str, fmt: str) -> bool:
    """Whether units may start inside the file."""
    if fmt == documents.BOOKS:
        return False
    return (_compression(path) is None
            or (fmt in documents.WEB_FORMATS and _compression(path) == "gz")
            or (fmt == documents.WIKIPEDIA and _compression(path) == "bz2"))


def _scan(raw: BinaryIO, position: int, pattern: re.Pattern, at_end: bool,
          limit: int | None = None) -> int | None:
    """First match of `pattern` at or after `position` (and starting before
    `limit`, if given): its end if at_end else its start."""
    raw.seek(position)
    window, base = b"", position
    while limit is None or base < limit:
        chunk = raw.read(_SCAN_BYTES)
        window += chunk
        match = pattern.search(window)
        if match and limit is not None and base + match.start() >= limit:
            return None
        if match:
            return base + (match.end() if at_end else match.start())
        if not chunk:
            return None
        base += len(window) - 64
        window = window[-64:]
    return None


def next_boundary(raw: BinaryIO, position: int, path: str, fmt: str) -> int | None:
    """Where the first document starting at or after `position` can be read
    from (seekable raw stream), or None."""
    if fmt in documents.WEB_FORMATS:
        return web.next_record(raw, position, _compression(path) == "gz")
    if fmt == documents.WIKIPEDIA and _compression(path) == "bz2":
        return _next_page_stream(raw, position)
    if fmt == documents.WIKIPEDIA:
        return _scan(raw, position, re.compile(re.escape(wikipedia.PAGE_TAG)), False)
    return _scan(raw, position, _BLANK_LINE, True)


def _next_page_stream(raw: BinaryIO, position: int) -> int | None:
    """Start of the first bz2 stream in [position, position + _MAX_STREAM_GAP)
    whose text begins with <page> (after whitespace), or None (then the rest of
    the file is one unit, and a single-stream dump is not read to its end to
    find out). Decompresses only the start of each candidate (one bz2 block)."""
    limit = position + _MAX_STREAM_GAP
    while (start := _scan(raw, position, _BZ2_STREAM, False, limit)) is not None:
        raw.seek(start)
        decompressor, text = bz2.BZ2Decompressor(), b""
        try:
            while not decompressor.eof and len(text.lstrip()) < len(wikipedia.PAGE_TAG):
                chunk = raw.read(1 << 16)
                if not chunk:
                    break
                text += decompressor.decompress(chunk, 1 << 10)
        except OSError:  # the magic bytes were not a stream
            pass
        if text.lstrip().startswith(wikipedia.PAGE_TAG):
            return start
        position = start + 1
    return None


def plan_units(path: str, fmt: str, size: int, split_bytes: int,
               open_raw: Callable[[str], BinaryIO]) -> list[Unit]:
    """The file cut at document boundaries near multiples of split_bytes."""
    starts = [0]
    if size > split_bytes and is_splittable(path, fmt):
        with open_raw(path) as raw:
            for target in range(split_bytes, size, split_bytes):
                boundary = next_boundary(raw, max(target, starts[-1] + 1), path, fmt)
                if boundary is None or boundary >= size:
                    break
                starts.append(boundary)
    return [Unit(path, fmt, start, end, size) for start, end in zip(starts, starts[1:] + [size])]


class _Window(io.RawIOBase):
    """Read-only view of raw[start:end] (positions relative to `start`)."""

    def __init__(self, raw: BinaryIO, start: int, end: int):
        self._raw, self._start, self._end = raw, start, end
        raw.seek(start)
        self._position = start

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: self._start, io.SEEK_CUR: self._position,
                io.SEEK_END: self._end}[whence]
        self._position = min(max(self._start, base + offset), self._end)
        self._raw.seek(self._position)
        return self._position - self._start

    def tell(self):
        return self._position - self._start

    def readinto(self, buffer):
        data = self._raw.read(min(len(buffer), self._end - self._position))
        buffer[:len(data)] = data
        self._position += len(data)
        return len(data)


class _Counting(io.RawIOBase):
    """Counts the bytes read through it (the decompressed position)."""

    def __init__(self, stream: BinaryIO):
        self._stream, self.position = stream, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self._stream.read(len(buffer))
        buffer[:len(data)] = data
        self.position += len(data)
        return len(data)


def _decompressed(raw: BinaryIO, path: str) -> BinaryIO:
    compression = _compression(path)
    if compression == "bz2":
        return bz2.BZ2File(raw)  # multistream too
    if compression == "gz":
        return gzip.GzipFile(fileobj=raw)
    return raw


def _read_wikipedia(stream, unit, max_bytes):
    prefix = wikipedia.RANGE_PREFIX if unit.start > 0 else b""
    suffix = wikipedia.RANGE_SUFFIX if unit.end < unit.size else b""
    base = unit.start - unit.stream
    for page in wikipedia.iter_pages(stream, max_bytes, base, prefix, suffix):
        reason = wikipedia.skip_reason(page)
        if page.text_bytes > max_bytes and not reason:
            reason, detail = documents.DOCUMENT_TOO_LONG, f"{page.text_bytes} bytes > {max_bytes}"
        else:
            detail = page.title
        if reason:
            yield documents.Skip(unit.path, page.offset, reason, detail, page.page_id,
                                 unit.stream)
        else:
            yield documents.Document(page.page_id, unit.path, page.offset, documents.WIKIPEDIA,
                                     page.wikitext, unit.stream)


def read_unit(unit: Unit, open_raw: Callable[[str], BinaryIO], max_bytes: int
              ) -> Iterator[documents.Document | documents.Skip]:
    """Documents starting in the unit, in order, and skips. Never raises for
    bad input: a corrupt stream ends the unit with one skip at the offset
    where reading failed."""
    if unit.size == 0:
        yield documents.Skip(unit.path, 0, documents.EMPTY_FILE)
        return
    stream = None
    try:
        with open_raw(unit.path) as raw:
            if unit.format in documents.WEB_FORMATS:
                yield from web.read_records(lambda start: _Window(raw, start, unit.end),
                                            unit.path, unit.start, unit.end, unit.format,
                                            max_bytes)
                return
            stream = _Counting(_decompressed(_Window(raw, unit.start, unit.end), unit.path))
            buffered = io.BufferedReader(stream, 1 << 16)
            if unit.format == documents.WIKIPEDIA:
                yield from _read_wikipedia(buffered, unit, max_bytes)
            elif unit.format == documents.BOOKS:
                yield from plaintext.read_book(buffered, unit.path, max_bytes)
            else:
                yield from plaintext.read_text(buffered, unit.path, unit.start, max_bytes)
    except expat.ExpatError as error:
        yield documents.Skip(unit.path, error.offset, documents.MALFORMED_XML, str(error),
                             stream=unit.stream)
    except (OSError, EOFError, zlib.error) as error:
        reason = (documents.CORRUPT_COMPRESSION if _compression(unit.path)
                  and not isinstance(error, FileNotFoundError) else documents.UNREADABLE_FILE)
        position = unit.start - unit.stream + (stream.position if stream is not None else 0)
        yield documents.Skip(unit.path, position, reason, repr(error), stream=unit.stream)
    except Exception as error:  # anything else: the rest of the unit is lost
        position = unit.start - unit.stream + (stream.position if stream is not None else 0)
        yield documents.Skip(unit.path, position, documents.UNREADABLE_FILE, repr(error),
                             stream=unit.stream)


def paragraphs(document: documents.Document) -> list[str]:
    """The document's prose, one NFC-normalised, whitespace-collapsed string per
    paragraph (sentences are split later)."""
    if document.format == documents.WIKIPEDIA:
        parts = wikipedia.wikitext_to_paragraphs(document.text)
    elif document.format == documents.BOOKS:
        parts = plaintext.book_to_paragraphs(document.text)
    else:
        parts = plaintext.lines_to_paragraphs(document.text)
    return [plaintext.normalize(p) for p in parts]

