"""Turn files into documents: .txt .md .html .htm .json .jsonl .pdf, folders walked recursively.

Each problem file yields a ``Skipped`` naming the file and the reason; loading goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EXTENSIONS = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".pdf")
TEXT_FIELDS = ("text", "content", "body")
DATE_FIELDS = ("date", "published", "published_at")
KNOWN_FIELDS = {"id", "title", "url", "author", *TEXT_FIELDS, *DATE_FIELDS}


@dataclass
class Document:
    doc_id: str
    text: str
    title: str = ""
    url: str = ""
    date: str = ""
    author: str = ""
    source: str = ""
    """The file the document came from."""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        """Content hash: text and the fields shown with citations."""
        h = hashlib.sha256()
        for part in (self.title, self.url, self.date, self.author, self.text):
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
        return h.hexdigest()[:32]


@dataclass
class Skipped:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class LoadError(Exception):
    """A file that cannot become a document; the message says why."""


def iter_files(source: Path) -> Iterator[Path]:
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            hidden = any(part.startswith(".") for part in path.relative_to(source).parts)
            if path.is_file() and path.suffix.lower() in EXTENSIONS and not hidden:
                yield path
    else:
        yield source


def load_sources(
    sources: list[str | Path], max_file_mb: float = 50.0
) -> Iterator[Document | Skipped]:
    """Yield the documents of every file under ``sources``, and a Skipped for each bad file."""
    for raw in sources:
        source = Path(raw).expanduser()
        if not source.exists():
            yield Skipped(str(source), "no such file or folder")
            continue
        root = source if source.is_dir() else source.parent
        for path in iter_files(source):
            try:
                yield from load_file(path, root, max_file_mb)
            except LoadError as err:
                yield Skipped(str(path), str(err))
            except OSError as err:
                yield Skipped(str(path), f"cannot read: {err.strerror or err}")


def load_file(path: Path, root: Path, max_file_mb: float = 50.0) -> list[Document | Skipped]:
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        raise LoadError(
            f"unsupported extension {suffix or '(none)'}; supported: " + " ".join(EXTENSIONS)
        )
    size = path.stat().st_size
    if size == 0:
        raise LoadError("empty file")
    if size > max_file_mb * 1024 * 1024:
        raise LoadError(
            f"file is {size / 1e6:.0f} MB, over the {max_file_mb:g} MB limit (ANCRE_MAX_FILE_MB)"
        )
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    data = path.read_bytes()
    if suffix == ".pdf":
        return [_pdf(data, path, rel)]
    text = decode(data)
    if suffix in (".json", ".jsonl"):
        return _records(text, path, rel, jsonl=suffix == ".jsonl")
    if suffix in (".html", ".htm"):
        return [_html(text, path, rel)]
    return [_plain(text, path, rel, markdown=suffix in (".md", ".markdown"))]


def decode(data: bytes) -> str:
    """UTF-8 if it is, else the detected encoding; binary data is refused."""
    if b"\x00" in data[:8192]:
        raise LoadError("binary content (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise LoadError("cannot detect the text encoding (binary file?)")
    log.info("decoded as %s", best.encoding)
    return str(best)


def normalize_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _checked(doc: Document, path: Path) -> Document:
    doc.text = normalize_text(doc.text)
    if not doc.text:
        raise LoadError("no text found")
    doc.source = str(path)
    return doc


META_LINE = re.compile(r"^(date|source|url|author|auteur|published)\s*:\s*(.+)$", re.IGNORECASE)


def _plain(text: str, path: Path, rel: str, markdown: bool) -> Document:
    """Text and Markdown: the first line (or '# heading') is the title; leading
    'date:'/'source:'/'author:' lines become metadata."""
    lines = normalize_text(text).split("\n")
    title, meta, body_start = "", {}, 0
    if markdown and lines and lines[0].strip() == "---":  # YAML-like front matter
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0)
        for line in lines[1:end]:
            key, _, value = line.partition(":")
            meta[key.strip().lower()] = value.strip().strip("\"'")
        body_start = end + 1 if end else 0
        title = meta.pop("title", "")
    rest = lines[body_start:]
    while rest and not rest[0].strip():
        rest.pop(0)
    if not title and rest:
        first = rest[0].strip()
        if markdown and first.startswith("#"):
            title, rest = first.lstrip("#").strip(), rest[1:]
        elif not markdown and len(first) <= 200 and len(rest) > 1:
            title, rest = first, rest[1:]
        elif not markdown:
            title = headline(first)  # a text without a title line: its opening words
    while rest:
        line = rest[0].strip()
        m = META_LINE.match(line)
        if line and not m:
            break
        if m:
            meta[m.group(1).lower()] = m.group(2).strip()
        rest.pop(0)
    if not title:
        title = path.stem.replace("-", " ").replace("_", " ")
    doc = Document(
        doc_id=rel,
        text="\n".join(rest),
        title=title,
        url=meta.pop("source", "") or meta.pop("url", ""),
        date=meta.pop("date", "") or meta.pop("published", ""),
        author=meta.pop("author", "") or meta.pop("auteur", ""),
        metadata=meta,
    )
    return _checked(doc, path)


def headline(line: str, limit: int = 90) -> str:
    """A title for a text that has none: its first sentence when short, else its first
    words (the text itself keeps them)."""
    sentence = re.split(r"(?<=[.!?…])\s", line, maxsplit=1)[0]
    if len(sentence) <= limit:
        return sentence
    return line[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _html(text: str, path: Path, rel: str) -> Document:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""

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
    for tag in soup(
        [
            "script",
            "style",
            "noscript",
            "nav",
            "header",
            "footer",
            "aside",
            "form",
            "iframe",
            "svg",
            "template",
        ]
    ):
        tag.decompose()
    main = soup.find("article") or soup.find("main") or soup.body or soup
    h1 = main.find("h1")
    if h1 is not None:
        title = title or h1.get_text(" ", strip=True)
        h1.decompose()
    blocks = []
    for el in main.find_all(["p", "h2", "h3", "h4", "li", "blockquote", "pre", "td"]):
        if el.find(["p", "li", "blockquote"]):
            continue  # the inner blocks are taken on their own
        chunk = " ".join(el.get_text(" ", strip=True).split())
        if chunk:
            blocks.append(chunk)
    body = "\n\n".join(blocks) if blocks else main.get_text("\n", strip=True)
    doc = Document(
        doc_id=rel, text=body, title=title or path.stem, url=url, date=date, author=author
    )
    return _checked(doc, path)


def _records(text: str, path: Path, rel: str, jsonl: bool) -> list[Document | Skipped]:
    records: list[tuple[str, Any]] = []
    if jsonl:
        for n, line in enumerate(text.split("\n"), 1):
            if line.strip():
                try:
                    records.append((f"line {n}", json.loads(line)))
                except json.JSONDecodeError as err:
                    records.append((f"line {n}", LoadError(f"line {n}: invalid JSON ({err.msg})")))
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise LoadError(f"invalid JSON at line {err.lineno}: {err.msg}") from None
        items = data if isinstance(data, list) else [data]
        records = [(f"record {i}", item) for i, item in enumerate(items, 1)]
    out: list[Document | Skipped] = []
    for where, rec in records:
        try:
            if isinstance(rec, LoadError):
                raise rec
            out.append(_checked(_record(rec, rel, where), path))
        except LoadError as err:
            msg = str(err) if str(err).startswith(where) else f"{where}: {err}"
            out.append(Skipped(str(path), msg))
    return out


def _record(rec: Any, rel: str, where: str) -> Document:
    if not isinstance(rec, dict):
        raise LoadError(f"expected a JSON object, got {type(rec).__name__}")
    text = next((rec[k] for k in TEXT_FIELDS if isinstance(rec.get(k), str)), None)
    if text is None:
        raise LoadError("no 'text', 'content' or 'body' field")
    doc_id = rec.get("id")
    date = next((str(rec[k]) for k in DATE_FIELDS if rec.get(k)), "")
    return Document(
        doc_id=str(doc_id) if doc_id not in (None, "") else f"{rel}#{where.split()[-1]}",
        text=text,
        title=str(rec.get("title") or ""),
        url=str(rec.get("url") or rec.get("source") or ""),
        date=date,
        author=str(rec.get("author") or ""),
        metadata={k: v for k, v in rec.items() if k not in KNOWN_FIELDS},
    )


def _pdf(data: bytes, path: Path, rel: str) -> Document:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as err:
        raise LoadError(f"unreadable PDF ({err})") from None
    info = reader.metadata or {}
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise LoadError("PDF has no text layer (scanned images?)")
    doc = Document(
        doc_id=rel,
        text=text,
        title=str(info.get("/Title") or path.stem),
        author=str(info.get("/Author") or ""),
    )
    return _checked(doc, path)
