"""Write document changes into an index directory, in batches that each commit atomically
(the directory store's ``StoreWriter``; chunking, embedding and ``due()`` are the
``BaseWriter``'s).

``DirectoryWriter`` holds the directory's build lock. A commit writes the vectors of a new
generation in full, then moves the SQLite tables and the manifest to it in one transaction:
a kill at any moment leaves the last committed batch whole, and Ctrl-C during a commit is
held back until the commit is done.

A change of model (or ``--rebuild``) re-embeds the chunks as they are, resumably, while
readers keep the old model (``reembed.py``), then switches to them in one such commit; a
chunker or language change chunks every document again and writes it in a single final
commit, so that the index never mixes two encoders: interrupted, that one starts over.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ...embed import Embedder, load_embedder
from ...errors import DamagedFile, StoreError
from ...loaders import Document
from ..base import interrupts_deferred
from ..basewriter import BaseWriter, Planned
from ..manifest import READABLE_FORMATS
from . import vectors as vector_kinds
from .atomic import replacing, write_atomic
from .layout import (
    CHANGED_SINCE_COMMIT,
    VECTORS_DIGEST,
    connect,
    file_digest,
    lock_for_build,
    pages,
    postings_path,
    read_manifest,
    remove_leftovers,
    store_damaged,
    stored_postings,
    vectors_path,
    write_vectors,
)
from .reembed import Staging

log = logging.getLogger(__name__)


class DirectoryWriter(BaseWriter):
    """Applies document changes to an index directory (one at a time, under its lock)."""

    formats = READABLE_FORMATS
    converts_vectors = True

    def _open(self, wait: float) -> dict[str, Any]:
        self.index_dir = Path(self.settings.index_dir)
        self._filelock = lock_for_build(self.index_dir, wait)
        try:
            self.conn = connect(self.index_dir)
            return read_manifest(self.conn, self.index_dir)
        except sqlite3.DatabaseError as err:
            self._filelock.release()
            raise StoreError(store_damaged(self.index_dir, err)) from None
        except BaseException:
            self._filelock.release()
            raise

    def _load_embedder(self, old: dict[str, Any]) -> Embedder:
        s = self.settings
        return load_embedder(
            s.embed_model or old.get("embed_model", ""),
            s.embed_backend,
            s.cache_dir,
            s.embed_batch_size,
            s.embed_precision or old.get("embed_precision", ""),
        )

    def _opened(self, old: dict[str, Any]) -> None:
        self.legacy_ids = bool(old) and (
            old.get("format_version") == 1 or bool(old.get("legacy_ids"))
        )
        """Some ids may still be in format 1 (bare paths): a build re-keys them."""
        self.old = old
        self.generation = int(old.get("generation", 0))
        self.chunks_stay = bool(self.reembed_reason) and all(
            old.get(key) == self._target[key] for key in ("chunker", "language")
        )
        """Only the encoder changes: the chunks stay and their vectors are re-embedded
        resumably (see reembed.py)."""
        self.staging = Staging(self.conn, self.index_dir)
        self._vectors: Any = None
        self._postings: Any = None
        if old:
            self._tidy()
        if old and not self.reembed_reason:
            self._check_files()

    def _check_files(self) -> None:
        """Repair what is derived from the store: a vectors file that is missing, unreadable
        or out of step with the chunks is embedded again from the stored chunks (not from
        the sources); damaged postings are built again from the fts table."""
        import faiss

        from .postings import Postings

        path = vectors_path(self.index_dir, self.generation)
        problem = ""
        try:
            vectors = faiss.read_index(str(path))
        except RuntimeError:
            problem = "missing" if not path.exists() else "not a readable FAISS file"
        else:
            digest = self.old.get(VECTORS_DIGEST)
            if digest and file_digest(path) != digest:
                problem = CHANGED_SINCE_COMMIT
            else:
                problem = vector_kinds.id_mismatch(self.conn, vectors)
            if not problem:
                self._vectors = vectors
        if problem:
            self.reembed_reason = f"{path.name} is damaged ({problem})"
            self.chunks_stay = True
            log.warning("%s: embedding the stored chunks again", self.reembed_reason)
        try:
            self._postings = Postings.load(postings_path(self.index_dir, self.generation))
        except DamagedFile as err:
            log.warning("%s: building it again from the store", err.path)
            postings_path(self.index_dir, self.generation).unlink(missing_ok=True)

    def _release(self) -> None:
        self.conn.close()
        self._filelock.release()

    def _tidy(self) -> None:
        """Remove what an interrupted build left, and restore manifest.json if a kill came
        between the commit and its copy."""
        self.staging.drop_unless(self._target if self.chunks_stay else None)
        removed = remove_leftovers(self.index_dir, self.generation)
        if removed:
            log.info("removed leftovers of an interrupted build: %s", ", ".join(removed))
        copy = self.index_dir / "manifest.json"
        try:
            same = json.loads(copy.read_text()) == self.old
        except (OSError, ValueError):
            same = False
        if not same:
            write_atomic(copy, json.dumps(self.old, indent=2).encode())

    # ---- reading the current state
    def counts(self) -> tuple[int, int]:
        """(documents, chunks) in the index."""
        docs = self.conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        return docs, self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def known_sources(self) -> dict[str, tuple[str, str]]:
        """doc_id -> (content hash, source file) of the indexed documents."""
        rows = self.conn.execute("SELECT doc_id, hash, source FROM documents")
        return {r[0]: (r[1], r[2] or "") for r in rows}

    def stored_documents(self, page: int = 500) -> Iterator[Document]:
        """The indexed documents, read a page at a time."""
        sql = (
            "SELECT doc_id, text, title, url, date, author, source, metadata FROM documents "
            "WHERE doc_id > ? ORDER BY doc_id LIMIT ?"
        )
        for rows in pages(self.conn, sql, "", page):
            for r in rows:
                yield Document(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7] or "{}"))

    def vectors(self):
        import faiss

        if self._vectors is None:
            path = vectors_path(self.index_dir, self.generation)
            if self.old and not self.reembed_reason and path.exists():
                self._vectors = faiss.read_index(str(path))
            else:
                self._vectors = vector_kinds.new_index(
                    self.embedder.dim, self.settings.vector_index
                )
        return self._vectors

    def postings(self):
        """The BM25 postings of the committed chunks (read from this generation's file, or
        built from the fts table where there is none)."""
        if self._postings is None:
            from .postings import Postings

            try:
                found = Postings.load(postings_path(self.index_dir, self.generation))
            except DamagedFile:
                found = None  # derived from the fts table: built again from it
            self._postings = found if found is not None else stored_postings(self.conn)
        return self._postings

    def upgrade_due(self) -> bool:
        """The files of the index should be written again though no document changed: the
        vector index should change kind (or retrain) for the setting and the size, or the
        BM25 postings file is missing (an index written before it existed). Read from the
        manifest and the folder: nothing is loaded."""
        if not self.old or self.reembed_reason:
            return False
        if not postings_path(self.index_dir, self.generation).exists():
            return True
        layout = self.old.get("vectors") or {"kind": self.old.get("vector_index", "flat")}
        return vector_kinds.layout_due(layout, self.settings.vector_index, self.counts()[1])

    # ---- re-embedding
    def reembed(self, progress: bool = False) -> int:
        """Embed every indexed document again (``reembed_reason`` says why). When only the
        encoder changes, this is done now, resumably, and returns the chunks embedded; else
        the documents are chunked again and go into the next commit (returns 0)."""
        if not self.chunks_stay:
            for doc in self.stored_documents():
                self.put(doc)
            return 0
        staged, embedded = self.staging.embed(
            self.embedder, self._target, self.settings, progress or self._progress
        )
        self._switch(staged)
        return embedded

    def _switch(self, staged: Any) -> None:
        """One commit moves the index to the staged vectors and the new settings; the
        chunks stay, and so do their postings, under the new generation."""
        gen = self.generation + 1
        staged = vector_kinds.fit(staged, self.settings.vector_index)
        manifest = self._manifest(gen, staged)
        postings = self.postings()
        try:
            with interrupts_deferred():
                manifest[VECTORS_DIGEST] = write_vectors(vectors_path(self.index_dir, gen), staged)
                postings.save(postings_path(self.index_dir, gen))
                self._publish(
                    gen,
                    manifest,
                    staged,
                    postings,
                    lambda c: c.execute("DELETE FROM meta WHERE key='staging'"),
                    files_written=True,
                )
        finally:
            if self.generation == gen:  # switched, even if interrupted right after
                self.staging.clear()

    # ---- the embedding progress of big documents (basewriter.KEEP_PROGRESS_FROM)
    def _kept_path(self, digest: str) -> Path:
        return self.index_dir / f"progress-{digest[:32]}.npz"

    def _kept_meta(self, planned: Planned) -> dict[str, Any]:
        target = json.loads(json.dumps(self._target))
        return {"digest": planned.digest, "chunks": len(planned.spans), "target": target}

    def _keep(self, planned: Planned) -> None:
        meta = json.dumps(self._kept_meta(planned))
        with replacing(self._kept_path(planned.digest)) as fh:
            np.savez(fh, done=planned.done, vectors=planned.vectors, meta=np.array(meta))

    def _kept(self, planned: Planned) -> tuple[Any, Any] | None:
        path = self._kept_path(planned.digest)
        try:
            with np.load(path, allow_pickle=False) as kept:
                if json.loads(str(kept["meta"])) != self._kept_meta(planned):
                    return None
                done, vectors = kept["done"].copy(), kept["vectors"].copy()
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
            log.warning("%s is unreadable (%s): embedding that document from its start", path, err)
            return None
        if done.shape != (len(planned.spans),) or len(vectors) != len(planned.spans):
            return None
        log.info("%s: going on from %d of %d chunks", planned.doc.source, done.sum(), len(done))
        return done, vectors

    def _forget_kept(self, digests: list[str] | None) -> None:
        paths = (
            self.index_dir.glob("progress-*.npz")
            if digests is None
            else (self._kept_path(d) for d in digests)
        )
        for path in paths:
            path.unlink(missing_ok=True)

    # ---- commits
    def _must_write(self) -> bool:
        return bool(self.reembed_reason) or not self.old or self.upgrade_due()

    def _write(self, plan: list[Planned], removals: list[str]) -> int:
        replaced = [p.doc.doc_id for p in plan] + removals
        touches_vectors = (
            bool(replaced) or bool(self.reembed_reason) or not self.old or self.upgrade_due()
        )
        vectors = self.vectors()
        old_ids = self._chunk_ids(replaced)
        if touches_vectors:
            vectors = vector_kinds.remove(vectors, old_ids)
        next_id = (self.conn.execute("SELECT max(id) FROM chunks").fetchone()[0] or 0) + 1
        rows, fts_rows, parts = [], [], []
        for p in plan:
            for s, body in zip(p.spans, self.lexical(p), strict=True):
                rows.append((next_id, p.doc.doc_id, s.ord, s.start, s.end, s.text))
                fts_rows.append((next_id, body))
                next_id += 1
            if p.spans:
                parts.append(p.vectors)
        if rows:
            ids = np.array([r[0] for r in rows], dtype="int64")
            vectors.add_with_ids(np.concatenate(parts), ids)
        if touches_vectors:
            vectors = vector_kinds.fit(vectors, self.settings.vector_index)
        gen = self.generation + 1 if touches_vectors else self.generation
        postings = self._postings
        digest = self.old.get(VECTORS_DIGEST)
        if touches_vectors:
            new_ids, bodies = [r[0] for r in fts_rows], [r[1] for r in fts_rows]
            postings = self.postings().updated(old_ids, new_ids, bodies)
            digest = write_vectors(vectors_path(self.index_dir, gen), vectors)
            try:
                postings.save(postings_path(self.index_dir, gen))
            except BaseException:  # a full disk: the new vectors are of no use alone
                vectors_path(self.index_dir, gen).unlink(missing_ok=True)
                self._vectors = None
                raise

        def statements(c: sqlite3.Connection) -> None:
            for old_id, new_id, source in self._rekeys:
                c.execute(
                    "UPDATE documents SET doc_id = ?, source = ? WHERE doc_id = ?",
                    (new_id, source, old_id),
                )
                c.execute("UPDATE chunks SET doc_id = ? WHERE doc_id = ?", (new_id, old_id))
            self._delete_docs(replaced, old_ids)
            self._insert(plan, rows, fts_rows)

        manifest = self._manifest(gen, vectors)
        if digest:
            manifest[VECTORS_DIGEST] = digest
        self._publish(gen, manifest, vectors, postings, statements, files_written=touches_vectors)
        return len(rows)

    def _manifest(self, gen: int, vectors: Any) -> dict[str, Any]:
        manifest = dict(self._target, embed_dim=vectors.d, generation=gen)
        # to the microsecond: after an interruption, an equal manifest means "committed"
        manifest["built_at"] = datetime.now().astimezone().isoformat(timespec="microseconds")
        manifest["vectors"] = vector_kinds.describe(vectors)
        if self.legacy_ids:
            manifest["legacy_ids"] = True
        return manifest

    def _publish(
        self,
        gen: int,
        manifest: dict[str, Any],
        vectors: Any,
        postings: Any,
        statements: Callable[[sqlite3.Connection], Any],
        *,
        files_written: bool,
    ) -> None:
        """Run ``statements`` and move the manifest to ``gen`` in one SQLite transaction
        (the files of ``gen`` are written already when ``files_written``). Interrupted
        before its COMMIT, the index stays as it was and those files are deleted."""
        c = self.conn
        try:
            c.execute("BEGIN IMMEDIATE")
            statements(c)
            c.execute("INSERT OR REPLACE INTO meta VALUES ('manifest', ?)", (json.dumps(manifest),))
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            if read_manifest(c) == manifest:  # it came right after COMMIT: the batch is in
                self._committed(gen, manifest, vectors, postings)
                self._written()
                raise
            if files_written:
                vectors_path(self.index_dir, gen).unlink(missing_ok=True)
                postings_path(self.index_dir, gen).unlink(missing_ok=True)
            self._vectors = None  # the copy in memory may have gone ahead of the tables
            failed = sys.exc_info()[1]
            if isinstance(failed, sqlite3.DatabaseError):  # a full disk, named with its way out
                raise StoreError(store_damaged(self.index_dir, failed)) from None
            raise
        self._committed(gen, manifest, vectors, postings)

    def _committed(self, gen: int, manifest: dict[str, Any], vectors: Any, postings: Any) -> None:
        """Bookkeeping once a batch is in: the writer's state, then the files around it."""
        self.generation, self.old, self._vectors = gen, manifest, vectors
        self._postings = postings
        self.reembed_reason, self.chunks_stay = "", False
        remove_leftovers(self.index_dir, gen)
        write_atomic(self.index_dir / "manifest.json", json.dumps(manifest, indent=2).encode())

    def _insert(self, plan: list[Planned], rows: list[tuple], fts_rows: list[tuple]) -> None:
        now = time.time()
        self.conn.executemany(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    p.doc.doc_id,
                    p.digest,
                    p.doc.title,
                    p.doc.url,
                    p.doc.date,
                    p.doc.author,
                    p.doc.source,
                    json.dumps(p.doc.metadata, default=str),
                    p.doc.text,
                    len(p.spans),
                    now,
                )
                for p in plan
            ],
        )
        self.conn.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?)", rows)
        self.conn.executemany("INSERT INTO fts(rowid, body) VALUES (?,?)", fts_rows)

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
