"""Where an index lives, and the two small protocols every store implements.

A store is either a directory (SQLite FTS5 + a FAISS file, see store.py: the default, for
one machine) or a Milvus collection (``milvus://HOST:PORT[/COLLECTION]``, see milvus.py:
for archives and deployments that outgrow one machine). The read path (hybrid fusion,
evidence, answers) and the write path (chunking, embedding, incremental builds) are the
same code over either: they only use ``StoreReader`` and ``StoreWriter``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from .chunker import ChunkSpan
    from .loaders import Document
    from .settings import IndexSettings
    from .store import ChunkRow

MILVUS_SCHEME = "milvus://"
DEFAULT_COLLECTION = "ancre"
COLLECTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,150}$")
PIP_MILVUS = 'pip install "ancre[milvus]"'


class StoreError(RuntimeError):
    """The index is missing, unreadable or built differently; the message says what to run."""


class BuildLocked(StoreError):
    """Another build holds the store."""


def is_milvus(location: object) -> bool:
    return isinstance(location, str) and location.strip().lower().startswith(MILVUS_SCHEME)


@dataclass(frozen=True)
class MilvusAddress:
    """``milvus://HOST:PORT[/COLLECTION]``: a Milvus server (one process or a cluster's
    proxy: the client call is the same) and the collection that holds the index."""

    host: str
    port: int
    collection: str = DEFAULT_COLLECTION

    @classmethod
    def parse(cls, location: str) -> MilvusAddress:
        rest = location.strip()[len(MILVUS_SCHEME) :].rstrip("/")
        hostport, _, collection = rest.partition("/")
        host, _, port = hostport.rpartition(":")
        collection = collection or DEFAULT_COLLECTION
        if not host or not port.isdigit() or not COLLECTION_NAME.match(collection):
            raise ValueError(
                f"bad store {location!r}: expected milvus://HOST:PORT[/COLLECTION] "
                "(COLLECTION: letters, digits and _, not starting with a digit)"
            )
        return cls(host.strip("[]"), int(port), collection)

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{MILVUS_SCHEME}{host}:{self.port}/{self.collection}"


def describe_location(settings: IndexSettings) -> str:
    """The store as a user names it, for messages: the Milvus URI or the directory."""
    if is_milvus(settings.store):
        return str(MilvusAddress.parse(settings.store))
    return settings.index_dir


def location_flag(settings: IndexSettings) -> str:
    """The command-line option that names this store, for the commands a message suggests."""
    if is_milvus(settings.store):
        return f"--store {MilvusAddress.parse(settings.store)}"
    return f"--index-dir {settings.index_dir}"


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

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...

    def __enter__(self) -> StoreReader: ...

    def __exit__(self, *exc: object) -> None: ...


@dataclass
class PreparedDocument:
    """A document ready to be stored: its chunks, their analysed lexical text, vectors."""

    doc: Document
    spans: list[ChunkSpan]
    lexical: list[str]
    """Per chunk, ancre's analysed tokens (lexical.analyze) joined by spaces."""
    vectors: np.ndarray


@dataclass
class Batch:
    """One commit: documents to write (replacing any earlier version) and ids to remove."""

    documents: list[PreparedDocument]
    removals: list[str]
    manifest: dict[str, Any]
    """The manifest this commit leaves (without ``generation``: the store counts those)."""
    fresh: bool = False
    """Start from an empty index (re-embedding): nothing already stored is kept."""


class StoreWriter(Protocol):
    """What a build needs from a store. Opening one takes the store's build lock."""

    manifest: dict[str, Any]
    """The manifest of the last finished commit ({} for a new store)."""

    def known(self) -> dict[str, str]:
        """doc_id -> content hash of the documents fully written."""
        ...

    def stored_documents(self) -> Iterator[Document]:
        """The stored documents with their text (to re-embed them without the sources)."""
        ...

    def write(self, batch: Batch) -> None:
        """Apply ``batch``. A reader sees each document either before or after it, never
        half-written, whatever happens to the process."""
        ...

    def counts(self) -> tuple[int, int]:
        """(documents, chunks)."""
        ...

    def close(self) -> None:
        """Release the build lock."""
        ...

    def __enter__(self) -> StoreWriter: ...

    def __exit__(self, *exc: object) -> None: ...


def open_reader(settings: IndexSettings) -> StoreReader:
    """The reader of the store ``settings`` name (``settings.store`` or ``index_dir``)."""
    if is_milvus(settings.store):
        from .milvus import MilvusReader

        return MilvusReader(MilvusAddress.parse(settings.store), settings.store_token)
    from .store import IndexReader

    return IndexReader(settings.index_dir)


def open_writer(settings: IndexSettings, *, wait: float = 0.0) -> StoreWriter:
    """The writer of the store ``settings`` name, holding its build lock (``BuildLocked``
    when another build holds it after ``wait`` seconds)."""
    if is_milvus(settings.store):
        from .milvus_write import MilvusWriter

        return MilvusWriter(MilvusAddress.parse(settings.store), settings.store_token, wait=wait)
    from .directory import DirectoryWriter

    return DirectoryWriter(settings.index_dir, wait=wait)
