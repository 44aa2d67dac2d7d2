"""Syndicated copies: the same wire story (AFP, Reuters...) published by several outlets
with other headers, footers and small edits.

At build time each document's text is summarised by a MinHash of its word shingles
(datasketch); a document whose estimated resemblance to one already kept reaches
``THRESHOLD`` is not indexed: it becomes an alternate source of the kept one, shown with
its citations ("aussi publié par ..."). So the top passages of an answer are different
articles, not one story five times.

The signatures of kept documents and the alternates live beside the index, in
``nearcopies.sqlite`` in its directory (a Milvus store has no directory: there copies are
indexed as they come). The table is only ever a complement: deleting it loses the
alternates, which the next build of their sources finds again.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import StoreError, disk_full

if TYPE_CHECKING:
    from .loaders import Document

T = TypeVar("T")
FILE = "nearcopies.sqlite"
THRESHOLD = 0.5
"""Estimated Jaccard resemblance of word shingles from which two documents are one story."""
SHINGLE = 5
"""Words per shingle."""
PERMUTATIONS = 64
SCHEME = "affine32"
"""datasketch's hashing scheme, named so that stored signatures are read back the same way."""
MIN_WORDS = 40
"""Shorter texts are never grouped: a few shared words make no story."""
INSTALL = "pip install datasketch"
WORD = re.compile(r"\w+")

SCHEMA = """
CREATE TABLE IF NOT EXISTS signatures (doc_id TEXT PRIMARY KEY, hashes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS alternates (
    doc_id TEXT PRIMARY KEY, kept_id TEXT NOT NULL, title TEXT, url TEXT, date TEXT,
    sitename TEXT, source TEXT
);
CREATE INDEX IF NOT EXISTS alternates_kept ON alternates (kept_id);
"""


@dataclass(frozen=True)
class Alternate:
    """Another outlet's copy of a kept document."""

    doc_id: str
    title: str
    url: str = ""
    date: str = ""
    sitename: str = ""

    @property
    def name(self) -> str:
        """How a citation names it: the site, else the link's host, else the title."""
        if self.sitename:
            return self.sitename
        host = re.match(r"^[a-z]+://(?:www\.)?([^/:?#]+)", self.url or "")
        return host.group(1) if host else self.title or self.doc_id


def signature(text: str) -> Any | None:
    """The MinHash of ``text``'s word shingles (None for a text under ``MIN_WORDS``)."""
    try:
        from datasketch import MinHash
    except ImportError as err:
        raise ImportError(f"recognising near-copies needs datasketch: {INSTALL}") from err
    words = WORD.findall(text.lower())
    if len(words) < MIN_WORDS:
        return None
    shingles = {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
    sig = MinHash(num_perm=PERMUTATIONS, scheme=SCHEME)
    sig.update_batch([s.encode("utf-8") for s in shingles])
    return sig


def _named(method: Callable[..., T]) -> Callable[..., T]:
    """``method`` of ``NearCopies`` with SQLite's errors turned into ``StoreError`` naming
    the file and the way out (SQLite's own text names neither)."""

    @functools.wraps(method)
    def named(self: NearCopies, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as err:
            raise StoreError(failure(self.path, err)) from None

    return named


def failure(path: Path, err: Exception) -> str:
    """What to say when the table of near-copies cannot be written or read."""
    return disk_full(path, err) or (
        f"{path} is damaged ({err}): delete it and run the build again (it only records "
        "near-copies, which the next build finds again)"
    )


class NearCopies:
    """The kept documents' signatures and the alternates of one index directory, open for a
    build: ``copy_of`` decides each loaded document, ``close`` writes it all down."""

    @_named
    def __init__(self, index_dir: str | Path, indexed: Iterable[str]):
        import numpy as np
        from datasketch import MinHash, MinHashLSH

        self.path = Path(index_dir) / FILE
        self.db = sqlite3.connect(self.path)
        self.db.executescript(SCHEMA)
        indexed = set(indexed)
        self.lsh = MinHashLSH(threshold=THRESHOLD, num_perm=PERMUTATIONS)
        self.kept: dict[str, Any] = {}
        dtype = MinHash(num_perm=PERMUTATIONS, scheme=SCHEME).hashvalues.dtype
        stale = []
        for doc_id, blob in self.db.execute("SELECT doc_id, hashes FROM signatures"):
            if doc_id not in indexed:
                stale.append((doc_id,))
                continue
            hashes = np.frombuffer(blob, dtype=np.uint64).astype(dtype)
            sig = MinHash(num_perm=PERMUTATIONS, hashvalues=hashes, scheme=SCHEME)
            self._keep(doc_id, sig)
        self.db.executemany("DELETE FROM signatures WHERE doc_id = ?", stale)
        # alternates of a document no longer indexed come back when their sources are built
        self.db.execute(
            "DELETE FROM alternates WHERE kept_id NOT IN (SELECT doc_id FROM signatures)"
        )

    def _keep(self, doc_id: str, sig: Any) -> None:
        if doc_id in self.kept:
            self.lsh.remove(doc_id)
        self.kept[doc_id] = sig
        self.lsh.insert(doc_id, sig)

    @_named
    def copy_of(self, doc: Document, *, indexed: bool = False) -> str | None:
        """The id of the kept document ``doc`` is a near-copy of (it is then recorded as
        its alternate), or None (``doc`` is then kept: its signature recorded). An
        ``indexed`` document, unchanged in the index, is always kept (its signature is only
        computed when the table lacks it: an index built before near-copies were)."""
        if indexed and doc.doc_id in self.kept:
            return None
        sig = signature(doc.text)
        if sig is None:
            self._drop(doc.doc_id)
            return None
        if not indexed:
            scored = [
                (sig.jaccard(self.kept[other]), other)
                for other in self.lsh.query(sig)
                if other != doc.doc_id
            ]
            scored = [(sim, other) for sim, other in scored if sim >= THRESHOLD]
            best = min(scored, key=lambda so: (-so[0], so[1]))[1] if scored else None
            if best is not None:
                self._drop(doc.doc_id)
                meta = doc.metadata or {}
                self.db.execute(
                    "INSERT OR REPLACE INTO alternates VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc.doc_id,
                        best,
                        doc.title,
                        doc.url,
                        doc.date,
                        str(meta.get("sitename") or ""),
                        doc.source,
                    ),
                )
                return best
        self.db.execute("DELETE FROM alternates WHERE doc_id = ?", (doc.doc_id,))
        self._keep(doc.doc_id, sig)
        self.db.execute(
            "INSERT OR REPLACE INTO signatures VALUES (?, ?)",
            (doc.doc_id, sig.hashvalues.astype("uint64").tobytes()),
        )
        return None

    def _drop(self, doc_id: str) -> None:
        if doc_id in self.kept:
            self.lsh.remove(doc_id)
            del self.kept[doc_id]
            self.db.execute("DELETE FROM signatures WHERE doc_id = ?", (doc_id,))

    @_named
    def forget(self, doc_ids: Iterable[str]) -> None:
        """Documents removed from the index: their signatures and alternates go."""
        for doc_id in doc_ids:
            self._drop(doc_id)
            self.db.execute("DELETE FROM alternates WHERE kept_id = ?", (doc_id,))

    @_named
    def close(self) -> None:
        self.db.commit()
        self.db.close()

    def abort(self) -> None:
        """Let go of the table without what this build added to it (a build stopped by an
        error or Ctrl-C: its next run finds those copies again)."""
        with contextlib.suppress(sqlite3.Error):  # nothing to roll back in a damaged file
            self.db.rollback()
        self.db.close()


def alternates(index_dir: str | Path, doc_ids: Iterable[str]) -> dict[str, list[Alternate]]:
    """The alternates of each of ``doc_ids`` that has some, by kept id (nothing when the
    index has no table of near-copies)."""
    path = Path(index_dir) / FILE
    wanted = list(dict.fromkeys(doc_ids))
    if not wanted or not path.is_file():
        return {}
    out: dict[str, list[Alternate]] = {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        marks = ",".join("?" * len(wanted))
        rows = db.execute(
            "SELECT kept_id, doc_id, title, url, date, sitename FROM alternates "
            f"WHERE kept_id IN ({marks}) ORDER BY kept_id, doc_id",
            wanted,
        ).fetchall()
    except sqlite3.Error:
        return {}
    finally:
        db.close()
    for kept, doc_id, title, url, date, site in rows:
        out.setdefault(kept, []).append(
            Alternate(doc_id, title or "", url or "", date or "", site or "")
        )
    return out
