"""The Milvus store's ``StoreWriter``: what ``build()`` and ``remove()`` drive, as
``writer.Writer`` is for a directory. It owns the embedding model and the chunker, commits
every ``commit_docs`` documents or ``commit_seconds`` seconds, and re-embeds into a staged
layout that goes live in one switch (milvus_write.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from .chunker import Chunker, embed_text
from .embed import Embedder, load_embedder
from .lexical import analyze
from .loaders import Document
from .milvus_write import CollectionWriter, PreparedDocument
from .settings import IndexSettings
from .store import FORMAT_VERSION, interrupts_deferred, reembed_reason, wanted_manifest
from .stores import MilvusAddress, StoreError
from .writer import EMBED_BATCH

log = logging.getLogger(__name__)


class MilvusWriter:
    """Applies document changes to a Milvus store, one build at a time (its lease)."""

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
        self.store = CollectionWriter(
            MilvusAddress.parse(settings.store), settings.store_token, wait=wait
        )
        try:
            old = self.store.manifest
            if old and old.get("format_version") != FORMAT_VERSION:
                rebuild = True
            model = settings.embed_model or old.get("embed_model", "")
            self.embedder = embedder or load_embedder(
                model, settings.embed_backend, settings.cache_dir, settings.embed_batch_size
            )
            # without the vector size: asking the model for it would load it, and an
            # unchanged build never needs the model
            self._target = wanted_manifest(
                settings, self.embedder.model_id, None, self.embedder.encoder
            )
            self.reembed_reason = reembed_reason(old, self._target, rebuild)
            if self.store.staging.get("target") != self._target or not self.reembed_reason:
                self.store.drop_staging()  # built for other settings: of no use now
        except BaseException:
            self.store.close()
            raise
        self.legacy_ids = False
        """Milvus stores start at format 2: no format-1 ids to re-key."""
        self.commits = 0
        self._progress = progress
        self._chunker: Chunker | None = None
        self._pending: dict[str, Document] = {}
        self._removals: list[str] = []
        self._last_commit = time.monotonic()

    @property
    def manifest(self) -> dict[str, Any]:
        return self.store.manifest

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

    # ---- reading the current state
    def known_sources(self) -> dict[str, tuple[str, str]]:
        return self.store.known_sources()

    def known(self) -> dict[str, str]:
        return {d: h for d, (h, _) in self.known_sources().items()}

    def stored_documents(self) -> Iterator[Document]:
        return self.store.stored_documents()

    def counts(self) -> tuple[int, int]:
        return self.store.counts()

    # ---- changes
    def put(self, doc: Document) -> None:
        self._pending[doc.doc_id] = doc

    def remove(self, doc_id: str) -> None:
        self._removals.append(doc_id)

    def rekey(self, old_id: str, new_id: str, source: str) -> None:
        raise StoreError("a Milvus store has no format-1 ids to re-key")

    def due(self) -> bool:
        if self.reembed_reason or not (self._pending or self._removals):
            return False
        return (
            len(self._pending) >= self.settings.commit_docs
            or time.monotonic() - self._last_commit >= self.settings.commit_seconds
        )

    def reembed(self, progress: bool = False) -> int:
        """Chunk and embed every stored document again into a staged layout, a commit at a
        time (a killed run goes on from its last commit), then switch to it. Returns the
        chunks embedded."""
        self.store.stage(self._target, self.embedder.dim)
        done = {d: h for d, (h, _) in self.store.known_sources(staged=True).items()}
        embedded, batch = 0, []
        for doc in self.store.stored_documents():
            if done.get(doc.doc_id) == doc.hash:
                continue
            batch.append(doc)
            if len(batch) >= self.settings.commit_docs:
                embedded += self._write(batch, [], staged=True, progress=progress)
                batch = []
        if batch:
            embedded += self._write(batch, [], staged=True, progress=progress)
        with interrupts_deferred():
            self.store.switch()
        self.reembed_reason = ""
        self.commits += 1
        return embedded

    def commit(self, progress: bool = False) -> int:
        """Embed and write what was put and removed since the last commit; chunks embedded."""
        embedded = 0
        if self.reembed_reason:
            embedded += self.reembed(progress)
        if not (self._pending or self._removals) and self.store.manifest:
            return embedded
        removals = [d for d in self._removals if d not in self._pending]  # put wins
        embedded += self._write(list(self._pending.values()), removals, progress=progress)
        self._pending, self._removals = {}, []
        self._last_commit = time.monotonic()
        self.commits += 1
        return embedded

    def _write(
        self,
        docs: list[Document],
        removals: list[str],
        *,
        staged: bool = False,
        progress: bool = False,
    ) -> int:
        planned = [(doc, self.chunker.split(doc.text, doc.title)) for doc in docs]
        texts = [embed_text(doc.title, s.text) for doc, spans in planned for s in spans]
        vectors = self._embed(texts, progress or self._progress)
        prepared, at = [], 0
        for doc, spans in planned:
            lexical = [
                " ".join(analyze(embed_text(doc.title, s.text), self.settings.language))
                for s in spans
            ]
            prepared.append(PreparedDocument(doc, spans, lexical, vectors[at : at + len(spans)]))
            at += len(spans)
        manifest = {**self._target, "embed_dim": self.embedder.dim}
        with interrupts_deferred():
            self.store.write(prepared, removals, manifest, staged=staged)
        return len(texts)

    def _embed(self, texts: list[str], progress: bool) -> np.ndarray:
        """Vectors of ``texts``, embedded longest first in batches of similar length."""
        out = np.zeros((len(texts), self.embedder.dim), dtype="float32")
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        bar = None
        if progress and len(texts) > EMBED_BATCH:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc="embedding", unit="chunk")
        for start in range(0, len(order), EMBED_BATCH):
            part = order[start : start + EMBED_BATCH]
            out[part] = np.asarray(self.embedder.embed([texts[i] for i in part]), "float32")
            if bar is not None:
                bar.update(len(part))
        if bar is not None:
            bar.close()
        return out

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> MilvusWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
