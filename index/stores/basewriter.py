"""The work every store writer shares, done once: ``put`` chunks a document at once and
queues its chunks, ``remove`` and ``rekey`` queue changes, ``due()`` says when to commit,
and queued chunks are embedded in batches sorted by length across documents (similar
lengths pad little), so that embedding goes on while files are read. A store writes a
committed batch in its one ``_write(plan, removals)`` hook, as a backend of llm's
``EmbeddingModel`` writes only ``embed_batch``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ..chunker import Chunker, ChunkSpan, embed_text
from ..embed import Embedder
from ..errors import StoreError
from ..lexical import analyze
from ..loaders import Document
from ..settings import IndexSettings
from .base import interrupts_deferred
from .manifest import FORMAT_VERSION, reembed_reason, wanted_manifest

T = TypeVar("T")
log = logging.getLogger(__name__)

EMBED_BATCH = 256
"""Texts handed to the embedder at a time, taken from a length-sorted window."""
EMBED_WINDOW = 4 * EMBED_BATCH
"""Most queued chunks that start an embedding pass: the wider the window, the closer the
lengths in each batch."""
FIRST_WINDOW = 32
"""Queued chunks that start the first pass, which measures the embedding speed; the next
windows are sized so that a pass takes at most half of ``commit_seconds``."""
KEEP_PROGRESS_FROM = 2 * EMBED_BATCH
"""Chunks from which a document's embedding progress is kept every ``commit_seconds``
(``_keep``): a kill then loses at most that long of it, and the next build goes on from
there. A document is still committed whole: readers never see part of one."""


@dataclass
class Planned:
    """A document waiting for its commit, with the vectors of its chunks once embedded."""

    doc: Document
    digest: str
    spans: list[ChunkSpan]
    vectors: Any = None
    done: Any = None
    """Which chunks have their vector (a bool array, once the first is embedded)."""


def longest_first(items: list[T], tokens: Callable[[T], int], size: int) -> Iterator[list[T]]:
    """``items`` in batches of ``size``, longest (in word pieces) first: the one order every
    embedding pass uses."""
    ordered = sorted(items, key=tokens, reverse=True)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


class BaseWriter:
    """Holds a store's build lock and its embedding model, queues document changes and
    embeds their chunks; ``commit()`` hands each batch to the store's ``_write``."""

    formats: tuple[int, ...] = (FORMAT_VERSION,)
    """Format versions the store reads as they are; any other is built again."""
    converts_vectors = False
    """The store changes its vector index kind from the stored vectors (``reembed_reason``)."""
    legacy_ids: bool = False
    """The store may hold format-1 document ids, which a build re-keys."""
    reembed_reason: str = ""
    """Why every document must be embedded again (model or chunker changed), or ""."""

    def __init__(
        self,
        settings: IndexSettings,
        *,
        embedder: Embedder | None = None,
        wait: float = 0.0,
        rebuild: bool = False,
        progress: bool = False,
    ):
        """Take the store's build lock (``BuildLocked`` after ``wait`` seconds) and see
        whether the settings or ``rebuild`` mean embedding everything again. ``embedder``
        replaces the model the settings (or else the store) name; tests pass a fake."""
        self.settings = settings
        self.commits = 0
        """Commits made by this writer."""
        self._chunker: Chunker | None = None
        self._pending: dict[str, Planned] = {}
        self._queue: list[tuple[Planned, int]] = []
        self._removals: list[str] = []
        self._rekeys: list[tuple[str, str, str]] = []
        self._last_commit = self._last_kept = time.monotonic()
        self._rate: float | None = None
        """Chunks embedded per second, as last measured."""
        self._embedded = 0
        """Chunks embedded since the last commit (kept progress and stored vectors aside)."""
        self._progress = progress
        self._bar: Any = None
        old = self._open(wait)
        try:
            if old and old.get("format_version") not in self.formats:
                rebuild = True
            self.embedder = embedder or self._load_embedder(old)
            # without the vector size: asking the model for it would load it, and an
            # unchanged build never needs the model
            self._target = wanted_manifest(
                settings, self.embedder.model_id, None, self.embedder.encoder
            )
            self.reembed_reason = reembed_reason(
                old, self._target, rebuild, converts_vectors=self.converts_vectors
            )
            self._opened(old)
        except BaseException:
            self._release()
            raise

    def _open(self, wait: float) -> dict[str, Any]:
        """Take the store's build lock and return its manifest ({} for a new store); holds
        nothing if it fails."""
        raise NotImplementedError

    def _load_embedder(self, old: dict[str, Any]) -> Embedder:
        """The model the settings name, else the one the store was built with."""
        raise NotImplementedError

    def _opened(self, old: dict[str, Any]) -> None:
        """The store's own state, once the embedder and the reason to re-embed are known."""

    def _release(self) -> None:
        """Let go of the store and its build lock."""
        raise NotImplementedError

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

    def plan(self, doc: Document) -> Planned:
        """``doc`` chunked, its vectors still to embed."""
        return Planned(doc, doc.hash, self.chunker.split(doc.text, doc.title))

    def lexical(self, planned: Planned) -> list[str]:
        """The analysed tokens of each chunk, as the lexical index stores them."""
        title, language = planned.doc.title, self.settings.language
        return [" ".join(analyze(embed_text(title, s.text), language)) for s in planned.spans]

    # ---- changes
    def put(self, doc: Document) -> None:
        """Add or replace ``doc`` at the next commit; its chunks are embedded meanwhile."""
        planned = self.plan(doc)
        if len(planned.spans) >= KEEP_PROGRESS_FROM and not self.reembed_reason:
            kept = self._kept(planned)
            if kept is not None:
                planned.done, planned.vectors = kept
        self._pending[doc.doc_id] = planned
        todo = range(len(planned.spans))
        if planned.done is not None:
            todo = [i for i in todo if not planned.done[i]]
        self._queue.extend((planned, i) for i in todo)
        if len(self._queue) >= self._window():
            self._embed_queue()

    def _window(self) -> int:
        """Queued chunks that start an embedding pass: small enough that ``due()`` is asked
        again before ``commit_seconds`` pass (a build keeps a batch at least that often)."""
        if self._rate is None:
            return FIRST_WINDOW
        fits = int(self._rate * self.settings.commit_seconds / 2)
        return max(FIRST_WINDOW, min(EMBED_WINDOW, fits))

    def remove(self, doc_id: str) -> None:
        self._removals.append(doc_id)

    def rekey(self, old_id: str, new_id: str, source: str) -> None:
        """Give a stored document a new id (and source) without embedding it again."""
        self._rekeys.append((old_id, new_id, source))

    def _has_changes(self) -> bool:
        return bool(self._pending or self._removals or self._rekeys)

    def due(self) -> bool:
        """Time to commit: enough documents, or enough time, since the last commit. Never
        while re-embedding everything (the index must not mix two encoders)."""
        if self.reembed_reason or not self._has_changes():
            return False
        return (
            len(self._pending) >= self.settings.commit_docs
            or time.monotonic() - self._last_commit >= self.settings.commit_seconds
        )

    # ---- embedding
    def _embed_queue(self) -> None:
        """Embed the queued chunks of the documents still pending."""
        queue = [(p, i) for p, i in self._queue if self._pending.get(p.doc.doc_id) is p]
        self._queue = []
        start = time.monotonic()
        self.embed_chunks(queue)
        seconds = time.monotonic() - start
        if queue and seconds > 0:
            self._rate = len(queue) / seconds

    def embed_chunks(self, chunks: list[tuple[Planned, int]]) -> None:
        """Embed chunks (a planned document, a chunk's index in it) into their documents'
        ``vectors``, longest first in batches of similar length."""
        if self._progress and self._bar is None and chunks:
            from tqdm import tqdm

            self._bar = tqdm(desc="embedding", unit="chunk")
        for batch in longest_first(chunks, lambda c: c[0].spans[c[1]].tokens, EMBED_BATCH):
            texts = [embed_text(p.doc.title, p.spans[i].text) for p, i in batch]
            vectors = np.asarray(self.embedder.embed(texts), dtype="float32")
            for (planned, i), vector in zip(batch, vectors, strict=True):
                if planned.vectors is None:
                    planned.vectors = np.zeros((len(planned.spans), len(vector)), "float32")
                    planned.done = np.zeros(len(planned.spans), bool)
                planned.vectors[i] = vector
                planned.done[i] = True
            self._embedded += len(batch)
            if self._bar is not None:
                self._bar.update(len(batch))
            if time.monotonic() - self._last_kept >= self.settings.commit_seconds:
                self._keep_progress()

    # ---- the embedding progress of big documents
    def _keep_progress(self) -> None:
        """Keep what is embedded of each big document still pending (``KEEP_PROGRESS_FROM``)."""
        for planned in self._pending.values():
            big = len(planned.spans) >= KEEP_PROGRESS_FROM
            if big and planned.done is not None and not self.reembed_reason:
                try:
                    with interrupts_deferred():
                        self._keep(planned)
                except StoreError as err:  # a full disk: the build goes on without it
                    log.warning("embedding progress not kept: %s", err)
        self._last_kept = time.monotonic()

    def _keep(self, planned: Planned) -> None:
        """Store the vectors embedded so far of a document not committed yet (a store that
        cannot keep them does nothing: a kill then loses the document's embedding)."""

    def _kept(self, planned: Planned) -> tuple[Any, Any] | None:
        """(done, vectors) kept by ``_keep`` for this very document (same content, chunks
        and model), or None."""
        return None

    def _forget_kept(self, digests: list[str] | None) -> None:
        """Drop the progress kept of these documents (committed now), or of all (None: a
        build went to its end, what is left belongs to documents that changed)."""

    # ---- commits
    def commit(self, progress: bool = False) -> int:
        """Embed what is still queued, then write everything put, removed or re-keyed since
        the last commit, atomically: a reader sees each document either before or after,
        never half-written. Returns the number of chunks embedded for it."""
        if not self._has_changes() and not self._must_write():
            return 0
        self._progress = self._progress or progress
        self._embed_queue()
        removals = [d for d in self._removals if d not in self._pending]  # put wins
        plan = list(self._pending.values())
        with interrupts_deferred():
            self._write(plan, removals)
        embedded, self._embedded = self._embedded, 0
        self._written()
        self._forget_kept([p.digest for p in plan if len(p.spans) >= KEEP_PROGRESS_FROM])
        return embedded

    def finished(self) -> None:
        """The build went to its end, its last commit made: progress kept for a document
        is of one that changed or went away since."""
        self._forget_kept(None)

    def _must_write(self) -> bool:
        """The store must be written though nothing changed (a first build, an upgrade)."""
        return False

    def _write(self, plan: list[Planned], removals: list[str]) -> int:
        """Store ``plan`` (embedded), drop ``removals`` and apply the queued re-keys, all or
        nothing (Ctrl-C is held back meanwhile); returns the chunks written."""
        raise NotImplementedError

    def _written(self) -> None:
        """A batch is in: start the next one."""
        self._pending, self._queue, self._removals, self._rekeys = {}, [], [], []
        self._last_commit = time.monotonic()
        self.commits += 1

    def close(self) -> None:
        """Release the build lock."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._release()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
