"""ancre's write path: load articles, chunk, embed, store (a directory: FAISS + SQLite
FTS5; or a Milvus collection).

from ancre.index import build
report = build(["articles/"], index_dir="my-index")   # or index_dir="milvus://host:19530"
"""

from .build import BuildReport, build, remove
from .chunker import embed_text
from .embed import Embedder, load_embedder, resolve_model
from .lexical import APOSTROPHES, analyze, detect_language, fold, function_words
from .loaders import EXTENSIONS, Document, Notice, Skipped, legacy_id, printable
from .native import passive_openmp
from .privacy import no_telemetry
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
"""The directory store's reader under its former name (``ancre bench`` and its tests)."""
Writer = DirectoryWriter
"""The directory store's writer under its former name (``ancre bench`` and its tests)."""

__all__ = [
    "APOSTROPHES",
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
]

no_telemetry()  # before anything ancre does may load OpenVINO (see privacy.py)
passive_openmp()  # before torch, FAISS or llama.cpp load OpenMP (see native.py)
