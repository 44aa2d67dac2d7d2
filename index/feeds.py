"""Sources on the web: a feed (RSS 0.9x/1.0/2.0, Atom; read by feedparser) stands for the
pages of its entries, any other URL for its own page.

Each page becomes one document whose id is its canonical URL (the page's own
``<link rel=canonical>``, else the address it was read from), so a build finds it again: the
same content is unchanged, new content replaces it. A URL that fails (HTTP error, timeout,
a page over the size limit, no text) is one ``Skipped`` naming it; the others go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .fetch import Fetched, FetchError, fetch, is_url
from .loaders import Document, LoadError, Notice, Skipped, checked, load_sources
from .walk import printable

FEED_TYPES = ("rss", "atom", "rdf", "xml")
INSTALL = "pip install feedparser"


@dataclass(frozen=True)
class WebLimits:
    """How pages are fetched (``fetch.fetch``)."""

    timeout: float = 20.0
    max_bytes: int = 5 << 20
    public_only: bool = False


def load_all(
    sources: list[str | Path],
    max_file_mb: float = 50.0,
    limits: WebLimits = WebLimits(),
    *,
    confined: bool = False,
) -> Iterator[Document | Skipped | Notice]:
    """The documents of every source, in order: files and folders (``loaders``; ``confined``:
    nothing a link leads to outside a folder), and http(s) URLs (``load_url``)."""
    for source in sources:
        if is_url(source):
            yield from load_url(str(source), limits)
        else:
            yield from load_sources([source], max_file_mb, confined=confined)


def looks_like_feed(got: Fetched) -> bool:
    kind = got.content_type.lower()
    if any(t in kind for t in FEED_TYPES) and "html" not in kind:
        return True
    head = got.content[:512].lstrip().lower()
    return head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf"))


def load_url(url: str, limits: WebLimits = WebLimits()) -> Iterator[Document | Skipped]:
    """The documents of one URL: a feed's entries' pages, or the page itself."""
    try:
        got = fetch(url, **_args(limits))
    except FetchError as err:
        yield Skipped(url, str(err))
        return
    if not looks_like_feed(got):
        yield _page(url, got)
        return
    try:
        import feedparser
    except ImportError as err:
        raise ImportError(f"reading feeds needs feedparser: {INSTALL}") from err
    feed = feedparser.parse(got.content, response_headers={"content-location": got.url})
    if not feed.entries:
        reason = f"not a feed ({feed.get('bozo_exception')})" if feed.get("bozo") else "no entry"
        yield Skipped(url, f"feed with {reason}")
        return
    seen = set()
    for entry in feed.entries:
        link = entry.get("link", "")
        if not link or link in seen:
            continue
        seen.add(link)
        try:
            page = fetch(link, **_args(limits))
        except FetchError as err:
            yield Skipped(link, str(err))
            continue
        yield _page(link, page, entry=entry, feed=url)


def _args(limits: WebLimits) -> dict[str, object]:
    return {
        "timeout": limits.timeout,
        "max_bytes": limits.max_bytes,
        "public_only": limits.public_only,
    }


def _page(
    url: str, got: Fetched, *, entry: dict | None = None, feed: str = ""
) -> Document | Skipped:
    from .decode import decode
    from .webpage import read_article

    try:
        article = read_article(decode(got.content), url=got.url)
    except LoadError as err:
        return Skipped(url, str(err))
    entry = entry or {}
    canonical = printable(article.url or got.url)
    published = ""
    if entry.get("published_parsed"):
        published = "{:04d}-{:02d}-{:02d}".format(*entry["published_parsed"][:3])
    meta = {"sitename": article.sitename, "language": article.language, "feed": feed}
    doc = Document(
        doc_id=canonical,
        text=article.text,
        title=article.title or str(entry.get("title") or "") or canonical,
        url=canonical,
        date=article.date or published,
        author=article.author or str(entry.get("author") or ""),
        metadata={k: v for k, v in meta.items() if v},
    )
    try:
        return checked(doc, url)
    except LoadError as err:
        return Skipped(url, str(err))
