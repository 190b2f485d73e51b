"""Plain-text sources: documents separated by blank lines (`text`), and books,
one per file (`books`, BooksCorpus / Project Gutenberg style).

Both stream: a line is read at most max_bytes + 1 bytes at a time, so a huge
document costs bounded memory and is skipped as too long.
"""
import os
import re
import unicodedata
from typing import BinaryIO, Iterator

from pipelines import documents

_BOM = b"\xef\xbb\xbf"
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")


def _decode(data: bytes, path: str, offset: int, doc_id: str
            ) -> str | documents.Skip:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        return documents.Skip(path, offset + error.start, documents.INVALID_UTF8,
                              str(error), doc_id)


def read_text(stream: BinaryIO, path: str, base_offset: int, max_bytes: int
              ) -> Iterator[documents.Document | documents.Skip]:
    """Documents of blank-line separated text; ids are `FILENAME@OFFSET`."""
    name = os.path.basename(path)
    lines, size, start, position = [], 0, None, base_offset

    def finish():
        doc_id = f"{name}@{start}"
        if size > max_bytes:
            return documents.Skip(path, start, documents.DOCUMENT_TOO_LONG,
                                  f"{size} bytes > {max_bytes}", doc_id)
        text = _decode(b"".join(lines), path, start, doc_id)
        if isinstance(text, documents.Skip):
            return text
        return documents.Document(doc_id, path, start, documents.TEXT, text)

    while True:
        line = stream.readline(max_bytes + 1)
        if position == 0 and line.startswith(_BOM):
            line, position = line[len(_BOM):], len(_BOM)
        if not line or not line.strip():
            if start is not None:
                yield finish()
                lines, size, start = [], 0, None
            if not line:
                return
        else:
            if start is None:
                start = position
            size += len(line)
            if size <= max_bytes:
                lines.append(line)
            else:
                lines = []
        position += len(line)


def read_book(stream: BinaryIO, path: str, max_bytes: int
              ) -> Iterator[documents.Document | documents.Skip]:
    """The file as one document with id `FILENAME`."""
    doc_id = os.path.basename(path)
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        yield documents.Skip(path, 0, documents.DOCUMENT_TOO_LONG,
                             f"more than {max_bytes} bytes", doc_id)
        return
    skip = len(_BOM) if data.startswith(_BOM) else 0
    text = _decode(data[skip:], path, skip, doc_id)
    yield text if isinstance(text, documents.Skip) else documents.Document(
        doc_id, path, 0, documents.BOOKS, text)


def lines_to_paragraphs(text: str) -> list[str]:
    """One paragraph per non-blank line (`text`, WET and extracted HTML)."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def book_to_paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs; hard-wrapped lines are joined."""
    return [" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n"))
            if p.strip()]


def normalize(paragraph: str) -> str:
    """Unicode NFC (canonical composition; compatibility forms are kept)."""
    return unicodedata.normalize("NFC", paragraph)
