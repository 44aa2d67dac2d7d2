"""The index directory: a SQLite store (documents, chunks, FTS5 lexical index, manifest)
beside a FAISS file of chunk vectors.

Layout of ``index_dir``::

    store.sqlite        documents, chunks, fts (BM25 over analysed tokens), meta (manifest)
    vectors-<gen>.faiss chunk vectors, FAISS ids = chunk ids
    lexical-<gen>.npz   BM25 postings of the fts table, in memory when read (postings.py)
    manifest.json       a readable copy of the manifest
    .lock               held by the one build that may write

A write is one SQLite transaction that also moves ``meta.generation`` to a vectors file
(and a postings file) already written in full: a crash at any point leaves the previous
generation whole.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import vectors as vector_kinds
from .lexical import ANALYSIS, analyze, fts_query
from .postings import Postings
from .stores import BuildLocked, StoreError

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
"""2: path-derived document ids name their SOURCE folder (``folder@hash/path``); format 1
used the bare path, which two folders could share. A writer opening a format-1 index keeps
every document and re-keys each one when a build loads its file again (no re-embedding)."""
READABLE_FORMATS = (1, 2)
"""Formats whose tables and vectors this version reads (ids aside, 1 and 2 are the same)."""
STORE = "store.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, hash TEXT NOT NULL, title TEXT, url TEXT, date TEXT,
    author TEXT, source TEXT, metadata TEXT, text TEXT NOT NULL, n_chunks INTEGER,
    indexed_at REAL);
CREATE INDEX IF NOT EXISTS documents_hash ON documents(hash);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, ord INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(body, tokenize = 'unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS fts_vocab USING fts5vocab(fts, 'row');
"""


def lock_for_build(index_dir: Path, wait: float):
    """The directory's build lock (an OS file lock: a killed build releases it)."""
    from filelock import FileLock, Timeout

    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(index_dir / ".lock"))
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise BuildLocked(
            f"another build is writing {index_dir}; wait for it to finish and run again"
        ) from None
    return lock


def wanted_manifest(
    settings: Any, model_id: str, dim: int | None, encoder: str = "fp32"
) -> dict[str, Any]:
    """How an index built with these settings is made; a difference means re-embedding.
    ``encoder`` is the embedder's exact encoder (``fp32`` or ``int8-...``, see embed.py)."""
    return {
        "format_version": FORMAT_VERSION,
        "embed_model": model_id,
        "embed_precision": encoder.partition("-")[0],
        "embed_encoder": encoder,
        "embed_dim": dim,
        "chunker": {
            "splitter": "recursive-tokens-titled",
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap,
        },
        "language": settings.language,
        "analysis": ANALYSIS,
        "vector_index": settings.vector_index,
    }


def reembed_reason(
    old: dict[str, Any], wanted: dict[str, Any], rebuild: bool, *, converts_vectors: bool = False
) -> str:
    """Why an index built as ``old`` must be embedded again to be as ``wanted`` ("" if not).
    ``converts_vectors``: the store changes its vector index kind from the stored vectors
    (the directory store, vectors.py), so a ``vector_index`` change is no reason."""
    if not old:
        return ""
    if rebuild:
        return "rebuild requested"
    old = {"embed_encoder": "fp32", **old}  # built before ancre recorded the encoder
    keys = ["embed_model", "embed_encoder", "chunker", "language"]
    if not converts_vectors:
        keys.append("vector_index")
    for key in keys:
        before, after = old.get(key), wanted[key]
        if key == "vector_index" and {before, after} <= {"auto", "flat"}:
            continue  # auto was flat's place as the default; only hnsw is another layout
        if before != after:
            return f"{key} changed: {before} -> {after}"
    return ""


@dataclass
class ChunkRow:
    chunk_id: int
    doc_id: str
    ord: int
    start: int
    end: int
    text: str
    title: str
    url: str
    date: str


def vectors_path(index_dir: Path, generation: int) -> Path:
    return index_dir / f"vectors-{generation}.faiss"


def postings_path(index_dir: Path, generation: int) -> Path:
    return index_dir / f"lexical-{generation}.npz"


def stored_postings(conn: sqlite3.Connection) -> Postings:
    """BM25 postings built from the fts table as committed (an index without its postings
    file: its writer makes one at its next commit)."""
    rows = conn.execute("SELECT rowid, body FROM fts").fetchall()
    return Postings.from_texts([r[0] for r in rows], [r[1] for r in rows])


def connect(index_dir: Path, readonly: bool = False) -> sqlite3.Connection:
    path = index_dir / STORE
    if readonly:
        if not path.exists():
            raise StoreError(
                f"no index in {index_dir}: build one with `ancre index build SOURCE... "
                f"--index-dir {index_dir}`"
            )
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        index_dir.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def read_manifest(conn: sqlite3.Connection) -> dict[str, Any]:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='manifest'").fetchone()
    except sqlite3.DatabaseError as err:
        raise StoreError(f"the index store is unreadable ({err})") from None
    return json.loads(row[0]) if row else {}


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C back until the block is done, then raise it: a commit is never cut
    between its vectors and its tables. (Only the main thread receives signals.)"""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if received:
            raise KeyboardInterrupt


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_vectors(path: Path, index) -> None:
    """Write a FAISS index in full under ``path`` (straight to disk: no copy in memory)."""
    import faiss

    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    faiss.write_index(index, str(tmp))
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def remove_leftovers(index_dir: Path, generation: int) -> list[str]:
    """Delete what an interrupted build may leave: vectors of other generations and
    half-written ``*.tmp<pid>`` files. Only the holder of the build lock may call this."""
    keep = {vectors_path(index_dir, generation).name, postings_path(index_dir, generation).name}
    removed = []
    for path in index_dir.iterdir():
        stale = path.name.startswith(("vectors-", "lexical-")) and path.name not in keep
        if (stale or ".tmp" in path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


class IndexReader:
    """Read side of an index directory: dense and lexical search, chunk lookup.

    Thread-safe. ``refresh()`` switches to a newer generation written by a build, so readers
    answer from the previous index until the new one is committed."""

    def __init__(self, index_dir: str | Path):
        self.index_dir = Path(index_dir).expanduser()
        self._lock = threading.RLock()
        self._conn = connect(self.index_dir, readonly=True)
        self.generation = -1
        self.manifest: dict[str, Any] = {}
        self.vectors = None
        self.postings: Postings | None = None
        """BM25 postings of this generation (None: FTS5 serves lexical search)."""
        self.refresh()

    def refresh(self) -> bool:
        """Load the newest committed generation; True when it changed."""
        import faiss

        with self._lock:
            for _attempt in range(5):
                manifest = read_manifest(self._conn)
                if not manifest:
                    raise StoreError(
                        f"{self.index_dir} holds no finished index build: run "
                        f"`ancre index build SOURCE... --index-dir {self.index_dir}`"
                    )
                if manifest.get("format_version") not in READABLE_FORMATS:
                    raise StoreError(
                        f"index format {manifest.get('format_version')} in {self.index_dir}, "
                        f"this ancre reads {FORMAT_VERSION}: rebuild it with "
                        f"`ancre index build SOURCE... --rebuild --index-dir {self.index_dir}`"
                    )
                gen = manifest["generation"]
                if gen == self.generation:
                    return False
                path = vectors_path(self.index_dir, gen)
                try:
                    vectors = faiss.read_index(str(path))
                except RuntimeError:
                    if path.exists():
                        raise StoreError(f"cannot read {path}") from None
                    continue  # a build replaced it meanwhile: read the manifest again
                vector_kinds.tune(vectors, manifest.get("vectors", {}))
                postings = Postings.load(postings_path(self.index_dir, gen))
                self.manifest, self.generation, self.vectors = manifest, gen, vectors
                self.postings = postings
                return True
            raise StoreError(f"vectors of {self.index_dir} keep changing; try again")

    @property
    def size(self) -> int:
        return int(self.vectors.ntotal) if self.vectors is not None else 0

    def dense_search(self, query_vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        if self.size == 0:
            return [[] for _ in range(len(query_vectors))]
        with self._lock:
            vectors = self.vectors
        scores, ids = vectors.search(np.ascontiguousarray(query_vectors, dtype="float32"), k)
        return [
            [(int(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
            for row_ids, row_scores in zip(ids, scores, strict=True)
        ]

    def lexical_search(self, text: str, k: int) -> list[tuple[int, float]]:
        """BM25, best first; scores are positive (FTS5's bm25(), negated). From the
        in-memory postings, else FTS5 (an index written before they existed)."""
        with self._lock:
            postings = self.postings
        if postings is None:
            return self.fts_search(text, k)
        return postings.search(analyze(text, self.manifest.get("language", "french")), k)

    def fts_search(self, text: str, k: int) -> list[tuple[int, float]]:
        """The same BM25 from SQLite FTS5 (what ``ancre bench`` compares the postings with);
        ties in any order."""
        query = fts_query(analyze(text, self.manifest.get("language", "french")))
        if not query:
            return []
        with self._lock:
            rows = self._conn.execute(
                "SELECT rowid, -bm25(fts) AS s FROM fts WHERE fts MATCH ? ORDER BY s DESC LIMIT ?",
                (query, k),
            ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def doc_freq(self, terms: list[str]) -> dict[str, int]:
        """How many chunks hold each analysed term."""
        unique = list(dict.fromkeys(terms))
        if not unique:
            return {}
        with self._lock:
            postings = self.postings
        if postings is not None:
            return {t: postings.doc_freq(t) for t in unique}
        marks = ",".join("?" * len(unique))
        with self._lock:
            df = dict(
                self._conn.execute(
                    f"SELECT term, doc FROM fts_vocab WHERE term IN ({marks})", unique
                )
            )
        return {t: int(df.get(t, 0)) for t in unique}

    def idf(self, terms: list[str]) -> dict[str, float]:
        """BM25 idf of analysed terms over the chunks (a term in no chunk gets the largest)."""
        return self.term_stats(terms)[0]

    def term_stats(self, terms: list[str]) -> tuple[dict[str, float], dict[str, int]]:
        """(BM25 idf, chunk frequency) of analysed terms, from one look-up."""
        df = self.doc_freq(terms)
        with self._lock:
            postings = self.postings
            if postings is not None:
                n = postings.size or 1
            else:
                n = self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0] or 1
        idf = {t: float(np.log(1 + (n - d + 0.5) / (d + 0.5))) for t, d in df.items()}
        return idf, df

    def chunks(self, ids: list[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._conn.execute(
                f'SELECT c.id, c.doc_id, c.ord, c.start, c."end", c.text, d.title, d.url, '
                f"d.date FROM chunks c JOIN documents d ON d.doc_id = c.doc_id "
                f"WHERE c.id IN ({marks})",
                ids,
            ).fetchall()
        return {r[0]: ChunkRow(*r) for r in rows}

    def chunk_vectors(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of chunk ``ids``, one row per id."""
        with self._lock:
            return np.stack([self.vectors.reconstruct(int(i)) for i in ids])

    def ids(self) -> np.ndarray:
        """The chunk ids of the stored vectors (int64): in the order they were added, or
        ascending for an ivf index (chunk ids grow as chunks are added)."""
        with self._lock:
            if self.vectors is None:
                return np.zeros(0, dtype="int64")
            return vector_kinds.ids_of(self.vectors)

    def documents(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT doc_id, title, url, date, author, source, n_chunks, indexed_at "
                "FROM documents ORDER BY doc_id"
            ).fetchall()
        keys = ("doc_id", "title", "url", "date", "author", "source", "n_chunks", "indexed_at")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            docs = self._conn.execute("SELECT count(*) FROM documents").fetchone()[0]
            chunks = self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        disk = sum(p.stat().st_size for p in self.index_dir.iterdir() if p.is_file())
        return {
            "index_dir": str(self.index_dir),
            "documents": docs,
            "chunks": chunks,
            "vectors": self.size,
            "disk_bytes": disk,
            **self.manifest,
        }

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
