"""« Lire l'article »: the whole article behind a citation, its cited sentence marked, shown in
the source sheet. The text comes from the index (``StoreReader.document``), found by the
cited chunk and a hash of the document's id (an id can be a server path, which the page
never shows), never from a path the page names. A PDF is
shown page by page (its text laid out as pages, from the page offsets kept at indexing; no
image is rendered), with the cited page's number.
"""

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ancre.index.loaders import PDF_PAGE_COUNT, PDF_PAGES

from .i18n import date, t
from .render import NEW_TAB, doc_key, esc, esc_lines, file_name, safe_url

if TYPE_CHECKING:
    from ancre.index import Document, IndexSettings

MAX_ARTICLE_CHARS = 400_000
"""Longer texts are cut there in the reader (the sheet is for reading, not for archives)."""


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def locate(text: str, sentence: str, near: int = 0) -> Span | None:
    """Where ``sentence`` is in ``text`` (spaces and line breaks may differ), the occurrence
    nearest to ``near`` (the cited chunk's offset); None when it is not there."""
    words = (sentence or "").split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w) for w in words)
    hits = [Span(m.start(), m.end()) for m in re.finditer(pattern, text)]
    return min(hits, key=lambda s: abs(s.start - near)) if hits else None


def read(
    settings: "IndexSettings", key: str, chunk_id: int | None
) -> "tuple[Document, int] | None":
    """The indexed document whose ``doc_key`` is ``key`` and the offset of its chunk
    ``chunk_id`` (0 when the chunk is gone or belongs to another document); None when no
    indexed document has that key."""
    from ancre.index import StoreError, open_reader

    try:
        with open_reader(settings) as reader:
            row = reader.chunks([chunk_id]).get(chunk_id) if chunk_id is not None else None
            if row is not None and doc_key(row.doc_id) == key:
                doc_id = row.doc_id
            else:
                row = None
                ids = (d["doc_id"] for d in reader.documents())
                doc_id = next((i for i in ids if doc_key(i) == key), None)
            doc = reader.document(doc_id) if doc_id is not None else None
    except StoreError:
        return None
    if doc is None:
        return None
    return doc, (row.start if row is not None else 0)


def _paragraphs(text: str, base: int, span: Span | None) -> str:
    """``text`` (starting at offset ``base`` of the article) as paragraphs, the part of
    ``span`` that falls in it marked."""
    out, at = [], 0
    for block in re.split(r"(\n{2,})", text):
        if block.startswith("\n") or not block.strip():
            at += len(block)
            continue
        start, end = base + at, base + at + len(block)
        at += len(block)
        if span and span.start < end and start < span.end:
            a, b = max(span.start, start) - start, min(span.end, end) - start
            first = span.start >= start
            mark = '<mark class="ancre-cited"' + (' id="ancre-cited">' if first else ">")
            html = esc_lines(block[:a]) + mark + esc_lines(block[a:b]) + "</mark>"
            html += esc_lines(block[b:])
        else:
            html = esc_lines(block)
        out.append(f"<p>{html}</p>")
    return "".join(out)


def _pages(doc: "Document", span: Span | None, lang: str) -> str:
    """A PDF's text as its pages, each headed by its number."""
    starts = [(int(n), int(s)) for n, s in doc.metadata.get(PDF_PAGES) or []]
    total = int(doc.metadata.get(PDF_PAGE_COUNT) or (starts[-1][0] if starts else 1))
    bounds = [s for _, s in starts[1:]] + [len(doc.text)]
    out = []
    for (number, start), end in zip(starts, bounds, strict=True):
        cited = span is not None and start <= span.start < end
        label = t(lang, "article_page", n=number, total=total)
        out.append(
            f'<section class="ancre-page{" ancre-page-cited" if cited else ""}" '
            f'data-page="{number}" aria-label="{esc(label)}">'
            f'<p class="ancre-page-num">{esc(label)}</p>'
            f"{_paragraphs(doc.text[start:end].rstrip(), start, span)}</section>"
        )
    return "".join(out)


def render_article(doc: "Document", span: Span | None, lang: str) -> str:
    """The article for the sheet: its title, date, source and text, the cited sentence in
    ``<mark id="ancre-cited">``; for a PDF, its pages."""
    if len(doc.text) > MAX_ARTICLE_CHARS:
        doc.text = doc.text[:MAX_ARTICLE_CHARS]
        span = span if span and span.end <= MAX_ARTICLE_CHARS else None
    meta = [esc(date(doc.date, lang))] if doc.date else []
    if doc.author:
        meta.append(esc(doc.author))
    href = safe_url(doc.url)
    if href:
        meta.append(f'<a href="{esc(href)}" {NEW_TAB}>{esc(t(lang, "open_link"))}</a>')
    meta.append(esc(file_name(doc.doc_id)))
    body = _pages(doc, span, lang) if doc.metadata.get(PDF_PAGES) else None
    body = body or _paragraphs(doc.text, 0, span)
    missing = "" if span else f'<p class="ancre-article-note">{esc(t(lang, "article_no_mark"))}</p>'
    kind = "pdf" if doc.metadata.get(PDF_PAGES) else "text"
    return (
        f'<article class="ancre-article" data-kind="{kind}">'
        f'<h3 class="ancre-article-title" tabindex="-1">{esc(doc.title or file_name(doc.doc_id))}'
        f'</h3><p class="ancre-source-meta">{" · ".join(meta)}</p>{missing}'
        f'<div class="ancre-article-text">{body}</div></article>'
    )


def article_html(
    settings: "IndexSettings", key: str, chunk_id: int | None, sentence: str, lang: str
) -> str:
    """The article of a citation (its document's ``doc_key`` and chunk) as the sheet shows
    it, or a line saying it is no longer indexed."""
    back = (
        '<div class="ancre-article-bar"><button type="button" class="ancre-article-back">'
        f"{esc(t(lang, 'article_back'))}</button></div>"
    )
    found = read(settings, key, chunk_id)
    if found is None:
        return back + f'<p class="ancre-article-note">{esc(t(lang, "article_missing"))}</p>'
    doc, near = found
    return back + render_article(doc, locate(doc.text, sentence, near), lang)


def article_reader(settings: "IndexSettings", script: str) -> Any:
    """An empty HTML block whose ``script`` lets the source sheet fetch an article through
    the server function ``read_article`` (the page's language from its request: gradio
    finds the request by the annotation, so this module does not postpone annotations)."""
    import gradio as gr

    from .documents_tab import lang_of

    def read_article(data: Any, request: gr.Request) -> str:
        args = data[0] if isinstance(data, list) and data else data
        args = args if isinstance(args, dict) else {}
        try:
            chunk = int(args.get("chunk"))
        except (TypeError, ValueError):
            chunk = None
        return article_html(
            settings,
            str(args.get("doc") or ""),
            chunk,
            str(args.get("sentence") or ""),
            lang_of(request),
        )

    return gr.HTML(
        "",
        elem_id="ancre-article-reader",
        container=False,
        apply_default_css=False,
        js_on_load=script,
        server_functions=[read_article],
    )
