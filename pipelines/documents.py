"""What readers yield: documents, and skips (counted; bad input also goes to
the dead-letter output with its file and byte offset).

Offsets are byte positions in the file's decompressed stream; in a `.bz2`
dump cut into work units at its streams (`formats.plan_units`), positions in
the text decompressed from `stream`, the raw offset of the bz2 stream that the
unit starts at (0 for the first unit).
"""
import dataclasses
import json

# Formats (`--format`): how a document's text is turned into paragraphs.
WIKIPEDIA, BOOKS, TEXT, WARC, WET = "wikipedia", "books", "text", "warc", "wet"
FORMATS = (WIKIPEDIA, BOOKS, TEXT, WARC, WET)
WEB_FORMATS = (WARC, WET)

# Skip reasons for input that was read but is not meant to be a document.
NOT_MAIN_NAMESPACE = "not_main_namespace"
REDIRECT = "redirect"
NOT_HTML = "not_html"  # a WARC response that is not an HTML page
EMPTY_AFTER_CLEANING = "empty_after_cleaning"
NO_TOKENS = "no_tokens"
DUPLICATE = "duplicate"  # exact duplicate of a document with a smaller id
# (quality filter reasons are "quality_*", see pipelines.quality)

# Bad input: dead-lettered, and an error under --strict.
EMPTY_FILE = "empty_file"
CORRUPT_COMPRESSION = "corrupt_compression"  # bz2 / gzip stream errors, truncation
MALFORMED_XML = "malformed_xml"  # the rest of the XML file after the error is lost
MALFORMED_WARC = "malformed_warc"  # bytes up to the next WARC record are lost
INVALID_UTF8 = "invalid_utf8"
UNDECODABLE_HTML = "undecodable_html"
DOCUMENT_TOO_LONG = "document_too_long"  # over --max_document_bytes
UNREADABLE_FILE = "unreadable_file"  # I/O and any other reading error
PAGE_ERROR = "page_error"  # any exception while processing one document
BAD_INPUT = frozenset({EMPTY_FILE, CORRUPT_COMPRESSION, MALFORMED_XML, MALFORMED_WARC,
                       INVALID_UTF8, UNDECODABLE_HTML, DOCUMENT_TOO_LONG, UNREADABLE_FILE,
                       PAGE_ERROR})


@dataclasses.dataclass(frozen=True)
class Document:
    """One document as read. `text` is in the format's markup: wikitext for
    WIKIPEDIA, extracted main text for WARC, plain text otherwise."""
    doc_id: str  # stable across runs: page id, WARC-Record-ID, or file name[@offset]
    path: str
    offset: int
    format: str
    text: str
    stream: int = 0  # see the module docstring

    def skip(self, reason: str, detail: str = "") -> "Skip":
        """A Skip of this document, at its place."""
        return Skip(self.path, self.offset, reason, detail, self.doc_id, self.stream)


@dataclasses.dataclass(frozen=True)
class Skip:
    """One input item that yields no document, and why."""
    path: str
    offset: int
    reason: str
    detail: str = ""
    doc_id: str = ""
    stream: int = 0  # see the module docstring

    @property
    def is_bad_input(self) -> bool:
        return self.reason in BAD_INPUT

    def to_json(self) -> str:
        """One dead-letter line: {"file", "offset", "reason", "detail", "doc_id"}
        and "stream" when not 0."""
        fields = {"file": self.path, "offset": self.offset, "reason": self.reason,
                  "detail": self.detail[:500], "doc_id": self.doc_id}
        if self.stream:
            fields["stream"] = self.stream
        return json.dumps(fields, ensure_ascii=False, sort_keys=True)


class BadInputError(RuntimeError):
    """Raised instead of skipping bad input under --strict."""

    def __init__(self, skip: Skip):
        stream = f" of the bz2 stream at byte {skip.stream}" if skip.stream else ""
        super().__init__(f"--strict: {skip.reason} in {skip.path} at byte {skip.offset}{stream}"
                         f"{' (' + skip.doc_id + ')' if skip.doc_id else ''}: {skip.detail}")
        self.skip = skip
