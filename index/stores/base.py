"""What every store shares and the read and write paths use: the two protocols, the chunk
record, the errors, and the guard that keeps Ctrl-C out of a commit. A leaf: it imports no
store (like haystack's ``document_stores/types/protocol.py``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..errors import BuildLocked, StoreError

if TYPE_CHECKING:
    from ..loaders import Document

__all__ = [
    "BuildLocked",
    "ChunkRow",
    "StoreError",
    "StoreReader",
    "StoreWriter",
    "interrupts_deferred",
]


@dataclass
class ChunkRow:
    """A stored chunk, with its document's title, url and date."""

    chunk_id: int
    doc_id: str
    ord: int
    start: int
    end: int
    text: str
    title: str
    url: str
    date: str


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C back until the block is done, then raise it: a commit is never cut
    between its vectors and its tables. (Only the main thread receives signals.)"""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if received:
            raise KeyboardInterrupt


class StoreReader(Protocol):
    """What the read path needs from an index. Thread-safe."""

    manifest: dict[str, Any]
    """How the index was built (model, chunker, language...) and its ``generation``."""

    def refresh(self) -> bool:
        """Follow a build made by another process; True when the index changed."""
        ...

    @property
    def size(self) -> int:
        """Chunks (stored vectors) in the index."""
        ...

    def lexical_search(self, text: str, k: int) -> list[tuple[int, float]]:
        """BM25 over ancre's analysed tokens: (chunk id, positive score), best first."""
        ...

    def dense_search(self, query_vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """Inner product (= cosine: vectors are normalised), best first, per query."""
        ...

    def chunks(self, ids: list[int]) -> dict[int, ChunkRow]:
        """The chunks among ``ids`` that are (still) in the index, with their document's
        title, url and date."""
        ...

    def chunk_vectors(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of chunk ``ids``, one row per id."""
        ...

    def term_stats(self, terms: list[str]) -> tuple[dict[str, float], dict[str, int]]:
        """(BM25 idf, number of chunks holding the term) of analysed terms."""
        ...

    def documents(self) -> list[dict[str, Any]]:
        """The indexed documents' metadata, by doc_id."""
        ...

    def document(self, doc_id: str) -> Document | None:
        """One indexed document with its whole text as stored (what its chunks' offsets
        point into), or None when it is not in the index."""
        ...

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...

    def __enter__(self) -> StoreReader: ...

    def __exit__(self, *exc: object) -> None: ...


class StoreWriter(Protocol):
    """What ``build()`` and ``remove()`` drive, on either store. A writer owns the embedding
    model and holds the store's build lock while open (``DirectoryWriter``, ``MilvusWriter``:
    both a ``basewriter.BaseWriter``)."""

    reembed_reason: str
    """Why every document must be embedded again (model or chunker changed), or ""."""
    legacy_ids: bool
    """The store may hold format-1 document ids, which a build re-keys (directories)."""
    commits: int
    """Commits made by this writer."""

    def known_sources(self) -> dict[str, tuple[str, str]]:
        """doc_id -> (content hash, source file) of the documents fully written."""
        ...

    def stored_documents(self) -> Iterator[Document]:
        """The stored documents with their text (to re-embed them without the sources)."""
        ...

    def reembed(self, progress: bool = False) -> int:
        """Embed every stored document again (see ``reembed_reason``); chunks embedded."""
        ...

    def put(self, doc: Document) -> None:
        """Add or replace ``doc`` at the next commit."""
        ...

    def remove(self, doc_id: str) -> None: ...

    def rekey(self, old_id: str, new_id: str, source: str) -> None:
        """Give a format-1 document its new id without embedding it again."""
        ...

    def due(self) -> bool:
        """Time to commit (enough documents or seconds since the last commit)."""
        ...

    def commit(self, progress: bool = False) -> int:
        """Write what was put and removed. A reader sees each document either before or
        after, never half-written, whatever happens to the process. Chunks embedded."""
        ...

    def counts(self) -> tuple[int, int]:
        """(documents, chunks) in the store."""
        ...

    def close(self) -> None:
        """Release the build lock."""
        ...

    def __enter__(self) -> StoreWriter: ...

    def __exit__(self, *exc: object) -> None: ...
