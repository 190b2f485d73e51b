"""MediaWiki XML dumps: streaming page reader and wikitext -> prose paragraphs.

Reading is streaming (`iterparse`, elements cleared after each page), so memory
stays bounded by the largest single page, not the dump.
"""
import bz2
import contextlib
import dataclasses
import re
import xml.etree.ElementTree as ET
from typing import BinaryIO, Callable, Iterator

import mwparserfromhell
from mwparserfromhell.nodes import (Argument, Comment, ExternalLink, Heading,
                                    Tag, Template, Text, Wikilink)
from mwparserfromhell.wikicode import Wikicode

# Skip reasons shared with the pipelines' manifests.
NOT_MAIN_NAMESPACE = "not_main_namespace"
REDIRECT = "redirect"
EMPTY_AFTER_CLEANING = "empty_after_cleaning"
PAGE_ERROR = "page_error"  # any exception while processing one page
UNREADABLE_FILE = "unreadable_file"  # a dump that could not be read to its end

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


@dataclasses.dataclass(frozen=True)
class Page:
    """One <page> of a dump; `wikitext` is the text of its last revision."""
    title: str
    ns: int
    page_id: str
    redirect: bool
    wikitext: str


@contextlib.contextmanager
def open_dump(path: str, opener: Callable[[str], BinaryIO] = lambda p: open(p, "rb")
              ) -> Iterator[BinaryIO]:
    """Opens a dump for streaming binary reads; `.bz2` (multistream too) is
    decompressed on the fly. `opener(path)` returns the raw byte stream (e.g.
    Beam's FileSystems.open for gs:// paths)."""
    with opener(path) as raw:
        if path.endswith(".bz2"):
            with bz2.BZ2File(raw) as decompressed:
                yield decompressed
        else:
            yield raw


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _page_from_element(page: ET.Element) -> Page:
    fields = {"title": "", "ns": "0", "id": "", "text": ""}
    redirect = False
    for child in page:
        name = _local_name(child.tag)
        if name in ("title", "ns", "id"):
            fields[name] = child.text or ""
        elif name == "redirect":
            redirect = True
        elif name == "revision":  # the last revision wins
            for rev_child in child:
                if _local_name(rev_child.tag) == "text":
                    fields["text"] = rev_child.text or ""
    return Page(title=fields["title"], ns=int(fields["ns"]), page_id=fields["id"].strip(),
                redirect=redirect, wikitext=fields["text"])


def iter_pages(fileobj: BinaryIO) -> Iterator[Page]:
    """Yields every <page> of an (uncompressed) XML byte stream, in order."""
    root = None
    for event, element in ET.iterparse(fileobj, events=("start", "end")):
        if root is None:
            root = element
        elif event == "end" and _local_name(element.tag) == "page":
            yield _page_from_element(element)
            root.clear()  # drops the finished page (and siteinfo) from memory


def skip_reason(page: Page) -> str | None:
    """Why a page is not an article (None if it is one): namespace, redirect."""
    if page.ns != 0:
        return NOT_MAIN_NAMESPACE
    if page.redirect:
        return REDIRECT
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


def wikitext_to_paragraphs(wikitext: str) -> list[str]:
    """Cleans wikitext to prose: one string per source line (a wikitext
    paragraph or list item); headings become breaks and are dropped, as are
    templates, refs, tables (and rows of unparsed ones), file/image/category
    links and lines left without any letter or digit."""
    code = mwparserfromhell.parse(wikitext)
    _prune(code)
    text = _MAGIC_WORD.sub("", code.strip_code(normalize=True, collapse=True))
    paragraphs = (" ".join(line.split()) for line in text.split("\n"))
    return [p for p in paragraphs
            if _LETTER_OR_DIGIT.search(p) and not p.startswith(_TABLE_ROW_PREFIXES)]
