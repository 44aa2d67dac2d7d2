"""Build and update an index directory incrementally.

Unchanged documents (same content hash) are skipped without embedding, changed ones are
replaced, exact duplicates skipped, and with ``prune`` documents gone from the sources are
removed. Work is committed in batches, each one atomic: an interrupted build keeps the
previous index (plus the batches already committed) and the next build resumes.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .chunker import Chunker, embed_text
from .embed import Embedder, load_embedder
from .lexical import analyze
from .loaders import Document, Skipped, load_sources
from .settings import IndexSettings
from .store import (
    FORMAT_VERSION,
    StoreError,
    connect,
    new_vector_index,
    read_manifest,
    remove_vectors,
    vectors_path,
    write_atomic,
)

log = logging.getLogger(__name__)

COMMIT_EVERY_S = 60.0
"""A long build commits what it has embedded at least this often."""
EMBED_BATCH = 256
"""Texts handed to the embedder at a time (progress is reported per batch)."""


class BuildLocked(StoreError):
    """Another build holds the index directory."""


@dataclass
class BuildReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    chunks: int = 0
    """Chunks embedded by this build."""
    seconds: float = 0.0
    documents_total: int = 0
    chunks_total: int = 0
    reembedded: str = ""
    """Why every document was re-embedded (model or chunker changed), if it was."""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["skipped"] = [str(s) for s in self.skipped]
        return d


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


def wanted_manifest(settings: IndexSettings, embedder: Embedder, dim: int | None) -> dict[str, Any]:
    """How an index built with these settings is made; a difference means re-embedding."""
    return {
        "format_version": FORMAT_VERSION,
        "embed_model": embedder.model_id,
        "embed_precision": embedder.encoder.partition("-")[0],
        "embed_encoder": embedder.encoder,
        "embed_dim": dim,
        "chunker": {
            "splitter": "recursive-tokens-titled",
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap,
        },
        "language": settings.language,
        "vector_index": settings.vector_index,
    }


class Writer:
    """Applies document changes to an index directory (one at a time, under its lock)."""

    def __init__(
        self,
        settings: IndexSettings,
        *,
        embedder: Embedder | None = None,
        wait: float = 0.0,
        rebuild: bool = False,
    ):
        self.settings = settings
        self.index_dir = Path(settings.index_dir)
        self._filelock = _lock(self.index_dir, wait)
        try:
            self.conn = connect(self.index_dir)
            old = read_manifest(self.conn)
            if old and old.get("format_version") != FORMAT_VERSION:
                rebuild = True
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
            self._vectors = None
            self._pending: dict[str, Document] = {}
            self._removals: list[str] = []
        except BaseException:
            self._filelock.release()
            raise

    def _needs_reembed(self, old: dict[str, Any], rebuild: bool) -> str:
        if not old:
            return ""
        if rebuild:
            return "rebuild requested"
        wanted = wanted_manifest(self.settings, self.embedder, None)
        old = {"embed_encoder": "fp32", **old}  # built before ancre recorded the encoder
        for key in ("embed_model", "embed_encoder", "chunker", "vector_index", "language"):
            if old.get(key) != wanted[key]:
                return f"{key} changed: {old.get(key)} -> {wanted[key]}"
        return ""

    # ---- reading the current state
    def known(self) -> dict[str, str]:
        """doc_id -> content hash of the indexed documents."""
        return dict(self.conn.execute("SELECT doc_id, hash FROM documents"))

    def stored_documents(self) -> list[Document]:
        rows = self.conn.execute(
            "SELECT doc_id, text, title, url, date, author, source, metadata FROM documents"
        ).fetchall()
        return [
            Document(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7] or "{}"))
            for r in rows
        ]

    def vectors(self):
        import faiss

        if self._vectors is None:
            path = vectors_path(self.index_dir, self.generation)
            if self.old and not self.reembed_reason and path.exists():
                self._vectors = faiss.read_index(str(path))
            else:
                self._vectors = new_vector_index(self.embedder.dim, self.settings.vector_index)
        return self._vectors

    # ---- changes
    def put(self, doc: Document) -> None:
        self._pending[doc.doc_id] = doc

    def remove(self, doc_id: str) -> None:
        self._removals.append(doc_id)

    def commit(self, progress: bool = False) -> int:
        """Chunk, embed and write what was put/removed since the last commit, atomically.
        Returns the number of chunks embedded."""
        if not self._pending and not self._removals and not self.reembed_reason and self.old:
            return 0
        chunker = Chunker(
            self.embedder.count_tokens,
            self.settings.chunk_tokens,
            self.settings.chunk_overlap,
            self.embedder.max_tokens,
        )
        plan = []
        texts = []
        for doc in self._pending.values():
            digest = doc.hash
            spans = chunker.split(doc.text, doc.title)
            plan.append((doc, digest, spans))
            texts.extend(embed_text(doc.title, s.text) for s in spans)
        embeddings = self._embed(texts, progress and len(texts) > EMBED_BATCH)
        vectors = self.vectors()
        replaced = [d.doc_id for d, _, _ in plan] + self._removals
        old_ids = self._chunk_ids(replaced)
        vectors = remove_vectors(vectors, old_ids, self.settings.vector_index)
        next_id = (self.conn.execute("SELECT max(id) FROM chunks").fetchone()[0] or 0) + 1
        rows, fts_rows = [], []
        for doc, _digest, spans in plan:
            for s in spans:
                rows.append((next_id, doc.doc_id, s.ord, s.start, s.end, s.text))
                fts_rows.append(
                    (
                        next_id,
                        " ".join(analyze(embed_text(doc.title, s.text), self.settings.language)),
                    )
                )
                next_id += 1
        if rows:
            import numpy as np

            vectors.add_with_ids(embeddings, np.array([r[0] for r in rows], dtype="int64"))
        gen = self.generation + 1
        import faiss

        write_atomic(vectors_path(self.index_dir, gen), faiss.serialize_index(vectors).tobytes())
        manifest = wanted_manifest(self.settings, self.embedder, vectors.d)
        manifest.update(generation=gen, built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
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
                        h,
                        d.title,
                        d.url,
                        d.date,
                        d.author,
                        d.source,
                        json.dumps(d.metadata, ensure_ascii=False, default=str),
                        d.text,
                        len(sp),
                        now,
                    )
                    for d, h, sp in plan
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
        old_path = vectors_path(self.index_dir, self.generation)
        self.generation, self.old, self._vectors = gen, manifest, vectors
        self.reembed_reason = ""
        self._pending, self._removals = {}, []
        if old_path != vectors_path(self.index_dir, gen):
            old_path.unlink(missing_ok=True)
        for stale in self.index_dir.glob("vectors-*.faiss*"):
            if stale.name != f"vectors-{gen}.faiss":
                stale.unlink(missing_ok=True)
        write_atomic(self.index_dir / "manifest.json", json.dumps(manifest, indent=2).encode())
        return len(rows)

    def _embed(self, texts: list[str], progress: bool):
        import numpy as np
        from tqdm import tqdm

        parts = [np.zeros((0, self.embedder.dim), dtype="float32")]
        steps = range(0, len(texts), EMBED_BATCH)
        for i in tqdm(steps, desc="embedding", unit="batch", disable=not progress):
            parts.append(self.embedder.embed(texts[i : i + EMBED_BATCH]))
        return np.concatenate(parts)

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

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def build(
    sources: list[str | Path],
    index_dir: str | Path | None = None,
    *,
    settings: IndexSettings | None = None,
    embedder: Embedder | None = None,
    prune: bool = False,
    rebuild: bool = False,
    progress: bool = False,
    wait: float = 0.0,
) -> BuildReport:
    """Index the documents under ``sources`` into ``index_dir`` (else ``settings.index_dir``,
    else ``ANCRE_INDEX_DIR``); see the module docstring. ``embedder`` replaces the model the
    settings name (tests pass a fake)."""
    settings = _settings(settings, index_dir)
    t0 = time.perf_counter()
    report = BuildReport()
    with Writer(settings, embedder=embedder, wait=wait, rebuild=rebuild) as w:
        report.reembedded = w.reembed_reason
        known = w.known()
        by_hash = {h: d for d, h in known.items()}
        seen: dict[str, str] = {}
        if w.reembed_reason:
            log.warning("re-embedding every document: %s", w.reembed_reason)
            for doc in w.stored_documents():
                w.put(doc)
        last_commit = time.monotonic()
        for item in load_sources(sources, settings.max_file_mb):
            if isinstance(item, Skipped):
                log.warning("skipped %s", item)
                report.skipped.append(item)
                continue
            doc, digest = item, item.hash
            if doc.doc_id in seen:
                report.skipped.append(
                    Skipped(
                        doc.source, f"duplicate id {doc.doc_id!r} (first in {seen[doc.doc_id]})"
                    )
                )
                continue
            seen[doc.doc_id] = doc.source
            if known.get(doc.doc_id) == digest:
                report.unchanged += 1
                continue
            twin = by_hash.get(digest)
            if twin is not None and twin != doc.doc_id and twin in known:
                report.skipped.append(
                    Skipped(doc.source, f"exact duplicate of already indexed {twin!r}")
                )
                continue
            by_hash[digest] = doc.doc_id
            if doc.doc_id in known:
                report.updated += 1
            else:
                report.added += 1
            w.put(doc)
            if time.monotonic() - last_commit > COMMIT_EVERY_S:
                report.chunks += w.commit(progress)
                last_commit = time.monotonic()
        if prune:
            for doc_id in known:
                if doc_id not in seen:
                    w.remove(doc_id)
                    report.removed += 1
        report.chunks += w.commit(progress)
        report.documents_total = w.conn.execute("SELECT count(*) FROM documents").fetchone()[0]
        report.chunks_total = w.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    report.seconds = time.perf_counter() - t0
    return report


def remove(
    doc_ids: list[str],
    index_dir: str | Path | None = None,
    *,
    settings: IndexSettings | None = None,
    embedder: Embedder | None = None,
) -> tuple[list[str], list[str]]:
    """Remove documents by id; returns (removed, not found)."""
    with Writer(_settings(settings, index_dir), embedder=embedder) as w:
        known = w.known()
        found = [d for d in doc_ids if d in known]
        for d in found:
            w.remove(d)
        w.commit()
    return found, [d for d in doc_ids if d not in known]


def _settings(settings: IndexSettings | None, index_dir: str | Path | None) -> IndexSettings:
    settings = settings or IndexSettings.from_env()
    if index_dir is not None:
        settings = replace(settings, index_dir=str(index_dir))
    return settings
