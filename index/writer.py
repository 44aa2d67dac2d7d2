"""Build and update an index incrementally, in any store (a directory or Milvus, through
the ``StoreWriter`` protocol of stores.py).

Unchanged documents (same content hash) are skipped without embedding, changed ones are
replaced, exact duplicates skipped, and with ``prune`` documents gone from the sources are
removed. Work is committed in batches, each one whole (see the store): an interrupted build
keeps the previous index (plus the batches already committed) and the next build resumes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .chunker import Chunker, embed_text
from .embed import Embedder, load_embedder
from .lexical import analyze
from .loaders import Document, Skipped, load_sources
from .settings import IndexSettings
from .store import FORMAT_VERSION
from .stores import Batch, BuildLocked, PreparedDocument, StoreWriter, open_writer

log = logging.getLogger(__name__)

COMMIT_EVERY_S = 60.0
"""A long build commits what it has embedded at least this often."""
EMBED_BATCH = 256
"""Texts handed to the embedder at a time (progress is reported per batch)."""

__all__ = ["BuildLocked", "BuildReport", "Writer", "build", "remove"]


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


def wanted_manifest(settings: IndexSettings, model_id: str, dim: int | None) -> dict[str, Any]:
    """How an index built with these settings is made; a difference means re-embedding."""
    return {
        "format_version": FORMAT_VERSION,
        "embed_model": model_id,
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
    """Applies document changes to a store (a directory or Milvus), one build at a time."""

    def __init__(
        self,
        settings: IndexSettings,
        *,
        embedder: Embedder | None = None,
        wait: float = 0.0,
        rebuild: bool = False,
    ):
        self.settings = settings
        self.store: StoreWriter = open_writer(settings, wait=wait)
        try:
            old = self.store.manifest
            if old and old.get("format_version") != FORMAT_VERSION:
                rebuild = True
            model = settings.embed_model or old.get("embed_model", "")
            self.embedder = embedder or load_embedder(
                model, settings.embed_backend, settings.cache_dir, settings.embed_batch_size
            )
            self.old = old
            self.reembed_reason = self._needs_reembed(old, rebuild)
            self._pending: dict[str, Document] = {}
            self._removals: list[str] = []
        except BaseException:
            self.store.close()
            raise

    def _needs_reembed(self, old: dict[str, Any], rebuild: bool) -> str:
        if not old:
            return ""
        if rebuild:
            return "rebuild requested"
        wanted = wanted_manifest(self.settings, self.embedder.model_id, None)
        for key in ("embed_model", "chunker", "vector_index", "language"):
            if old.get(key) != wanted[key]:
                return f"{key} changed: {old.get(key)} -> {wanted[key]}"
        return ""

    # ---- reading the current state
    def known(self) -> dict[str, str]:
        """doc_id -> content hash of the indexed documents."""
        return self.store.known()

    def stored_documents(self) -> list[Document]:
        return list(self.store.stored_documents())

    # ---- changes
    def put(self, doc: Document) -> None:
        self._pending[doc.doc_id] = doc

    def remove(self, doc_id: str) -> None:
        self._pending.pop(doc_id, None)
        self._removals.append(doc_id)

    def commit(self, progress: bool = False) -> int:
        """Chunk, embed and write what was put/removed since the last commit (each document
        whole, see the store). Returns the number of chunks embedded."""
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
            spans = chunker.split(doc.text, doc.title)
            plan.append((doc, spans))
            texts.extend(embed_text(doc.title, s.text) for s in spans)
        embeddings = self._embed(texts, progress and len(texts) > EMBED_BATCH)
        prepared, at = [], 0
        for doc, spans in plan:
            lexical = [
                " ".join(analyze(embed_text(doc.title, s.text), self.settings.language))
                for s in spans
            ]
            prepared.append(PreparedDocument(doc, spans, lexical, embeddings[at : at + len(spans)]))
            at += len(spans)
        manifest = wanted_manifest(self.settings, self.embedder.model_id, self.embedder.dim)
        fresh = bool(self.reembed_reason) or not self.old
        self.store.write(Batch(prepared, list(self._removals), manifest, fresh=fresh))
        self.old = self.store.manifest
        self.reembed_reason = ""
        self._pending, self._removals = {}, []
        return len(texts)

    def counts(self) -> tuple[int, int]:
        """(documents, chunks) in the store."""
        return self.store.counts()

    def _embed(self, texts: list[str], progress: bool):
        import numpy as np
        from tqdm import tqdm

        parts = [np.zeros((0, self.embedder.dim), dtype="float32")]
        steps = range(0, len(texts), EMBED_BATCH)
        for i in tqdm(steps, desc="embedding", unit="batch", disable=not progress):
            parts.append(self.embedder.embed(texts[i : i + EMBED_BATCH]))
        return np.concatenate(parts)

    def close(self) -> None:
        self.store.close()

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
    """Index the documents under ``sources`` into ``index_dir`` (a directory or a
    ``milvus://`` URI; else the store ``settings`` name, else ``ANCRE_STORE`` /
    ``ANCRE_INDEX_DIR``); see the module docstring. ``embedder`` replaces the model the
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
        report.documents_total, report.chunks_total = w.counts()
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
    return settings if index_dir is None else settings.at(index_dir)
