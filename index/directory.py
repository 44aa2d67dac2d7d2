"""Writing the directory store (the StoreWriter protocol; layout in store.py).

A commit is one SQLite transaction that also moves ``meta.generation`` to a vectors file
already written in full: a crash at any point leaves the previous generation whole. One
build at a time holds the directory's ``.lock``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .loaders import Document
from .store import (
    FORMAT_VERSION,
    connect,
    new_vector_index,
    read_manifest,
    remove_vectors,
    vectors_path,
    write_atomic,
)
from .stores import Batch, BuildLocked

log = logging.getLogger(__name__)


def _lock(index_dir: Path, wait: float):
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


class DirectoryWriter:
    """Write side of an index directory; holds its lock while open."""

    def __init__(self, index_dir: str | Path, *, wait: float = 0.0):
        self.index_dir = Path(index_dir).expanduser()
        self._filelock = _lock(self.index_dir, wait)
        try:
            self.conn = connect(self.index_dir)
            self.manifest: dict[str, Any] = read_manifest(self.conn)
        except BaseException:
            self._filelock.release()
            raise
        self.generation = int(self.manifest.get("generation", 0))
        self._vectors = None

    def known(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT doc_id, hash FROM documents"))

    def stored_documents(self) -> Iterator[Document]:
        rows = self.conn.execute(
            "SELECT doc_id, text, title, url, date, author, source, metadata FROM documents"
        ).fetchall()
        for r in rows:
            yield Document(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7] or "{}"))

    def counts(self) -> tuple[int, int]:
        docs = self.conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        chunks = self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return docs, chunks

    def _vectors_for(self, batch: Batch):
        import faiss

        kind, dim = batch.manifest["vector_index"], int(batch.manifest["embed_dim"])
        if batch.fresh or self._vectors is None:
            path = vectors_path(self.index_dir, self.generation)
            same = self.manifest.get("format_version") == FORMAT_VERSION
            if not batch.fresh and same and path.exists():
                self._vectors = faiss.read_index(str(path))
            else:
                self._vectors = new_vector_index(dim, kind)
        return self._vectors

    def write(self, batch: Batch) -> None:
        import faiss

        kind = batch.manifest["vector_index"]
        vectors = self._vectors_for(batch)
        replaced = [p.doc.doc_id for p in batch.documents] + batch.removals
        if batch.fresh:
            replaced = [r[0] for r in self.conn.execute("SELECT doc_id FROM documents")]
        old_ids = self._chunk_ids(replaced)
        if not batch.fresh:
            vectors = remove_vectors(vectors, old_ids, kind)
        next_id = (self.conn.execute("SELECT max(id) FROM chunks").fetchone()[0] or 0) + 1
        rows, fts_rows, embeddings = [], [], []
        for p in batch.documents:
            for span, lex in zip(p.spans, p.lexical, strict=True):
                rows.append((next_id, p.doc.doc_id, span.ord, span.start, span.end, span.text))
                fts_rows.append((next_id, lex))
                next_id += 1
            embeddings.append(np.asarray(p.vectors, dtype="float32"))
        if rows:
            ids = np.array([r[0] for r in rows], dtype="int64")
            vectors.add_with_ids(np.concatenate(embeddings), ids)
        gen = self.generation + 1
        write_atomic(vectors_path(self.index_dir, gen), faiss.serialize_index(vectors).tobytes())
        manifest = {**batch.manifest, "generation": gen}
        manifest["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        now = time.time()
        c = self.conn
        try:
            c.execute("BEGIN IMMEDIATE")
            self._delete_docs(replaced, old_ids)
            c.executemany(
                "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        d.doc_id,
                        d.hash,
                        d.title,
                        d.url,
                        d.date,
                        d.author,
                        d.source,
                        json.dumps(d.metadata, ensure_ascii=False, default=str),
                        d.text,
                        len(p.spans),
                        now,
                    )
                    for p in batch.documents
                    for d in (p.doc,)
                ],
            )
            c.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?)", rows)
            c.executemany("INSERT INTO fts(rowid, body) VALUES (?,?)", fts_rows)
            c.execute("INSERT OR REPLACE INTO meta VALUES ('manifest', ?)", (json.dumps(manifest),))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            vectors_path(self.index_dir, gen).unlink(missing_ok=True)
            raise
        self.generation, self.manifest, self._vectors = gen, manifest, vectors
        for stale in self.index_dir.glob("vectors-*.faiss*"):
            if stale.name != f"vectors-{gen}.faiss":
                stale.unlink(missing_ok=True)
        write_atomic(self.index_dir / "manifest.json", json.dumps(manifest, indent=2).encode())

    def _chunk_ids(self, doc_ids: list[str]) -> list[int]:
        ids: list[int] = []
        for i in range(0, len(doc_ids), 500):
            part = doc_ids[i : i + 500]
            marks = ",".join("?" * len(part))
            ids += [
                r[0]
                for r in self.conn.execute(f"SELECT id FROM chunks WHERE doc_id IN ({marks})", part)
            ]
        return ids

    def _delete_docs(self, doc_ids: list[str], chunk_ids: list[int]) -> None:
        c = self.conn
        c.executemany("DELETE FROM fts WHERE rowid = ?", [(i,) for i in chunk_ids])
        c.executemany("DELETE FROM chunks WHERE doc_id = ?", [(d,) for d in doc_ids])
        c.executemany("DELETE FROM documents WHERE doc_id = ?", [(d,) for d in doc_ids])

    def close(self) -> None:
        self.conn.close()
        self._filelock.release()

    def __enter__(self) -> DirectoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
