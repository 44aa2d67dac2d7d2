"""ancre's write path: load articles, chunk, embed, store (a directory: FAISS + SQLite
FTS5; or a Milvus collection).

from ancre.index import build
report = build(["articles/"], index_dir="my-index")   # or index_dir="milvus://host:19530"
"""

from typing import TYPE_CHECKING

import lazy_loader

from .native import passive_openmp
from .privacy import no_telemetry

if TYPE_CHECKING:
    from .build import BuildReport, build, remove
    from .chunker import embed_text
    from .embed import Embedder, load_embedder, resolve_model
    from .lexical import analyze, detect_language, fold, function_words, straighten
    from .loaders import EXTENSIONS, Document, Notice, Skipped, legacy_id, printable
    from .settings import IndexSettings, default_cache_dir, default_index_dir, describe, from_env
    from .stores import (
        BuildLocked,
        ChunkRow,
        StoreError,
        StoreReader,
        StoreWriter,
        describe_location,
        is_milvus,
        location_flag,
        open_reader,
        open_writer,
    )
    from .stores.directory.reader import DirectoryReader
    from .stores.directory.writer import DirectoryWriter

    IndexReader = DirectoryReader
    Writer = DirectoryWriter

ALIASES = {"IndexReader": "DirectoryReader", "Writer": "DirectoryWriter"}
"""The directory store's reader and writer under their former names (``ancre bench`` and
its tests)."""

_getattr, _, _ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "build": ["BuildReport", "build", "remove"],
        "chunker": ["embed_text"],
        "embed": ["Embedder", "load_embedder", "resolve_model"],
        "lexical": ["analyze", "detect_language", "fold", "function_words", "straighten"],
        "loaders": ["EXTENSIONS", "Document", "Notice", "Skipped", "legacy_id", "printable"],
        "settings": [
            "IndexSettings",
            "default_cache_dir",
            "default_index_dir",
            "describe",
            "from_env",
        ],
        "stores": [
            "BuildLocked",
            "ChunkRow",
            "StoreError",
            "StoreReader",
            "StoreWriter",
            "describe_location",
            "is_milvus",
            "location_flag",
            "open_reader",
            "open_writer",
        ],
        "stores.directory.reader": ["DirectoryReader"],
        "stores.directory.writer": ["DirectoryWriter"],
    },
)


def __getattr__(name: str):
    """The public names, each imported when first used: a process that only reads the
    settings (``ancre --help``, an ``ancre ask`` answered by a warm process) loads neither
    numpy nor the models' libraries."""
    return _getattr(ALIASES.get(name, name))


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "EXTENSIONS",
    "BuildLocked",
    "BuildReport",
    "ChunkRow",
    "DirectoryReader",
    "DirectoryWriter",
    "Document",
    "Embedder",
    "IndexReader",
    "IndexSettings",
    "Notice",
    "Skipped",
    "StoreError",
    "StoreReader",
    "StoreWriter",
    "Writer",
    "analyze",
    "build",
    "default_cache_dir",
    "default_index_dir",
    "describe",
    "describe_location",
    "detect_language",
    "embed_text",
    "fold",
    "from_env",
    "function_words",
    "is_milvus",
    "legacy_id",
    "load_embedder",
    "location_flag",
    "open_reader",
    "open_writer",
    "printable",
    "remove",
    "resolve_model",
    "straighten",
]

no_telemetry()  # before anything ancre does may load OpenVINO (see privacy.py)
passive_openmp()  # before torch, FAISS or llama.cpp load OpenMP (see native.py)
