"""ancre's write path: load articles, chunk, embed, store (FAISS + SQLite FTS5).

from ancre.index import build
report = build(["articles/"], index_dir="my-index")
"""

from .build import BuildReport, build, remove
from .chunker import embed_text
from .embed import Embedder, load_embedder, resolve_model
from .lexical import APOSTROPHES, analyze, fold, function_words
from .loaders import EXTENSIONS, Document, Notice, Skipped, printable
from .privacy import no_telemetry
from .settings import IndexSettings, default_cache_dir, default_index_dir, describe, from_env
from .store import BuildLocked, IndexReader, StoreError
from .writer import Writer

__all__ = [
    "APOSTROPHES",
    "EXTENSIONS",
    "BuildLocked",
    "BuildReport",
    "Document",
    "Embedder",
    "IndexReader",
    "IndexSettings",
    "Notice",
    "Skipped",
    "StoreError",
    "Writer",
    "analyze",
    "build",
    "default_cache_dir",
    "default_index_dir",
    "describe",
    "embed_text",
    "fold",
    "from_env",
    "function_words",
    "load_embedder",
    "printable",
    "remove",
    "resolve_model",
]

no_telemetry()  # before anything ancre does may load OpenVINO (see privacy.py)
