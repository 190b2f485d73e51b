"""MediaWiki dump reading and wikitext cleaning."""
import bz2
import io
import re
from xml.parsers import expat

import pytest

from pipelines import documents, sentences, wikipedia

DUMP = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10">
  <siteinfo><sitename>Wikipedia</sitename></siteinfo>
  <page>
    <title>Anarchism</title><ns>0</ns><id>12</id>
    <revision><id>999</id><contributor><id>77</id></contributor>
      <text xml:space="preserve">'''Anarchism''' is a [[political philosophy]].</text>
    </revision>
  </page>
  <page>
    <title>AccessibleComputing</title><ns>0</ns><id>10</id>
    <redirect title="Computer accessibility" />
    <revision><id>5</id><text>#REDIRECT [[Computer accessibility]]</text></revision>
  </page>
  <page>
    <title>Talk:Anarchism</title><ns>1</ns><id>13</id>
    <revision><id>6</id><text>Talk text.</text></revision>
  </page>
  <page>
    <title>Empty</title><ns>0</ns><id>14</id>
    <revision><id>7</id><text /></revision>
  </page>
</mediawiki>
"""


def test_iter_pages_reads_fields_and_page_level_id():
    pages = list(wikipedia.iter_pages(io.BytesIO(DUMP.encode())))
    assert [(p.title, p.ns, p.page_id, p.redirect) for p in pages] == [
        ("Anarchism", 0, "12", False), ("AccessibleComputing", 0, "10", True),
        ("Talk:Anarchism", 1, "13", False), ("Empty", 0, "14", False)]
    assert pages[0].wikitext == "'''Anarchism''' is a [[political philosophy]]."
    assert pages[3].wikitext == ""
    assert [wikipedia.skip_reason(p) for p in pages] == [
        None, documents.REDIRECT, documents.NOT_MAIN_NAMESPACE, None]
    assert [DUMP.encode()[p.offset:].startswith(b"<page>") for p in pages] == [True] * 4


def test_long_page_text_is_not_kept():
    pages = list(wikipedia.iter_pages(io.BytesIO(DUMP.encode()), max_text_bytes=10))
    assert (pages[0].wikitext, pages[0].text_bytes) == ("", 46)
    assert (pages[2].wikitext, pages[2].text_bytes) == ("Talk text.", 10)


def test_truncated_xml_raises_with_offset_after_yielding_complete_pages():
    data = DUMP.encode()[:DUMP.encode().index(b"<title>Empty")]
    pages = []
    with pytest.raises(expat.ExpatError) as error:
        for page in wikipedia.iter_pages(io.BytesIO(data)):
            pages.append(page.page_id)
    assert pages == ["12", "10", "13"]
    assert error.value.offset == len(data)


WIKITEXT = """{{Infobox person|name=Ada|birth=1815}}
'''Ada Lovelace''' was an [[England|English]] mathematician.<ref>{{cite book|title=Ada}}</ref> She worked with [[Charles Babbage]].<ref name="x" />
[[File:Ada Lovelace portrait.jpg|thumb|A portrait of [[Ada Lovelace|Ada]].]]

== Early life ==
{| class="wikitable"
|-
| Table cell || Other cell
|}
Her father was Lord Byron.<!-- hidden comment --> See [http://example.com the archive] at http://example.com/bare.
* A list item about &amp; math.
;
[[Category:Mathematicians]]
[[:Category:Lists|a category link in prose]]
"""


def test_wikitext_to_paragraphs_keeps_prose_only():
    assert wikipedia.wikitext_to_paragraphs(WIKITEXT) == [
        "Ada Lovelace was an English mathematician. She worked with Charles Babbage.",
        "Her father was Lord Byron. See the archive at .",
        "A list item about & math.",
        "a category link in prose",
    ]


def test_unparsed_table_rows_and_empty_pages_are_dropped():
    # A table opened by a template: the parser sees its rows as plain text.
    text = "Prose here.\n{{Table start}}\n| a || b\n|-\n! header\n|}\n{{Only template}}"
    assert wikipedia.wikitext_to_paragraphs(text) == ["Prose here."]
    assert wikipedia.wikitext_to_paragraphs("{{stub}}\n== Heading ==\n[[Category:X]]") == []


def test_bold_and_italic_markup_is_removed_as_mediawiki_reads_it():
    assert wikipedia.wikitext_to_paragraphs(
        "The ''Iliad'''s hero. l''''amour''' and '''''both''''' ''θ''<sub>''i''</sub>.\n"
        "'''{{lang|fr|Temps}}''' stays ''balanced\nnext line") == [
        "The Iliad's hero. l'amour and both θi.", "stays balanced", "next line"]


def test_prepass_drops_refs_nested_templates_and_tables_but_not_text_between():
    text = ("A<ref name=a/> b<ref>{{cite|x={{y}}}}</ref> c {{a|{{b|{{c}}}}}} d "
            "{{{arg}}} e<ref group=\"n\">note</ref>.<!-- {{x -->\n\ue000f\n"
            "{| class=x\n| a\n {|\n| {{b}}\n |}\n|}\ng")
    assert wikipedia.wikitext_to_paragraphs(text) == ["A b c d e.", "f", "g"]


def test_list_markers_and_headings_go_as_the_parser_would_drop_them(monkeypatch):
    text = ("* a\n** b [[c]]\n# d\n#: e\n: f\n; g : h\n== Heading ==\n=Title= \n"
            "=== {{x}} ===\nx = 1 == 2\n== heading == then text\n* {{t}}\n*= kept =\n"
            ":{| class=x\n| cell\ncontinued\n|}")
    expected = ["a", "b c", "d", "e", "f", "g h", "x = 1 == 2", "then text", "= kept =",
                "continued"]
    assert wikipedia.wikitext_to_paragraphs(text) == expected
    # The same without these two pre-pass steps: the parser reads the markers.
    never = re.compile(r"(?!)")
    monkeypatch.setattr(wikipedia, "_LIST_MARKERS", never)
    monkeypatch.setattr(wikipedia, "_HEADING", never)
    assert wikipedia.wikitext_to_paragraphs(text) == expected


def test_list_and_heading_prepass_changes_no_article_of_the_sample(wiki_sample, monkeypatch):
    with bz2.open(wiki_sample) as f:
        pages = [p.wikitext for p in wikipedia.iter_pages(f) if not wikipedia.skip_reason(p)]
    assert len(pages) > 100
    fast = [wikipedia.wikitext_to_paragraphs(text) for text in pages]
    never = re.compile(r"(?!)")
    monkeypatch.setattr(wikipedia, "_LIST_MARKERS", never)
    monkeypatch.setattr(wikipedia, "_HEADING", never)
    assert fast == [wikipedia.wikitext_to_paragraphs(text) for text in pages]


def test_links_become_their_text():
    assert wikipedia.wikitext_to_paragraphs(
        "[[a|b]] [[c]]s [[Star Trek: V]] ''[[R (P)|''R'']]'' [[File:x.jpg|thumb|[[d|e]]]] [[]]") \
        == ["b cs Star Trek: V R"]


def test_split_sentences():
    assert sentences.split_sentences("Dr. Smith went home. He slept well!  Then he left") == [
        "Dr. Smith went home.", "He slept well!", "Then he left"]
    assert sentences.split_sentences("   ") == []
