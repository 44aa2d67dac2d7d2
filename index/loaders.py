"""Turn files into documents: .txt .md .html .htm .json .jsonl .pdf, folders walked recursively.

Each problem file yields a ``Skipped`` naming the file and the reason, each doubtful one a
``Notice`` (an encoding guessed); loading goes on.

A document's id is the record's own ``id`` when it has one. Else it is derived from where the
file lies: ``<folder>@<key>/<path in the folder>``, where ``<folder>`` is the name of the
SOURCE folder that was walked (a file named alone counts as in its folder) and ``<key>`` a
short hash of that folder's absolute path. The same file built again from the same folder
keeps its id; files with the same relative path in two different folders never share one.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import re
import stat
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bylines import byline_date
from .decode import decode, decode_bytes
from .walk import LoadError, Notice, Skipped, printable, walk

__all__ = [
    "EXTENSIONS",
    "Document",
    "LoadError",
    "Notice",
    "Skipped",
    "decode",
    "load_file",
    "load_sources",
    "printable",
    "root_key",
]

log = logging.getLogger(__name__)

PDF_PAGES = "pdf_pages"
"""A PDF document's metadata: [page number, offset of its first character in the text] for
each page that has text (the article reader shows the cited page)."""
PDF_PAGE_COUNT = "pdf_page_count"
EXTENSIONS = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".pdf")
TEXT_FIELDS = ("text", "content", "body")
DATE_FIELDS = ("date", "published", "published_at")
KNOWN_FIELDS = {"id", "title", "url", "author", *TEXT_FIELDS, *DATE_FIELDS}
PATH_ID = re.compile(r"^[^/]*@[0-9a-f]{8}/(.+)$")
"""A path-derived document id; group 1 is the path in its folder (the id before format 2)."""


@dataclass
class Document:
    doc_id: str
    text: str
    title: str = ""
    url: str = ""
    date: str = ""
    author: str = ""
    source: str = ""
    """The file the document came from (absolute, symbolic links resolved, escaped with
    ``printable``)."""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        """Content hash: text and the fields shown with citations."""
        h = hashlib.sha256()
        for part in (self.title, self.url, self.date, self.author, self.text):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\x00")
        return h.hexdigest()[:32]


def root_key(root: Path) -> str:
    """``<name>@<8 hex digits>``: the folder's name, and a hash of its absolute path."""
    real = root.resolve()
    digest = hashlib.sha256(str(real).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{printable(real.name) or 'root'}@{digest}"


def legacy_id(doc_id: str) -> str | None:
    """The id format 1 gave a path-derived document (its path in the SOURCE folder)."""
    m = PATH_ID.match(doc_id)
    return m.group(1) if m else None


def source_of(path: Path) -> str:
    """How ``Document.source`` names a file: absolute, links resolved, printable."""
    return printable(str(path.resolve()))


def load_sources(
    sources: list[str | Path], max_file_mb: float = 50.0, *, confined: bool = False
) -> Iterator[Document | Skipped | Notice]:
    """Yield the documents of every file under ``sources``, a ``Skipped`` for each file or
    folder that cannot be read and a ``Notice`` for each doubtful one; ``confined`` refuses
    what a symbolic link leads to outside a folder (``walk``)."""
    for raw in sources:
        source = Path(raw).expanduser()
        if not source.exists():
            reason = "no such file or folder"
            if source.is_symlink():
                reason = "symbolic link loop" if _loops(source) else "broken symbolic link"
            yield Skipped(str(source), reason)
            continue
        root = source if source.is_dir() else source.parent
        key = root_key(root)
        for path in walk(source, EXTENSIONS, confined=confined):
            if isinstance(path, Skipped):
                yield path
                continue
            try:
                items = load_file(path, root, max_file_mb, key=key)
            except LoadError as err:
                items = [Skipped(str(path), str(err))]
            except OSError as err:
                items = [Skipped(str(path), f"cannot read: {err.strerror or err}")]
            except RecursionError:
                items = [Skipped(str(path), "nested too deeply to read")]
            except Exception as err:  # one odd file must not stop the build
                log.debug("loading %s failed", printable(str(path)), exc_info=True)
                items = [Skipped(str(path), f"cannot load: {type(err).__name__}: {err}")]
            yield from items


@contextmanager
def _quiet(library: str) -> Iterator[None]:
    """A library's own warnings about a bad file are noise beside ancre's one line about
    it: shown only when ancre logs details (``-v``)."""
    if log.isEnabledFor(logging.INFO):
        yield
        return
    logger = logging.getLogger(library)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _loops(path: Path) -> bool:
    try:
        path.stat()
    except OSError as err:
        return err.errno == errno.ELOOP
    return False


def load_file(
    path: Path, root: Path, max_file_mb: float = 50.0, *, key: str | None = None
) -> list[Document | Skipped | Notice]:
    """The documents of one file (``root``: the SOURCE folder it was found in; ``key``: its
    ``root_key``, computed once per folder by ``load_sources``)."""
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        raise LoadError(
            f"unsupported extension {suffix or '(none)'}; supported: " + " ".join(EXTENSIONS)
        )
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise LoadError("not a regular file (a pipe, socket or device)")
    if info.st_size == 0:
        raise LoadError("empty file")
    if info.st_size > max_file_mb * 1024 * 1024:
        raise LoadError(
            f"file is {info.st_size / 1e6:.0f} MB, over the {max_file_mb:g} MB limit "
            "(ANCRE_MAX_FILE_MB)"
        )
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    base_id = f"{key or root_key(root)}/{printable(rel)}"
    data = path.read_bytes()
    if suffix == ".pdf":
        return [_pdf(data, path, base_id)]
    decoded = decode_bytes(data)
    text = decoded.text
    notes: list[Document | Skipped | Notice] = []
    if decoded.guessed:
        notes.append(
            Notice(
                str(path),
                f"encoding guessed as {decoded.encoding}; check its text "
                "(saving the file as UTF-8 removes the doubt)",
            )
        )
    elif decoded.replaced:
        notes.append(Notice(str(path), f"{decoded.replaced} invalid UTF-8 bytes replaced by �"))
    elif decoded.encoding != "utf-8":
        log.info("%s: decoded as %s", printable(str(path)), decoded.encoding)
    if suffix in (".json", ".jsonl"):
        return notes + _records(text, path, base_id, jsonl=suffix == ".jsonl")
    if suffix in (".html", ".htm"):
        return [*notes, _html(text, path, base_id)]
    return [*notes, _plain(text, path, base_id, markdown=suffix in (".md", ".markdown"))]


def normalize_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _checked(doc: Document, path: Path) -> Document:
    return checked(doc, source_of(path))


def checked(doc: Document, source: str) -> Document:
    """``doc`` with its text normalised and ``source`` (a file, or the URL of a page) set;
    ``LoadError`` when no text is left."""
    doc.text = normalize_text(doc.text)
    if not doc.text:
        raise LoadError("no text found")
    doc.source = source
    doc.title = plain_title(doc.title)
    for name in ("text", "title", "url", "date", "author"):
        setattr(doc, name, _no_surrogates(getattr(doc, name)))
    return doc


HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")


def plain_title(title: str) -> str:
    """A title without the HTML tags some sources leave in it (``<i>Name</i> (navire)``),
    shown as text in the library, the cards and the sheet. A title without tags is kept as is."""
    if not HTML_TAG.search(title):
        return title
    return " ".join(HTML_TAG.sub(" ", title).split())


def _no_surrogates(text: str) -> str:
    """Lone surrogates (from JSON escapes such as \\ud800) cannot be stored as UTF-8."""
    return SURROGATE.sub("\ufffd", text)


SURROGATE = re.compile("[\ud800-\udfff]")


META_LINE = re.compile(r"^(date|source|url|author|auteur|published)\s*:\s*(.+)$", re.IGNORECASE)


def _plain(text: str, path: Path, base_id: str, markdown: bool) -> Document:
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
        title = printable(path.stem).replace("-", " ").replace("_", " ")
    if markdown:
        rest = _unmarked_headings(rest, title)
    doc = Document(
        doc_id=base_id,
        text="\n".join(rest),
        title=title,
        url=meta.pop("source", "") or meta.pop("url", ""),
        date=meta.pop("date", "") or meta.pop("published", "") or byline_date("\n".join(rest)),
        author=meta.pop("author", "") or meta.pop("auteur", ""),
        metadata=meta,
    )
    return _checked(doc, path)


HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
"""A Markdown ATX heading line; group 1 is its text."""


def _unmarked_headings(lines: list[str], title: str) -> list[str]:
    """Markdown body lines with each heading as its own paragraph of plain words (its
    ``#`` would be quoted as evidence); a first heading that repeats the front matter's
    title is the title, not text."""
    out: list[str] = []
    for line in lines:
        m = HEADING.match(line)
        if m is None:
            out.append(line)
            continue
        words = m.group(1).strip()
        if not any(x.strip() for x in out) and words.casefold() == title.strip().casefold():
            continue
        if out and out[-1].strip():
            out.append("")
        out += [words, ""]
    return out


def headline(line: str, limit: int = 90) -> str:
    """A title for a text that has none: its first sentence when short, else its first
    words (the text itself keeps them)."""
    sentence = re.split(r"(?<=[.!?…])\s", line, maxsplit=1)[0]
    if len(sentence) <= limit:
        return sentence
    return line[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _html(text: str, path: Path, base_id: str) -> Document:
    """A web page: its article (``webpage.read_article``); the site's name and the page's
    language go into the metadata."""
    from .webpage import read_article

    page = read_article(text)
    doc = Document(
        doc_id=base_id,
        text=page.text,
        title=page.title or printable(path.stem),
        url=page.url,
        date=page.date,
        author=page.author,
        metadata={k: v for k, v in (("sitename", page.sitename), ("language", page.language)) if v},
    )
    return _checked(doc, path)


def _records(text: str, path: Path, base_id: str, jsonl: bool) -> list[Document | Skipped]:
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
    if not records:
        raise LoadError("no records in the file")
    out: list[Document | Skipped] = []
    for where, rec in records:
        try:
            if isinstance(rec, LoadError):
                raise rec
            out.append(_checked(_record(rec, base_id, where), path))
        except LoadError as err:
            msg = str(err) if str(err).startswith(where) else f"{where}: {err}"
            out.append(Skipped(str(path), msg))
    return out


def _record(rec: Any, base_id: str, where: str) -> Document:
    if not isinstance(rec, dict):
        raise LoadError(f"expected a JSON object, got {type(rec).__name__}")
    text = next((rec[k] for k in TEXT_FIELDS if isinstance(rec.get(k), str)), None)
    if text is None:
        raise LoadError("no 'text', 'content' or 'body' field")
    doc_id = printable(str(rec.get("id") or ""))
    date = next((str(rec[k]) for k in DATE_FIELDS if rec.get(k)), "")
    return Document(
        doc_id=doc_id or f"{base_id}#{where.split()[-1]}",
        text=text,
        title=str(rec.get("title") or ""),
        url=str(rec.get("url") or rec.get("source") or ""),
        date=date,
        author=str(rec.get("author") or ""),
        metadata={k: v for k, v in rec.items() if k not in KNOWN_FIELDS},
    )


def _pdf(data: bytes, path: Path, base_id: str) -> Document:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        with _quiet("pypdf"):
            reader = PdfReader(io.BytesIO(data))
            pages = [page.extract_text() or "" for page in reader.pages]
            info = reader.metadata or {}
    except PdfReadError as err:
        raise LoadError(f"unreadable PDF ({err})") from None
    except Exception as err:  # pypdf fails in many ways on a damaged file
        raise LoadError(f"unreadable PDF ({type(err).__name__}: {err})") from None
    kept = [(n, normalize_text(p)) for n, p in enumerate(pages, 1)]
    kept = [(n, p) for n, p in kept if p]
    text = "\n\n".join(p for _, p in kept)
    if not text:
        raise LoadError("PDF has no text layer (scanned images?)")
    starts, at = [], 0
    for n, p in kept:  # normalised page by page, so the joined text keeps these offsets
        starts.append([n, at])
        at += len(p) + 2
    doc = Document(
        doc_id=base_id,
        text=text,
        title=str(info.get("/Title") or printable(path.stem)),
        author=str(info.get("/Author") or ""),
        metadata={PDF_PAGES: starts, PDF_PAGE_COUNT: len(pages)},
    )
    return _checked(doc, path)
