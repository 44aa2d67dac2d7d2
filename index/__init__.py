"""ancre's write path: load articles, chunk, embed, store (a directory: FAISS + SQLite
FTS5; or a Milvus collection).

from ancre.index import build
report = build(["articles/"], index_dir="my-index")   # or index_dir="milvus://host:19530"
"""

from .chunker import embed_text
from .embed import Embedder, load_embedder, resolve_model
from .lexical import APOSTROPHES, analyze, fold, function_words
from .loaders import EXTENSIONS, Document, Skipped
from .settings import IndexSettings, default_cache_dir, default_index_dir, describe, from_env
from .store import IndexReader
from .stores import (
    StoreError,
    StoreReader,
    StoreWriter,
    describe_location,
    is_milvus,
    location_flag,
    open_reader,
    open_writer,
)
from .writer import BuildLocked, BuildReport, Writer, build, remove

__all__ = [
    "APOSTROPHES",
    "EXTENSIONS",
    "BuildLocked",
    "BuildReport",
    "Document",
    "Embedder",
    "IndexReader",
    "IndexSettings",
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
    "embed_text",
    "fold",
    "from_env",
    "function_words",
    "is_milvus",
    "load_embedder",
    "location_flag",
    "open_reader",
    "open_writer",
    "remove",
    "resolve_model",
]
