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
    from .embed import Embedder
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


class StoreWriter(Protocol):
    """What ``build()`` and ``remove()`` drive, on either store. A writer owns the embedding
    model and holds the store's build lock while open (``writer.Writer`` for a directory,
    ``milvus_build.MilvusWriter`` for Milvus)."""

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


def open_reader(settings: IndexSettings) -> StoreReader:
    """The reader of the store ``settings`` name (``settings.store`` or ``index_dir``)."""
    if is_milvus(settings.store):
        from .milvus import MilvusReader

        return MilvusReader(MilvusAddress.parse(settings.store), settings.store_token)
    from .store import IndexReader

    return IndexReader(settings.index_dir)


def open_writer(
    settings: IndexSettings,
    *,
    embedder: Embedder | None = None,
    wait: float = 0.0,
    rebuild: bool = False,
    progress: bool = False,
) -> StoreWriter:
    """The writer of the store ``settings`` name, holding its build lock (``BuildLocked``
    when another build holds it after ``wait`` seconds). ``embedder`` replaces the model the
    settings name (tests pass a fake)."""
    if is_milvus(settings.store):
        from .milvus_build import MilvusWriter

        writer: type = MilvusWriter
    else:
        from .writer import Writer

        writer = Writer
    return writer(settings, embedder=embedder, wait=wait, rebuild=rebuild, progress=progress)
