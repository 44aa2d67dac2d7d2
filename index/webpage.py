"""The article of a web page: its main text, paragraph by paragraph, and what a citation
shows (title, date, author, site, canonical link, language).

trafilatura finds the article and leaves out menus, cookie notices, related links,
comments and footers. The page is parsed once; what a citation shows is read from that tree
first (``_metadata``: meta tags, JSON-LD, title, canonical link, htmldate's date), without
trafilatura's searches for what ancre does not show. The text of its precise mode is kept
unless the default mode finds whole paragraphs more (checked for short texts only,
``SURE_PRECISE``). Paragraphs that open like a link to another article, a photo credit or a
subscription prompt (``boilerplate.txt``) are dropped. Where trafilatura finds nothing,
ancre's own reader (``htmltext``) reads the page as a browser shows it, so that no page
with visible text is refused.
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
SURE_PRECISE = 2000
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
        meta = _metadata(tree, url)
        options = {"include_comments": False, "include_tables": True, "url": meta.url or None}
        precise = bare_extraction(tree, favor_precision=True, **options)
        text = precise.text if precise is not None else ""
        if len(text) < SURE_PRECISE:
            default = bare_extraction(tree, **options)
            text = _chosen(text, default.text if default is not None else "")
    language = meta.language or str(tree.get("lang") or "")
    return Article(
        title=meta.title,
        text=without_headline(drop_boilerplate(text), meta.title),
        url=meta.url or url,
        date=meta.date,
        author=meta.author,
        sitename=meta.sitename,
        language=language.split("-")[0].split("_")[0].lower(),
    )


def _metadata(tree: object, url: str) -> Article:
    """What a citation shows, from the parsed page: its meta tags and JSON-LD first, then
    the title, the canonical link, htmldate's date (without its slow search of the whole
    text) and the site name, each from trafilatura's own readers. Left out: trafilatura's
    search of the page body for an author, its categories, tags and licence (ancre shows
    none of them; the author search alone was half the time of its metadata)."""
    from htmldate import find_date
    from trafilatura.metadata import (
        examine_meta,
        extract_meta_json,
        extract_sitename,
        extract_title,
        extract_url,
    )

    try:
        meta = examine_meta(tree)
        if meta.author and " " not in meta.author:
            meta.author = None  # a bare handle is not an author (as trafilatura judges)
        try:
            meta = extract_meta_json(tree, meta)
        except Exception:  # trafilatura's JSON-LD reader fails on some malformed blocks
            logging.getLogger(__name__).debug("no JSON-LD metadata", exc_info=True)
        title = meta.title or extract_title(tree) or ""
        link = meta.url or extract_url(tree, url or None) or ""
        date = find_date(tree, url=link or None, original_date=True, extensive_search=False)
        sitename = (meta.sitename or extract_sitename(tree) or "").lstrip("@")
        sitename = sitename or _host(link)
    except Exception:  # metadata is a nicety: a page without it is still read
        logging.getLogger(__name__).debug("no metadata", exc_info=True)
        return Article("", "", url=url)
    return Article(
        title=" ".join(str(title).split()),
        text="",
        url=link,
        date=str(date or ""),
        author=" ".join(str(meta.author or "").split()),
        sitename=" ".join(sitename.split()),
        language=str(getattr(meta, "language", None) or ""),
    )


def _host(url: str) -> str:
    """The site of a link, ``www.`` aside (the site name of a page that states none)."""
    from urllib.parse import urlsplit

    if not url.startswith(("http://", "https://")):
        return ""
    return (urlsplit(url).hostname or "").removeprefix("www.")


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
