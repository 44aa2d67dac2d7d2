"""« Lire l'article »: the whole article of a citation, read from the index by document and
chunk id, its cited sentence marked; a PDF laid out as its pages."""

from __future__ import annotations

import re

from pdfmaker import write_pdf

from ancre.index import Document, IndexSettings, build
from ancre.index.stores import open_reader
from ancre.samples import ARTICLES
from ancre.ui.article import Span, article_html, locate, render_article
from ancre.ui.render import Source, doc_key, source_panel
from conftest import HashEmbedder


def test_locate_finds_the_sentence_nearest_the_chunk_whatever_the_spaces():
    text = "Le pont rouvre.\n\nIl a coûté 8 millions.\n\nLe pont rouvre."
    assert locate(text, "Le pont rouvre.", near=40) == Span(41, 56)
    assert locate(text, "Le pont rouvre.") == Span(0, 15)
    assert locate("Il a coûté\n8 millions.", "Il a coûté 8 millions.") == Span(0, 22)
    assert locate(text, "absent") is None and locate(text, "  ") is None


def test_the_article_marks_the_cited_sentence_once_and_escapes_everything():
    doc = Document("a.md", "Titre <b>\n\nLe pont <i>rouvre</i>.\n\nFin.", "Le <pont>")
    html = render_article(doc, locate(doc.text, "Le pont <i>rouvre</i>."), "fr")
    assert html.count('id="ancre-cited"') == 1 and "<i>" not in html and "<b>" not in html
    assert re.search(r'<mark class="ancre-cited" id="ancre-cited">Le pont &lt;i&gt;', html)
    assert "Le &lt;pont&gt;" in html and html.count("<p>") == 3
    missing = render_article(doc, None, "fr")
    assert "ancre-cited" not in missing and "n’a pas été retrouvée" in missing


def test_a_pdf_is_shown_as_its_pages_with_the_cited_one_marked(tmp_path):
    pdf = write_pdf(
        tmp_path / "rapport.pdf",
        [["Le rapport annuel de Zorglub."], ["Les comptes sont justes."], ["La halle rouvre."]],
        title="Rapport",
    )
    build([pdf], index_dir=tmp_path / "index", embedder=HashEmbedder())
    settings = IndexSettings(index_dir=str(tmp_path / "index"))
    with open_reader(settings) as reader:
        [doc] = reader.documents()
    html = article_html(settings, doc_key(doc["doc_id"]), None, "La halle rouvre.", "fr")
    pages = re.findall(r'<section class="ancre-page( ancre-page-cited)?" data-page="(\d)"', html)
    assert pages == [("", "1"), ("", "2"), (" ancre-page-cited", "3")]
    assert "Page 3 sur 3" in html and 'id="ancre-cited">La halle rouvre.</mark>' in html


def test_the_article_comes_from_the_index_by_id_not_from_a_path(tmp_path):
    index_dir = tmp_path / "index"
    build([ARTICLES], index_dir=index_dir, embedder=HashEmbedder())
    settings = IndexSettings(index_dir=str(index_dir))
    with open_reader(settings) as reader:
        doc_id = next(d["doc_id"] for d in reader.documents() if "tramway" in d["doc_id"])
        chunk = next(c for c in reader.chunks(list(range(1, 200))).values() if c.doc_id == doc_id)
    sentence = "Longue de 11,4 kilomètres, la nouvelle ligne reliera"
    html = article_html(settings, doc_key(doc_id), chunk.chunk_id, sentence, "en")
    assert "ancre-article-back" in html and "Back to the excerpt" in html
    assert 'id="ancre-cited">Longue de 11,4 kilomètres' in html
    for other in ("/etc/passwd", str(ARTICLES / "tramway-ligne-c-bellerive.md"), doc_id):
        assert "no longer in the index" in article_html(settings, other, None, "x", "en")
    other_doc = article_html(settings, doc_key("another"), chunk.chunk_id, sentence, "en")
    assert "no longer in the index" in other_doc  # a chunk of another document is not used


def test_the_source_panel_offers_the_article():
    s = Source(1, "Titre", "", "", "dir@1/a.md", "Une phrase « citée ».", "Une phrase", (), 7)
    html = source_panel(0, s, "fr")
    assert f'class="ancre-read" data-doc="{doc_key("dir@1/a.md")}" data-chunk="7"' in html
    assert "dir@1" not in html.split("ancre-source-meta")[0]
    assert 'data-sentence="Une phrase « citée »."' in html and ">Lire l’article</button>" in html
