"""Write document changes into an index directory, in batches that each commit atomically
(the directory store's ``StoreWriter``; Milvus has its own, milvus_build.py).

``Writer`` holds the directory's build lock. ``put`` chunks a document at once and queues its
chunks; once enough are queued they are embedded in batches sorted by length across
documents (similar lengths pad little), so embedding goes on while files are read. ``due()``
says when to ``commit()``: every ``commit_docs`` documents or ``commit_seconds`` seconds.
A commit writes the vectors of a new generation in full, then moves the SQLite tables and
the manifest to it in one transaction: a kill at any moment leaves the last committed batch
whole, and Ctrl-C during a commit is held back until the commit is done.

A change of model (or ``--rebuild``) re-embeds the chunks as they are, resumably, while
readers keep the old model (``reembed.py``); a chunker or language change chunks every
document again and writes it in a single final commit, so that the index never mixes two
encoders: interrupted, that one starts over.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from . import vectors as vector_kinds
from .chunker import Chunker, ChunkSpan, embed_text
from .embed import Embedder, load_embedder
from .lexical import analyze
from .loaders import Document
from .reembed import drop_stale_staging, reembed_chunks
from .settings import IndexSettings
from .store import (
    READABLE_FORMATS,
    connect,
    interrupts_deferred,
    lock_for_build,
    postings_path,
    read_manifest,
    reembed_reason,
    remove_leftovers,
    stored_postings,
    vectors_path,
    wanted_manifest,
    write_atomic,
    write_vectors,
)

log = logging.getLogger(__name__)

EMBED_BATCH = 256
"""Texts handed to the embedder at a time, taken from a length-sorted window."""
EMBED_WINDOW = 4 * EMBED_BATCH
"""Queued chunks that start an embedding pass: the wider the window, the closer the
lengths in each batch."""


@dataclass
class _Planned:
    """A document waiting for its commit, with the vectors of its chunks once embedded."""

    doc: Document
    digest: str
    spans: list[ChunkSpan]
    vectors: Any = None


class Writer:
    """Applies document changes to an index directory (one at a time, under its lock)."""

    def __init__(
        self,
        settings: IndexSettings,
        *,
        embedder: Embedder | None = None,
        wait: float = 0.0,
        rebuild: bool = False,
        progress: bool = False,
    ):
        self.settings = settings
        self.index_dir = Path(settings.index_dir)
        self._filelock = lock_for_build(self.index_dir, wait)
        try:
            self.conn = connect(self.index_dir)
            old = read_manifest(self.conn)
            if old and old.get("format_version") not in READABLE_FORMATS:
                rebuild = True
            self.legacy_ids = bool(old) and (
                old.get("format_version") == 1 or bool(old.get("legacy_ids"))
            )
            """Some ids may still be in format 1 (bare paths): a build re-keys them."""
            model = settings.embed_model or old.get("embed_model", "")
            precision = settings.embed_precision or old.get("embed_precision", "")
            self.embedder = embedder or load_embedder(
                model,
                settings.embed_backend,
                settings.cache_dir,
                settings.embed_batch_size,
                precision,
            )
            self.old = old
            self.generation = int(old.get("generation", 0))
            self.reembed_reason = self._needs_reembed(old, rebuild)
            wanted = wanted_manifest(settings, self.embedder.model_id, None, self.embedder.encoder)
            self._target = wanted
            self.chunks_stay = bool(self.reembed_reason) and all(
                old.get(key) == wanted[key] for key in ("chunker", "language")
            )
            """Only the encoder changes: the chunks stay and their vectors are re-embedded
            resumably (see reembed.py)."""
            self._vectors = None
            self._postings = None
            self._chunker: Chunker | None = None
            self._pending: dict[str, _Planned] = {}
            self._queue: list[tuple[_Planned, int]] = []
            self._removals: list[str] = []
            self._rekeys: list[tuple[str, str, str]] = []
            self._last_commit = time.monotonic()
            self.commits = 0
            """Commits made by this writer."""
            self._progress = progress
            self._bar = None
            if old:
                self._tidy()
        except BaseException:
            self._filelock.release()
            raise

    def _needs_reembed(self, old: dict[str, Any], rebuild: bool) -> str:
        wanted = wanted_manifest(self.settings, self.embedder.model_id, None, self.embedder.encoder)
        return reembed_reason(old, wanted, rebuild, converts_vectors=True)

    def _tidy(self) -> None:
        """Remove what an interrupted build left, and restore manifest.json if a kill came
        between the commit and its copy."""
        drop_stale_staging(self.conn, self.index_dir, self._target if self.chunks_stay else None)
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
    def known(self) -> dict[str, str]:
        """doc_id -> content hash of the indexed documents."""
        return dict(self.conn.execute("SELECT doc_id, hash FROM documents"))

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
        last = ""
        while True:
            rows = self.conn.execute(
                "SELECT doc_id, text, title, url, date, author, source, metadata FROM documents "
                "WHERE doc_id > ? ORDER BY doc_id LIMIT ?",
                (last, page),
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield Document(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7] or "{}"))
            last = rows[-1][0]

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

            found = Postings.load(postings_path(self.index_dir, self.generation))
            self._postings = found if found is not None else stored_postings(self.conn)
        return self._postings

    def reembed(self, progress: bool = False) -> int:
        """Embed every indexed document again (``reembed_reason`` says why). When only the
        encoder changes, this is done now, resumably, and returns the chunks embedded; else
        the documents are chunked again and go into the next commit (returns 0)."""
        if self.chunks_stay:
            return reembed_chunks(self, self._target, progress or self._progress)
        for doc in self.stored_documents():
            self.put(doc)
        return 0

    def adopt(self, generation: int, manifest: dict[str, Any], vectors: Any, postings: Any) -> None:
        """The index was moved to ``generation`` (by ``reembed_chunks``)."""
        self.generation, self.old, self._vectors = generation, manifest, vectors
        self._postings = postings
        self.reembed_reason, self.chunks_stay = "", False
        self._last_commit = time.monotonic()
        self.commits += 1

    # ---- changes
    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            self._chunker = Chunker(
                self.embedder.count_tokens,
                self.settings.chunk_tokens,
                self.settings.chunk_overlap,
                self.embedder.max_tokens,
            )
        return self._chunker

    def put(self, doc: Document) -> None:
        """Add or replace ``doc`` at the next commit; its chunks are embedded meanwhile."""
        planned = _Planned(doc, doc.hash, self.chunker.split(doc.text, doc.title))
        self._pending[doc.doc_id] = planned
        self._queue.extend((planned, i) for i in range(len(planned.spans)))
        if len(self._queue) >= EMBED_WINDOW:
            self._embed_queue()

    def remove(self, doc_id: str) -> None:
        self._removals.append(doc_id)

    def rekey(self, old_id: str, new_id: str, source: str) -> None:
        """Give an indexed document a new id (and source) without embedding it again."""
        self._rekeys.append((old_id, new_id, source))

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

    def due(self) -> bool:
        """Time to commit: enough documents, or enough time, since the last commit. Never
        while re-embedding everything (see the module docstring)."""
        if self.reembed_reason or not (self._pending or self._removals or self._rekeys):
            return False
        return (
            len(self._pending) >= self.settings.commit_docs
            or time.monotonic() - self._last_commit >= self.settings.commit_seconds
        )

    def _embed_queue(self) -> None:
        """Embed the queued chunks, longest first in batches of similar length."""
        import numpy as np

        queue = [(p, i) for p, i in self._queue if self._pending.get(p.doc.doc_id) is p]
        self._queue = []
        queue.sort(key=lambda item: item[0].spans[item[1]].tokens, reverse=True)
        if self._progress and self._bar is None and queue:
            from tqdm import tqdm

            self._bar = tqdm(desc="embedding", unit="chunk")
        for start in range(0, len(queue), EMBED_BATCH):
            batch = queue[start : start + EMBED_BATCH]
            texts = [embed_text(p.doc.title, p.spans[i].text) for p, i in batch]
            vectors = np.asarray(self.embedder.embed(texts), dtype="float32")
            for (planned, i), vector in zip(batch, vectors, strict=True):
                if planned.vectors is None:
                    planned.vectors = np.zeros((len(planned.spans), len(vector)), "float32")
                planned.vectors[i] = vector
            if self._bar is not None:
                self._bar.update(len(batch))

    def commit(self, progress: bool = False) -> int:
        """Embed what is still queued, then write everything put, removed or re-keyed since
        the last commit, atomically. Returns the number of chunks embedded."""
        nothing = not (self._pending or self._removals or self._rekeys or self.reembed_reason)
        if nothing and self.old and not self.upgrade_due():
            return 0
        self._progress = self._progress or progress
        self._embed_queue()
        with interrupts_deferred():
            return self._write()

    def _write(self) -> int:
        import numpy as np

        plan = list(self._pending.values())
        replaced = [p.doc.doc_id for p in plan] + self._removals
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
            for s in p.spans:
                rows.append((next_id, p.doc.doc_id, s.ord, s.start, s.end, s.text))
                body = analyze(embed_text(p.doc.title, s.text), self.settings.language)
                fts_rows.append((next_id, " ".join(body)))
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
        if touches_vectors:
            new_ids, bodies = [r[0] for r in fts_rows], [r[1] for r in fts_rows]
            postings = self.postings().updated(old_ids, new_ids, bodies)
            write_vectors(vectors_path(self.index_dir, gen), vectors)
            postings.save(postings_path(self.index_dir, gen))
        manifest = wanted_manifest(
            self.settings, self.embedder.model_id, vectors.d, self.embedder.encoder
        )
        # to the microsecond: after an interruption, an equal manifest means "committed"
        built_at = datetime.now().astimezone().isoformat(timespec="microseconds")
        manifest.update(generation=gen, built_at=built_at, vectors=vector_kinds.describe(vectors))
        if self.legacy_ids:
            manifest["legacy_ids"] = True
        c = self.conn
        try:
            c.execute("BEGIN IMMEDIATE")
            for old_id, new_id, source in self._rekeys:
                c.execute(
                    "UPDATE documents SET doc_id = ?, source = ? WHERE doc_id = ?",
                    (new_id, source, old_id),
                )
                c.execute("UPDATE chunks SET doc_id = ? WHERE doc_id = ?", (new_id, old_id))
            self._delete_docs(replaced, old_ids)
            self._insert(plan, rows, fts_rows)
            c.execute("INSERT OR REPLACE INTO meta VALUES ('manifest', ?)", (json.dumps(manifest),))
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            if read_manifest(c) == manifest:  # it came right after COMMIT: the batch is in
                self._committed(gen, manifest, vectors, postings)
                raise
            if touches_vectors:
                vectors_path(self.index_dir, gen).unlink(missing_ok=True)
                postings_path(self.index_dir, gen).unlink(missing_ok=True)
            self._vectors = None  # the copy in memory went ahead of the tables: read again
            raise
        self._committed(gen, manifest, vectors, postings)
        return len(rows)

    def _committed(self, gen: int, manifest: dict[str, Any], vectors: Any, postings: Any) -> None:
        """Bookkeeping once a batch is in: the writer's state, then the files around it."""
        self.generation, self.old, self._vectors = gen, manifest, vectors
        self._postings = postings
        self.reembed_reason = ""
        self._pending, self._removals, self._rekeys = {}, [], []
        self._last_commit = time.monotonic()
        self.commits += 1
        remove_leftovers(self.index_dir, gen)
        write_atomic(self.index_dir / "manifest.json", json.dumps(manifest, indent=2).encode())

    def _insert(self, plan: list[_Planned], rows: list[tuple], fts_rows: list[tuple]) -> None:
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

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self.conn.close()
        self._filelock.release()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
