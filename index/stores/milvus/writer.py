"""The Milvus store's ``StoreWriter``: what ``build()`` and ``remove()`` drive, as
``DirectoryWriter`` is for a directory (chunking, embedding and ``due()`` are the
``BaseWriter``'s). It commits every ``commit_docs`` documents or ``commit_seconds`` seconds,
and re-embeds into a staged layout that goes live in one switch (collections.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from ...embed import Embedder, load_embedder
from ...loaders import Document
from ..base import StoreError, interrupts_deferred
from ..basewriter import BaseWriter, Planned
from ..location import MilvusAddress
from .collections import CollectionWriter, PreparedDocument

log = logging.getLogger(__name__)


class MilvusWriter(BaseWriter):
    """Applies document changes to a Milvus store, one build at a time (its lease)."""

    legacy_ids = False
    """Milvus stores start at format 2: no format-1 ids to re-key."""

    def _open(self, wait: float) -> dict[str, Any]:
        address = MilvusAddress.parse(self.settings.store)
        self.store = CollectionWriter(address, self.settings.store_token, wait=wait)
        try:
            return self.store.manifest
        except BaseException:
            self.store.close()
            raise

    def _load_embedder(self, old: dict[str, Any]) -> Embedder:
        s = self.settings
        model = s.embed_model or old.get("embed_model", "")
        return load_embedder(model, s.embed_backend, s.cache_dir, s.embed_batch_size)

    def _opened(self, old: dict[str, Any]) -> None:
        if self.store.staging.get("target") != self._target or not self.reembed_reason:
            self.store.drop_staging()  # built for other settings: of no use now

    def _release(self) -> None:
        self.store.close()

    @property
    def manifest(self) -> dict[str, Any]:
        return self.store.manifest

    # ---- reading the current state
    def known_sources(self) -> dict[str, tuple[str, str]]:
        return self.store.known_sources()

    def stored_documents(self) -> Iterator[Document]:
        return self.store.stored_documents()

    def counts(self) -> tuple[int, int]:
        return self.store.counts()

    # ---- changes
    def rekey(self, old_id: str, new_id: str, source: str) -> None:
        """The stored document under a new id and source (a renamed file), with the vectors
        it has: its chunk keys derive from its id, so it is written again, not embedded
        again. ``StoreError`` when it cannot be (the build then replaces it)."""
        stored = self.store.stored_document(old_id)
        if stored is None:
            raise StoreError(f"{old_id} is not in {self.store.address}")
        doc, vectors = stored
        planned = self.plan(replace(doc, doc_id=new_id, source=source))
        if len(vectors) != len(planned.spans):
            raise StoreError(f"{old_id}: its stored chunks are not the chunker's")
        planned.vectors, planned.done = vectors, np.ones(len(vectors), bool)
        self._pending[new_id] = planned
        self.remove(old_id)

    def reembed(self, progress: bool = False) -> int:
        """Chunk and embed every stored document again into a staged layout, a commit at a
        time (a killed run goes on from its last commit), then switch to it. Returns the
        chunks embedded."""
        self._progress = self._progress or progress
        self.store.stage(self._target, self.embedder.dim)
        done = {d: h for d, (h, _) in self.store.known_sources(staged=True).items()}
        embedded, batch = 0, []
        for doc in self.store.stored_documents():
            if done.get(doc.doc_id) == doc.hash:
                continue
            batch.append(self.plan(doc))
            if len(batch) >= self.settings.commit_docs:
                embedded += self._stage(batch)
                batch = []
        if batch:
            embedded += self._stage(batch)
        with interrupts_deferred():
            self.store.switch()
        self._embedded = 0  # counted here, not again by the next commit
        self.reembed_reason = ""
        self.commits += 1
        return embedded

    def _stage(self, plan: list[Planned]) -> int:
        self.embed_chunks([(p, i) for p in plan for i in range(len(p.spans))])
        with interrupts_deferred():
            return self._store(plan, [], staged=True)

    # ---- commits
    def commit(self, progress: bool = False) -> int:
        """Re-embed first if the settings want it, then write what was put and removed
        since the last commit; chunks embedded."""
        embedded = self.reembed(progress) if self.reembed_reason else 0
        return embedded + super().commit(progress)

    def _must_write(self) -> bool:
        return not self.store.manifest

    def _write(self, plan: list[Planned], removals: list[str]) -> int:
        return self._store(plan, removals, staged=False)

    def _store(self, plan: list[Planned], removals: list[str], *, staged: bool) -> int:
        empty = np.zeros((0, self.embedder.dim), dtype="float32")
        prepared = [
            PreparedDocument(
                p.doc, p.spans, self.lexical(p), p.vectors if p.vectors is not None else empty
            )
            for p in plan
        ]
        manifest = {**self._target, "embed_dim": self.embedder.dim}
        self.store.write(prepared, removals, manifest, staged=staged)
        return sum(len(p.spans) for p in plan)
