"""MediaWiki XML dumps: streaming page reader and wikitext -> prose paragraphs.

Reading is streaming (expat, fed 64 KiB at a time): memory is bounded by one
page, and page text beyond `max_text_bytes` is not kept. Each page carries the
byte offset of its `<page>` tag in the (decompressed) stream.
"""
import dataclasses
import re
from typing import BinaryIO, Iterator
from xml.parsers import expat

import mwparserfromhell
from mwparserfromhell.nodes import (Argument, Comment, ExternalLink, Heading,
                                    Tag, Template, Text, Wikilink)
from mwparserfromhell.wikicode import Wikicode

from pipelines import documents

# Tags whose whole content is not prose.
_DROPPED_TAGS = frozenset({
    "ref", "references", "table", "gallery", "math", "chem", "ce", "score",
    "timeline", "imagemap", "graph", "hiero", "syntaxhighlight", "source",
    "pre", "templatedata", "categorytree", "inputbox",
})
# Link namespaces that render media or categorise instead of showing text.
_DROPPED_LINK_NAMESPACES = frozenset({"file", "image", "category"})
_MAGIC_WORD = re.compile(r"__[A-Z]+__")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")
# Rows of tables the parser could not match (e.g. unbalanced markup inside).
_TABLE_ROW_PREFIXES = ("{|", "|", "!")
# Fast pre-pass before mwparserfromhell (whose Python tree builder is the
# cost): closed comments go, and every <ref>, innermost template (or
# template argument) without tags inside and innermost table becomes
# _PLACEHOLDER, repeatedly, so nested ones go too. The cleaning drops all of
# them anyway; the placeholder (a private-use character, removed from the
# input first and from the output last) keeps the markup around them, e.g.
# '''{{lang|fr|x}}''', in the shape it had.
_PLACEHOLDER = "\ue000"
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_REF = re.compile(r"<ref\b[^>]*?/>|<ref\b[^>/]*(?:/(?!>)[^>/]*)*>(?:(?!<ref\b).)*?</ref\s*>",
                  re.S | re.I)
_TEMPLATE = re.compile(r"\{\{\{[^{}<>]*\}\}\}|\{\{[^{}<>]*\}\}")
# An innermost table: from a line starting {| to the first line starting |}.
_TABLE = re.compile(r"^[ \t]*\{\|(?:(?!^[ \t]*\{\|).)*?^[ \t]*\|\}", re.S | re.M)
# Line starts the parser reads as list items (*, #) or indentation (:): it
# makes each a node, the bulk of its tree on most pages, and the cleaning
# keeps only the text after them. Left to it: definition lines (;), since a
# ':' later on the line is markup there, and markers before '=' or '{|',
# which would turn into a heading or a table once at the start of the line.
_LIST_MARKERS = re.compile(r"^[*#:]+(?![ \t]*(?:=|\{\|))", re.M)
# A heading line (= ... =, any level); the cleaning drops headings.
_HEADING = re.compile(r"^=.*=[ \t]*$", re.M)
# A link to an article (no namespace: no colon) without nested links, on one
# line: [[target]] or [[target|text]].
_PLAIN_LINK = re.compile(r"\[\[([^\[\]|:\n]*)(?:\|([^\[\]\n]*))?\]\]")
# Runs of two or more apostrophes: MediaWiki's italic ('') and bold (''') markup.
_QUOTES = re.compile(r"'{2,}")
_CHUNK_BYTES = 1 << 16
# What a range that starts or ends inside a dump is wrapped in to parse.
RANGE_PREFIX, RANGE_SUFFIX = b"<mediawiki>", b"</mediawiki>"
PAGE_TAG = b"<page>"  # never inside text: XML escapes "<"


@dataclasses.dataclass(frozen=True)
class Page:
    """One <page> of a dump; `wikitext` is the text of its last revision."""
    title: str
    ns: int
    page_id: str
    redirect: bool
    wikitext: str
    offset: int = 0  # byte offset of <page> in the decompressed stream
    text_bytes: int = 0  # utf-8 size of the full wikitext (also when not kept)


class _PageCollector:
    """expat handlers that assemble Pages; finished ones wait in `pages`."""

    def __init__(self, parser, base_offset: int, max_text_bytes: int | None):
        self.parser, self.base_offset, self.max_text_bytes = parser, base_offset, max_text_bytes
        self.pages: list[Page] = []
        self._path: list[str] = []
        self._page: dict | None = None
        self._field: str | None = None

    def start(self, name, attributes):
        name = name.rsplit(":", 1)[-1]
        self._path.append(name)
        if name == "page":
            self._page = {"title": [], "ns": [], "id": [], "text": [], "redirect": False,
                          "text_bytes": 0,
                          "offset": self.base_offset + self.parser.CurrentByteIndex}
        elif self._page is not None:
            parent = self._path[-2]
            if name == "redirect" and parent == "page":
                self._page["redirect"] = True
            elif name in ("title", "ns", "id") and parent == "page":
                self._field = name
            elif name == "text" and parent == "revision":  # the last revision wins
                self._page["text"], self._page["text_bytes"] = [], 0
                self._field = "text"

    def end(self, name):
        self._path.pop()
        self._field = None
        if name.rsplit(":", 1)[-1] == "page" and self._page is not None:
            page = self._page
            self.pages.append(Page(
                title="".join(page["title"]), ns=int("".join(page["ns"]).strip() or 0),
                page_id="".join(page["id"]).strip(), redirect=page["redirect"],
                wikitext="".join(page["text"]), offset=page["offset"],
                text_bytes=page["text_bytes"]))
            self._page = None

    def data(self, text):
        if self._field is None:
            return
        if self._field == "text":
            self._page["text_bytes"] += len(text.encode("utf-8"))
            if self.max_text_bytes is not None and self._page["text_bytes"] > self.max_text_bytes:
                self._page["text"] = []  # too long: only its size is kept
                return
        self._page[self._field].append(text)


def iter_pages(stream: BinaryIO, max_text_bytes: int | None = None, base_offset: int = 0,
               prefix: bytes = b"", suffix: bytes = b"") -> Iterator[Page]:
    """Yields every <page> of an (uncompressed) XML byte stream, in order.

    `prefix` and `suffix` are parsed before and after the stream (to wrap a
    byte range of a dump); offsets are `base_offset` + position in the stream.
    A page whose text exceeds max_text_bytes has wikitext "" and its full
    text_bytes. Raises expat.ExpatError (with `.offset`) on malformed or
    truncated XML, after yielding the pages before the error.
    """
    parser = expat.ParserCreate()
    collector = _PageCollector(parser, base_offset - len(prefix), max_text_bytes)
    parser.StartElementHandler = collector.start
    parser.EndElementHandler = collector.end
    parser.CharacterDataHandler = collector.data
    parser.buffer_text = True
    chunks = iter(lambda: stream.read(_CHUNK_BYTES), b"")
    for chunk, final in ((prefix, False), *((c, False) for c in chunks), (suffix, True)):
        try:
            parser.Parse(chunk, final)
        except expat.ExpatError as error:
            error.offset = base_offset - len(prefix) + parser.ErrorByteIndex
            yield from collector.pages
            raise
        yield from collector.pages
        collector.pages.clear()


def skip_reason(page: Page) -> str | None:
    """Why a page is not an article (None if it is one): namespace, redirect."""
    if page.ns != 0:
        return documents.NOT_MAIN_NAMESPACE
    if page.redirect:
        return documents.REDIRECT
    return None


def _is_media_or_category(link: Wikilink) -> bool:
    namespace, colon, _ = str(link.title).strip().partition(":")
    return bool(colon) and namespace.strip().lower() in _DROPPED_LINK_NAMESPACES


def _prune(code: Wikicode) -> None:
    """Removes non-prose nodes in place, in one pass over the tree."""
    kept = []
    for node in code.nodes:
        if isinstance(node, (Template, Argument, Comment)):
            continue
        if isinstance(node, Heading):
            kept.append(Text("\n\n"))
            continue
        if isinstance(node, Tag):
            if str(node.tag).strip().lower() in _DROPPED_TAGS:
                continue
            if node.contents:
                _prune(node.contents)
        elif isinstance(node, Wikilink):
            if _is_media_or_category(node):
                continue
            _prune(node.text if node.text is not None else node.title)
        elif isinstance(node, ExternalLink):
            if not (node.brackets and node.title):
                continue  # bare or untitled URLs are not prose
            _prune(node.title)
        kept.append(node)
    code.nodes = kept


def _strip_quotes(line: str) -> str:
    """Removes bold / italic markup from one wikitext line as MediaWiki reads it:
    '''' is an apostrophe then bold, a run over 5 keeps the extra as
    apostrophes, and when both the italic and the bold count are odd, one
    ''' is an apostrophe then italic (the first after a one-letter word, else
    the first after a longer word, else the first)."""
    runs = [(m.start(), len(m.group())) for m in _QUOTES.finditer(line)]
    if not runs:
        return line
    sizes = [3 if n == 4 else min(n, 5) for _, n in runs]
    kept = [n - size for (_, n), size in zip(runs, sizes)]  # literal apostrophes
    if 3 in sizes and sum(s != 3 for s in sizes) % 2 and sum(s != 2 for s in sizes) % 2:
        def rank(i):
            before = line[:runs[i][0] + kept[i]]
            return 2 if before[-1:] == " " else 0 if before[-2:-1] == " " else 1
        kept[min((i for i, size in enumerate(sizes) if size == 3), key=rank)] += 1
    pieces, end = [], 0
    for (start, n), apostrophes in zip(runs, kept):
        pieces += [line[end:start], "'" * apostrophes]
        end = start + n
    return "".join(pieces) + line[end:]


def _link_text(link: re.Match) -> str:
    return link[1] if link[2] is None else link[2]


def _prepass(wikitext: str) -> str:
    """Comments removed, refs, templates and tables replaced (see
    _PLACEHOLDER), then list markers and heading lines removed."""
    text = _REF.sub(_PLACEHOLDER, _COMMENT.sub("", wikitext.replace(_PLACEHOLDER, "")))
    found = True
    while found:
        text, templates = _TEMPLATE.subn(_PLACEHOLDER, text)
        text, tables = _TABLE.subn(_PLACEHOLDER, text)
        found = templates or tables
    return _HEADING.sub("", _LIST_MARKERS.sub("", text))


def wikitext_to_paragraphs(wikitext: str) -> list[str]:
    """Cleans wikitext to prose: one string per source line (a wikitext
    paragraph or list item); headings become breaks and are dropped, as are
    templates, refs, tables (and rows of unparsed ones), file/image/category
    links, bold / italic markup and lines left without any letter or digit."""
    # Bold / italic goes before parsing, line by line as MediaWiki does: the
    # parser's own handling of unbalanced '' can swallow whole sections.
    # Then plain links become their text (as the parser would make them).
    text = "\n".join(map(_strip_quotes, _prepass(wikitext).split("\n")))
    code = mwparserfromhell.parse(_PLAIN_LINK.sub(_link_text, text), skip_style_tags=True)
    _prune(code)
    text = _MAGIC_WORD.sub("", code.strip_code(normalize=True, collapse=True))
    paragraphs = (" ".join(line.replace(_PLACEHOLDER, "").split()) for line in text.split("\n"))
    return [p for p in paragraphs
            if _LETTER_OR_DIGIT.search(p) and not p.startswith(_TABLE_ROW_PREFIXES)]
