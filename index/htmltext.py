"""A web page read as a browser shows it: its title, date, author, link and paragraphs.
ancre's reader where trafilatura finds no article (``webpage``).

Pages saved from the web are often broken (a <title> or <p> never closed); the text is read
as a browser lays it out, so that nothing visible is lost: block elements make paragraphs,
inline ones run on, and text left loose in a <div> is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BLOCKS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "body", "dd", "div", "dl", "dt"),
        *("fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5"),
        *("h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table"),
        *("tbody", "td", "tfoot", "th", "thead", "tr", "ul"),
    }
)
NOT_TEXT = ["script", "style", "noscript", "nav", "header", "footer", "aside", "form"]
NOT_TEXT += ["iframe", "svg", "template"]


@dataclass
class Page:
    title: str
    text: str
    url: str
    date: str
    author: str


def read_html(text: str) -> Page:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    title = _title(soup)

    def meta(*names: str) -> str:
        for name in names:
            tag = soup.find("meta", attrs={"name": name}) or soup.find(
                "meta", attrs={"property": name}
            )
            if tag and tag.get("content"):
                return str(tag["content"]).strip()
        return ""

    canonical = soup.find("link", attrs={"rel": "canonical"})
    url = str(canonical["href"]) if canonical and canonical.get("href") else meta("og:url")
    time_tag = soup.find("time")
    date = meta("date", "article:published_time", "dc.date") or (
        str(time_tag.get("datetime") or time_tag.get_text(strip=True)) if time_tag else ""
    )
    author = meta("author", "article:author")
    for tag in soup(NOT_TEXT):
        tag.decompose()
    main = soup.find("article") or soup.find("main") or soup.body or soup
    h1 = main.find("h1")
    if h1 is not None:
        title = title or h1.get_text(" ", strip=True)
        h1.decompose()
    return Page(title, "\n\n".join(paragraphs(main)), url, date, author)


def _title(soup: Any) -> str:
    """The page's <title>. Left unclosed, html.parser puts the rest of the page inside it:
    the title is then its text up to the first tag, and the rest goes back to the page."""
    tag = soup.title
    if tag is None:
        return ""
    if tag.find(True) is None:
        title = " ".join(tag.get_text(" ").split())
        tag.decompose()
        return title
    leading = []
    while tag.contents and isinstance(tag.contents[0], str):
        leading.append(str(tag.contents[0].extract()))
    tag.unwrap()
    return " ".join("".join(leading).split())


def paragraphs(main: Any) -> list[str]:
    """The text of an element as a browser lays it out, one string per paragraph: a new
    paragraph starts wherever the nearest enclosing block element changes. Linear in the
    page's size, however deeply it nests."""
    from bs4 import CData, NavigableString

    nearest: dict[int, int] = {id(main): id(main)}

    def block_of(tag: Any) -> int:
        climbed = []
        while id(tag) not in nearest and tag.name not in BLOCKS:
            climbed.append(id(tag))
            tag = tag.parent
        found = nearest.setdefault(id(tag), id(tag))
        for node in climbed:
            nearest[node] = found
        return found

    out: list[str] = []
    current: list[str] = []
    block = None
    for piece in main.find_all(string=True):
        if type(piece) not in (NavigableString, CData):
            continue  # comments, doctype, processing instructions
        here = block_of(piece.parent)
        if here != block:
            out.append(" ".join("".join(current).split()))
            current, block = [], here
        current.append(str(piece))
    out.append(" ".join("".join(current).split()))
    return [p for p in out if p]
