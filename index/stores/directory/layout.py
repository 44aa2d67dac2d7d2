"""The files of an index directory: a SQLite store (documents, chunks, FTS5 lexical index,
manifest) beside a FAISS file of chunk vectors.

Layout of ``index_dir``::

    store.sqlite        documents, chunks, fts (BM25 over analysed tokens), meta (manifest)
    vectors-<gen>.faiss chunk vectors, FAISS ids = chunk ids (its SHA-256 in the manifest)
    lexical-<gen>.npz   BM25 postings of the fts table, in memory when read (postings.py)
    manifest.json       a readable copy of the manifest
    progress-<hash>.npz the vectors embedded so far of a big document not committed yet
    .lock               held by the one build that may write

A write is one SQLite transaction that also moves ``meta.generation`` to a vectors file
(and a postings file) already written in full: a crash at any point leaves the previous
generation whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import disk_full
from ..base import BuildLocked, StoreError
from .postings import Postings

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


def pages(conn: sqlite3.Connection, sql: str, first: Any, size: int) -> Iterator[list[tuple]]:
    """The rows of ``sql`` a page of ``size`` at a time: ``sql`` takes the last key seen and
    a limit, and orders by that key, its first column (``first``: below every key)."""
    last = first
    while rows := conn.execute(sql, (last, size)).fetchall():
        yield rows
        last = rows[-1][0]


def store_damaged(index_dir: Path, err: Exception) -> str:
    """What to say of a damaged SQLite store: it is the index's source of truth, so the way
    out is building the index again from the sources. A full disk is not damage."""
    return disk_full(index_dir / STORE, err) or (
        f"{index_dir / STORE} is damaged ({err}): build the index again from its sources "
        f"into a new folder (`ancre index build SOURCE... --index-dir NEW_DIR`), or move "
        f"{index_dir} away and build it again"
    )


def read_manifest(conn: sqlite3.Connection, index_dir: Path | None = None) -> dict[str, Any]:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='manifest'").fetchone()
    except sqlite3.DatabaseError as err:
        if "no such table: meta" in str(err):
            return {}  # an empty store file (a first build stopped by a full disk, say)
        if index_dir is None:
            raise StoreError(f"the index store is unreadable ({err})") from None
        raise StoreError(store_damaged(index_dir, err)) from None
    return json.loads(row[0]) if row else {}


VECTORS_DIGEST = "vectors_sha256"
"""The manifest's key for the SHA-256 of its generation's vectors file, written at commit
and compared at open: bytes changed inside the file, which FAISS reads without complaint,
are caught there."""


CHANGED_SINCE_COMMIT = "its bytes changed since it was written: checksum mismatch"


def file_digest(path: Path) -> str:
    """The SHA-256 of a file, hex (about 0.7 ms a MB: cheap enough for every open)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_vectors(path: Path, index) -> str:
    """Write a FAISS index in full under ``path`` (straight to disk: no copy in memory);
    its digest (``file_digest``) for the manifest."""
    import faiss

    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        faiss.write_index(index, str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        os.replace(tmp, path)
        return digest
    except (RuntimeError, OSError) as err:
        tmp.unlink(missing_ok=True)  # never leave a half-written file on a full disk
        reason = "no space left on device" if "No space left" in str(err) else str(err)
        raise StoreError(f"cannot write {path}: {reason.strip().splitlines()[-1]}") from None


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
