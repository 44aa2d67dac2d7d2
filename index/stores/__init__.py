"""The stores: where an index lives and how it is read and written, as a directory (SQLite
FTS5 + a FAISS file, ``directory/``: the default, for one machine) or a Milvus collection
(``milvus://HOST:PORT[/COLLECTION]``, ``milvus/``: for archives and deployments that outgrow
one machine). The read path (hybrid fusion, evidence, answers) and the write path (chunking,
embedding, incremental builds) are the same code over either: they only use the protocols
of ``base.py``, and get a store from ``open_reader`` / ``open_writer``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lazy_loader

from .location import MilvusAddress, describe_location, is_milvus, location_flag

if TYPE_CHECKING:
    from ..embed import Embedder
    from ..settings import IndexSettings
    from .base import BuildLocked, ChunkRow, StoreError, StoreReader, StoreWriter

__getattr__, __dir__, _ = lazy_loader.attach(
    __name__,
    submod_attrs={"base": ["BuildLocked", "ChunkRow", "StoreError", "StoreReader", "StoreWriter"]},
)
"""The protocols and records of ``base.py`` (and numpy with them) are imported when first
used: the settings only need ``location.py``."""

__all__ = [
    "BuildLocked",
    "ChunkRow",
    "MilvusAddress",
    "StoreError",
    "StoreReader",
    "StoreWriter",
    "describe_location",
    "is_milvus",
    "location_flag",
    "open_reader",
    "open_writer",
]


def open_reader(settings: IndexSettings) -> StoreReader:
    """The reader of the store ``settings`` name (``settings.store`` or ``index_dir``)."""
    if is_milvus(settings.store):
        from .milvus.reader import MilvusReader

        return MilvusReader(MilvusAddress.parse(settings.store), settings.store_token)
    from .directory.reader import DirectoryReader

    return DirectoryReader(settings.index_dir)


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
        from .milvus.writer import MilvusWriter

        writer: type = MilvusWriter
    else:
        from .directory.writer import DirectoryWriter

        writer = DirectoryWriter
    return writer(settings, embedder=embedder, wait=wait, rebuild=rebuild, progress=progress)
