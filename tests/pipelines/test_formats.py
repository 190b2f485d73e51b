"""Source readers: every format, work units, and every kind of bad input."""
import bz2
import gzip
import io
import json
import os

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines import documents, formats

MAX_BYTES = 1000
PROSE = ("The committee met on Tuesday to discuss the new library. Everyone agreed that "
         "the reading room needed more light. ")
HTML = (f"<html><head><title>T</title><script>var x = 1;</script></head><body>"
        f"<nav><a href='/'>Home</a> | <a href='/about'>About</a></nav>"
        f"<article><h1>Library news</h1><p>{PROSE * 3}</p><p>{PROSE}</p></article>"
        f"<footer>Copyright 2024</footer></body></html>")


def _read(path, fmt=None, split_bytes=None, max_bytes=MAX_BYTES):
    path = str(path)
    fmt = fmt or formats.detect_format(path)
    size = os.path.getsize(path)
    units = formats.plan_units(path, fmt, size, split_bytes or size + 1, lambda p: open(p, "rb"))
    return [item for unit in units
            for item in formats.read_unit(unit, lambda p: open(p, "rb"), max_bytes)]


def _skips(items):
    return [(s.reason, s.offset) for s in items if isinstance(s, documents.Skip)]


def _docs(items):
    return [d for d in items if isinstance(d, documents.Document)]


def test_detect_format():
    assert [formats.detect_format(p) for p in (
        "a/enwiki-1.xml.bz2", "b.XML", "c.warc.gz", "CC-MAIN-1.warc.wet.gz", "d.wet", "e.txt.gz",
    )] == ["wikipedia", "wikipedia", "warc", "wet", "wet", "text"]
    assert formats.detect_format("book.txt", "books") == "books"
    with pytest.raises(ValueError, match="--format"):
        formats.detect_format("data.parquet")
    with pytest.raises(ValueError, match="unknown format"):
        formats.detect_format("a.txt", "pdf")


def test_text_documents_offsets_and_paragraphs(tmp_path):
    data = b"\xef\xbb\xbfFirst doc line one.\nline two.\n\n  \n\nSecond doc.\r\n\r\nThird.\n"
    (tmp_path / "c.txt").write_bytes(data)
    docs = _docs(_read(tmp_path / "c.txt"))
    assert [(d.doc_id, d.offset) for d in docs] == [("c.txt@3", 3), ("c.txt@38", 38),
                                                     ("c.txt@53", 53)]
    assert [data[d.offset:].startswith(d.text.encode()) for d in docs] == [True] * 3
    assert formats.paragraphs(docs[0]) == ["First doc line one.", "line two."]


def test_text_splits_into_units_with_the_same_documents(tmp_path):
    data = "".join(f"Document {i} caf\u00e9.\nSecond line {i}.\n\n" for i in range(500)).encode()
    (tmp_path / "big.txt").write_bytes(data)
    whole = _read(tmp_path / "big.txt")
    units = formats.plan_units(str(tmp_path / "big.txt"), "text", len(data), 1000,
                               lambda p: open(p, "rb"))
    assert len(units) > 10 and units[0].start == 0 and units[-1].end == len(data)
    assert all(a.end == b.start for a, b in zip(units, units[1:]))
    assert _read(tmp_path / "big.txt", split_bytes=1000) == whole
    assert len(whole) == 500


def test_wikipedia_xml_splits_into_units_with_the_same_pages(tmp_path):
    pages = "".join(f"<page><title>P{i}</title><ns>0</ns><id>{i}</id><revision><text>"
                    f"Text &amp; more {i}.</text></revision></page>\n" for i in range(200))
    data = f"<mediawiki><siteinfo><sitename>W</sitename></siteinfo>{pages}</mediawiki>".encode()
    (tmp_path / "d.xml").write_bytes(data)
    whole = _read(tmp_path / "d.xml")
    assert [d.doc_id for d in whole] == [str(i) for i in range(200)]
    assert whole[7].text == "Text & more 7."
    assert _read(tmp_path / "d.xml", split_bytes=2000) == whole


def test_book_is_one_document_of_paragraphs(tmp_path):
    text = "CHAPTER I\r\n\r\nIt was a dark and\r\nstormy night.\r\n\r\n\r\nThe end.\r\n"
    (tmp_path / "book.txt.gz").write_bytes(gzip.compress(text.encode()))
    [doc] = _read(tmp_path / "book.txt.gz", "books")
    assert (doc.doc_id, doc.format) == ("book.txt.gz", "books")
    assert formats.paragraphs(doc) == ["CHAPTER I", "It was a dark and stormy night.", "The end."]


def test_paragraphs_are_nfc_normalised(tmp_path):
    (tmp_path / "n.txt").write_bytes("Cafe\u0301 and cafe\u0301.\n".encode())
    [doc] = _read(tmp_path / "n.txt")
    assert formats.paragraphs(doc) == ["Caf\u00e9 and caf\u00e9."]


def _warc(records, gzipped):
    """WARC bytes of (kind, payload, content type) records, plus a warcinfo."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=gzipped)
    writer.write_record(writer.create_warcinfo_record("x.warc", {"software": "test"}))
    for i, (kind, payload, content_type) in enumerate(records):
        uri = f"http://example.com/{i}"
        if kind == "response":
            http = StatusAndHeaders("200 OK", [("Content-Type", content_type)],
                                    protocol="HTTP/1.1")
            record = writer.create_warc_record(uri, "response", payload=io.BytesIO(payload),
                                               http_headers=http)
        else:
            record = writer.create_warc_record(
                uri, kind, payload=io.BytesIO(payload),
                warc_headers_dict={"Content-Type": content_type})
        writer.write_record(record)
    return out.getvalue()


@pytest.mark.parametrize("gzipped", [False, True])
def test_warc_html_main_text_and_non_html(tmp_path, gzipped):
    data = _warc([("response", HTML.encode("utf-8"), "text/html; charset=utf-8"),
                  ("request", b"GET / HTTP/1.1\r\n\r\n", "application/http"),
                  ("response", b"\x89PNG...", "image/png"),
                  ("response", HTML.replace("Library", "Biblioth\u00e8que").encode("latin-1"),
                   "text/html")], gzipped)
    path = tmp_path / ("c.warc.gz" if gzipped else "c.warc")
    path.write_bytes(data)
    items = _read(path, max_bytes=100_000)
    docs = _docs(items)
    assert [s.reason for s in items if isinstance(s, documents.Skip)] == ["not_html"]
    assert len(docs) == 2 and docs[0].doc_id.startswith("<urn:uuid:")
    paragraphs = formats.paragraphs(docs[0])
    assert "Library news" in paragraphs and PROSE.strip() in paragraphs
    assert not any("var x" in p or "Home" in p or "Copyright" in p for p in paragraphs)
    assert "Biblioth\u00e8que news" in formats.paragraphs(docs[1])  # charset detected
    assert all(data[d.offset:].startswith(b"\x1f\x8b" if gzipped else b"WARC/1.")
               for d in docs)
    assert _read(path, split_bytes=300, max_bytes=100_000) == items  # units at records


@pytest.mark.parametrize("gzipped", [False, True])
def test_warc_garbage_is_skipped_up_to_the_next_record(tmp_path, gzipped):
    first = _warc([("response", HTML.encode(), "text/html")], gzipped)
    second = _warc([("response", HTML.replace("news", "views").encode(), "text/html")], gzipped)
    garbage = bytes(range(256)) * 8
    path = tmp_path / ("g.warc.gz" if gzipped else "g.warc")
    path.write_bytes(first + garbage + second)
    items = _read(path, max_bytes=100_000)
    [(reason, offset)] = _skips(items)
    # Reported where the last good record's block ends (before its "\r\n\r\n").
    assert reason == "malformed_warc" and len(first) - 4 <= offset <= len(first)
    assert len(_docs(items)) == 2
    assert "Library views" in formats.paragraphs(_docs(items)[1])


def test_wet_conversion_records(tmp_path):
    text = f"Library news\n{PROSE}\n\n{PROSE}"
    path = tmp_path / "c.warc.wet.gz"
    path.write_bytes(_warc([("conversion", text.encode(), "text/plain"),
                            ("conversion", b"bad \xff utf-8", "text/plain")], True))
    items = _read(path, max_bytes=100_000)
    [doc] = _docs(items)
    assert doc.format == "wet"
    assert formats.paragraphs(doc) == ["Library news", PROSE.strip(), PROSE.strip()]
    assert [s.reason for s in items if isinstance(s, documents.Skip)] == ["invalid_utf8"]


def _multistream(data: bytes, cuts: list[int]) -> bytes:
    """`data` as concatenated bz2 streams, one per piece between the cuts."""
    edges = [0] + cuts + [len(data)]
    return b"".join(bz2.compress(data[a:b]) for a, b in zip(edges, edges[1:]))


def test_multistream_bz2_splits_at_streams_that_start_with_a_page(tmp_path):
    pages = "".join(f"  <page><title>P{i}</title><ns>0</ns><id>{i}</id><revision><text>"
                    f"Text {i} {os.urandom(300).hex()}.</text></revision></page>\n"
                    for i in range(60))
    data = f'<mediawiki xmlns="x"><siteinfo/>\n{pages}</mediawiki>'.encode()
    page_starts = [i for i in range(len(data)) if data.startswith(b"  <page>", i)]
    (tmp_path / "whole.xml.bz2").write_bytes(bz2.compress(data))
    # As Wikipedia's multistream dumps: the header, then 10 pages per stream;
    # then as pbzip2 writes: streams cut anywhere, so only some start a page.
    (tmp_path / "pages.xml.bz2").write_bytes(_multistream(data, page_starts[::10]))
    (tmp_path / "anywhere.xml.bz2").write_bytes(_multistream(
        data, sorted({*range(1000, len(data), 5000), page_starts[30]})))
    whole = _docs(_read(tmp_path / "whole.xml.bz2"))
    assert len(whole) == 60
    for name, units in (("pages.xml.bz2", 6), ("anywhere.xml.bz2", 2)):
        path = str(tmp_path / name)
        planned = formats.plan_units(path, "wikipedia", os.path.getsize(path), 2000,
                                     lambda p: open(p, "rb"))
        assert len(planned) == units
        items = _read(path, split_bytes=2000)
        assert not _skips(items)
        assert [(d.doc_id, d.text) for d in items] == [(d.doc_id, d.text) for d in whole]
        assert len({(d.stream, d.offset) for d in items}) == 60
        assert json.loads(items[-1].skip("duplicate").to_json())["stream"] == items[-1].stream > 0
        for d in items:  # offsets count from the start of the unit's first stream
            with open(path, "rb") as f:
                f.seek(d.stream)
                assert bz2.BZ2File(f).read()[d.offset:].startswith(b"<page>")


def test_bz2_without_a_page_stream_near_the_cut_is_not_split(tmp_path, monkeypatch):
    pages = "".join(f"  <page><id>{i}</id><ns>0</ns><revision><text>{os.urandom(300).hex()}"
                    f"</text></revision></page>\n" for i in range(40))
    data = f"<mediawiki>\n{pages}</mediawiki>".encode()
    cuts = [i for i in range(len(data)) if data.startswith(b"  <page>", i)][::10]
    path = tmp_path / "pages.xml.bz2"
    path.write_bytes(_multistream(data, cuts))

    def plan():
        return formats.plan_units(str(path), "wikipedia", os.path.getsize(path), 1000,
                                  lambda p: open(p, "rb"))
    assert len(plan()) == 4  # the header shares the first unit
    monkeypatch.setattr(formats, "_MAX_STREAM_GAP", 100)  # streams are further apart
    assert len(plan()) == 1


def test_bad_input_is_skipped_with_reason_and_offset(tmp_path):
    pages = "".join(f"<page><title>P{i}</title><ns>0</ns><id>{i}</id><revision><text>"
                    f"Text {i}.</text></revision></page>" for i in range(3))
    xml = f"<mediawiki>{pages}</mediawiki>".encode()
    (tmp_path / "truncated.xml").write_bytes(xml[:-30])
    (tmp_path / "corrupt.xml.bz2").write_bytes(bz2.compress(xml)[:-40] + b"junk" * 10)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"ok doc.\n\n\x00\xff\xfe binary\n\nlast doc.\n")
    items = {name: _read(tmp_path / name) for name in
             ("truncated.xml", "corrupt.xml.bz2", "empty.txt", "binary.txt")}
    assert [d.doc_id for d in _docs(items["truncated.xml"])] == ["0", "1"]
    assert _skips(items["truncated.xml"]) == [("malformed_xml", len(xml) - 30)]
    assert [(s.reason) for s in items["corrupt.xml.bz2"] if isinstance(s, documents.Skip)] \
        == ["corrupt_compression"]
    assert _skips(items["empty.txt"]) == [("empty_file", 0)]
    assert _skips(items["binary.txt"]) == [("invalid_utf8", 10)]
    assert [d.text for d in _docs(items["binary.txt"])] == ["ok doc.\n", "last doc.\n"]


def test_huge_document_is_skipped_with_bounded_reads(tmp_path):
    big = b"word " * (10 * 2**20)  # one 50 MiB line
    (tmp_path / "huge.txt").write_bytes(b"small doc.\n\n" + big + b"\n\nafter.\n")
    items = _read(tmp_path / "huge.txt", max_bytes=10**6)
    assert [d.text for d in _docs(items)] == ["small doc.\n", "after.\n"]
    assert _skips(items) == [("document_too_long", 12)]
    (tmp_path / "huge_book.txt").write_bytes(big)
    assert _skips(_read(tmp_path / "huge_book.txt", "books", max_bytes=10**6)) == [
        ("document_too_long", 0)]
