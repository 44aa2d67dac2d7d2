"""The article of a web page: its main text, paragraph by paragraph, and what a citation
shows (title, date, author, site, canonical link, language).

trafilatura finds the article and leaves out menus, cookie notices, related links,
comments and footers; htmldate (through trafilatura, without its slow search of the whole
text) reads the date. The text of its precise mode is kept unless the default mode finds
whole paragraphs more (checked for short texts only, ``SURE_PRECISE``). Paragraphs that open
like a link to another article, a photo credit or a subscription prompt
(``boilerplate.txt``) are dropped. Where trafilatura finds nothing, ancre's own reader
(``htmltext``) reads the page as a browser shows it, so that no page with visible text is
refused.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from .htmltext import read_html

KEEP_PRECISE = 0.9
"""The precise mode's text is kept when it is at least this share of the default mode's."""
NEW_PARAGRAPH = 60
"""A paragraph this long that only the default mode finds makes its text the one kept."""
SURE_PRECISE = 3000
"""A precise text of this many characters or more is kept without running the default
mode (a long text is seldom one the precise mode cut short; the second pass is skipped)."""
INSTALL = "pip install trafilatura lxml_html_clean"


@dataclass
class Article:
    title: str
    text: str
    """Paragraphs separated by blank lines."""
    url: str = ""
    date: str = ""
    author: str = ""
    sitename: str = ""
    language: str = ""
    extractor: Literal["trafilatura", "ancre"] = "trafilatura"


def read_article(html: str | bytes, url: str = "") -> Article:
    """The article of one page (``url``: where it was found, when known)."""
    found = _trafilatura(html, url)
    if found is not None and found.text:
        return found
    if isinstance(html, bytes):
        from .decode import decode

        html = decode(html)
    page = read_html(html)
    meta = found or Article("", "")  # a page trafilatura cannot read: its own reader first
    return Article(
        title=page.title or meta.title,
        text=drop_boilerplate(page.text),
        url=page.url or meta.url or url,
        date=page.date or meta.date,
        author=page.author or meta.author,
        sitename=meta.sitename,
        language=meta.language,
        extractor="ancre",
    )


def _trafilatura(html: str | bytes, url: str) -> Article | None:
    try:
        from trafilatura import bare_extraction
        from trafilatura.utils import load_html
    except ImportError as err:
        raise ImportError(f"reading web pages needs trafilatura: {INSTALL} ({err})") from err
    with _quiet():
        tree = load_html(html)
        if tree is None:
            return None
        options = {"include_comments": False, "include_tables": True, "url": url or None}
        dates = {"original_date": True, "extensive_search": False}
        precise = bare_extraction(
            tree, favor_precision=True, with_metadata=True, date_extraction_params=dates, **options
        )
        text = precise.text if precise is not None else ""
        if len(text) < SURE_PRECISE:
            default = bare_extraction(tree, **options)
            text = _chosen(text, default.text if default is not None else "")
    meta = precise if precise is not None else _metadata(tree, url)

    def field(name: str) -> str:
        return str(getattr(meta, name, None) or "")

    language = field("language") or str(tree.get("lang") or "")
    return Article(
        title=field("title"),
        text=without_headline(drop_boilerplate(text), field("title")),
        url=field("url") or url,
        date=field("date"),
        author=field("author"),
        sitename=field("sitename"),
        language=language.split("-")[0].split("_")[0].lower(),
    )


def _metadata(tree: object, url: str) -> object | None:
    """The page's metadata alone (when the precise mode found no article)."""
    from trafilatura.metadata import extract_metadata

    try:
        return extract_metadata(tree, url or None)
    except Exception:  # metadata is a nicety: a page without it is still read
        logging.getLogger(__name__).debug("no metadata", exc_info=True)
        return None


def _chosen(precise: str, default: str) -> str:
    """The precise text, or the default one where it is a tenth longer and has a paragraph
    of ``NEW_PARAGRAPH`` characters or more that the precise one lacks (a menu's crumbs or a
    sentence cut at its bold words do not count)."""
    if not precise:
        return default
    if len(precise) >= KEEP_PRECISE * len(default):
        return precise
    have = set(paragraphs_of(precise))
    if any(len(p) >= NEW_PARAGRAPH and p not in have for p in paragraphs_of(default)):
        return default
    return precise


def paragraphs_of(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.split("\n") if p.strip()]


def without_headline(text: str, title: str) -> str:
    """``text`` less a first paragraph that repeats the title (the citation shows it)."""
    first, _, rest = text.partition("\n\n")
    if rest and title and " ".join(title.split()) == first:
        return rest
    return text


def drop_boilerplate(text: str) -> str:
    """``text``'s paragraphs, blank-line separated, less those that open like boilerplate
    (all of them when every one does: a page is never emptied by this)."""
    kept_all = paragraphs_of(text)
    pattern = _boilerplate()
    kept = [p for p in kept_all if not pattern.match(p)]
    return "\n\n".join(kept or kept_all)


@cache
def _boilerplate() -> re.Pattern[str]:
    lines = resources.files("ancre.index").joinpath("boilerplate.txt").read_text("utf-8")
    openings = [
        line.strip() for line in lines.splitlines() if line.strip() and not line.startswith("#")
    ]
    alternatives = "|".join(re.escape(o) for o in sorted(openings, key=len, reverse=True))
    return re.compile(rf"^[\W_]*(?:{alternatives})(?:(?<=\W)|(?!\w))", re.IGNORECASE)


@contextmanager
def _quiet() -> Iterator[None]:
    """trafilatura and htmldate log a line for every page they find nothing in; ancre says
    what happened to a file once, itself."""
    names = ("trafilatura", "htmldate", "courlan", "justext", "readability")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
