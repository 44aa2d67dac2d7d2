"""ancre's write path: load articles, chunk, embed, store (FAISS + SQLite FTS5).

from index import build
report = build(["articles/"], index_dir="my-index")
"""

from .build import BuildLocked, BuildReport, build, remove
from .config import Settings
from .loaders import Document, Skipped
from .store import IndexReader, StoreError

__all__ = [
    "BuildLocked",
    "BuildReport",
    "Document",
    "IndexReader",
    "Settings",
    "Skipped",
    "StoreError",
    "build",
    "remove",
]
