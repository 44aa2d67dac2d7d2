"""The read side of an index directory (see layout.py for its files): dense search in the
FAISS vectors, BM25 in the postings (or SQLite FTS5), chunk look-up in SQLite."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DamagedFile, repair_command
from ...lexical import analyze, fts_query
from ...loaders import Document
from ..base import ChunkRow, StoreError
from ..manifest import FORMAT_VERSION, READABLE_FORMATS
from . import vectors as vector_kinds
from .layout import (
    CHANGED_SINCE_COMMIT,
    VECTORS_DIGEST,
    connect,
    file_digest,
    postings_path,
    read_manifest,
    store_damaged,
    vectors_path,
)
from .postings import Postings


class DirectoryReader:
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
            missing = None
            for _attempt in range(5):
                manifest = read_manifest(self._conn, self.index_dir)
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
                    digest = file_digest(path)
                    flags = vector_kinds.read_flags(manifest.get("vectors", {}))
                    vectors = faiss.read_index(str(path), flags)
                except (RuntimeError, FileNotFoundError):
                    if path.exists():
                        what = "empty" if not path.stat().st_size else "not a readable FAISS file"
                        raise DamagedFile(path, what, self._repair) from None
                    if missing == path:  # the same generation twice: no build replaced it
                        raise DamagedFile(path, "missing", self._repair) from None
                    missing = path
                    continue  # a build replaced it meanwhile: read the manifest again
                if manifest.get(VECTORS_DIGEST, digest) != digest:
                    raise DamagedFile(path, CHANGED_SINCE_COMMIT, self._repair)
                self._check(path, vectors)
                vector_kinds.tune(vectors, manifest.get("vectors", {}))
                postings = Postings.load(postings_path(self.index_dir, gen))
                self.manifest, self.generation, self.vectors = manifest, gen, vectors
                self.postings = postings
                return True
            raise StoreError(f"vectors of {self.index_dir} keep changing; try again")

    @property
    def _repair(self) -> str:
        return repair_command(self.index_dir)

    def _check(self, path: Path, vectors: Any) -> None:
        """What is cheap to check at open: one vector per chunk, under the chunk's id."""
        try:
            problem = vector_kinds.id_mismatch(self._conn, vectors)
        except sqlite3.DatabaseError as err:
            raise StoreError(store_damaged(self.index_dir, err)) from None
        if problem:
            raise DamagedFile(path, problem, self._repair)

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
        with self._lock, self._store_damage():
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

    @contextmanager
    def _store_damage(self) -> Iterator[None]:
        """A damaged page of the store, met while reading it, is named (not a traceback)."""
        try:
            yield
        except sqlite3.DatabaseError as err:
            raise StoreError(store_damaged(self.index_dir, err)) from None

    def documents(self) -> list[dict[str, Any]]:
        with self._lock, self._store_damage():
            rows = self._conn.execute(
                "SELECT doc_id, title, url, date, author, source, n_chunks, indexed_at "
                "FROM documents ORDER BY doc_id"
            ).fetchall()
        keys = ("doc_id", "title", "url", "date", "author", "source", "n_chunks", "indexed_at")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def document(self, doc_id: str) -> Document | None:
        with self._lock, self._store_damage():
            r = self._conn.execute(
                "SELECT doc_id, text, title, url, date, author, source, metadata FROM documents "
                "WHERE doc_id = ?",
                (doc_id,),
            ).fetchone()
        if r is None:
            return None
        return Document(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7] or "{}"))

    def stats(self) -> dict[str, Any]:
        with self._lock, self._store_damage():
            docs = self._conn.execute("SELECT count(*) FROM documents").fetchone()[0]
            chunks = self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        disk = sum(p.stat().st_size for p in self.index_dir.iterdir() if p.is_file())
        return {
            "index_dir": str(self.index_dir),
            "documents": docs,
            "chunks": chunks,
            "disk_bytes": disk,
            **self.manifest,
            "vectors": self.size,
            "vector_layout": self.manifest.get("vectors", {}),
        }

    def check_store(self) -> None:
        """SQLite's quick check of the whole store (reads every page: on demand only);
        ``StoreError`` naming the damage."""
        with self._lock, self._store_damage():
            found = [r[0] for r in self._conn.execute("PRAGMA quick_check(5)")]
        if found != ["ok"]:
            raise StoreError(store_damaged(self.index_dir, "; ".join(found)[:300]))

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> DirectoryReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
