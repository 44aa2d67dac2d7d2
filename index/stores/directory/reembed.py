"""Re-embed every chunk with another model, resumably, while readers keep the old one.

When only the encoder changes (another model, or ``--rebuild``), the chunks stay as they are:
their new vectors are built in ``staged-vectors.faiss`` beside the index, saved every
``commit_docs`` documents or ``commit_seconds`` seconds, and the index switches to them in one
commit at the end (``DirectoryWriter.reembed``). Until then readers answer with the old model
and vectors; a killed re-embedding leaves the staged file, and the next build with the same
settings embeds only the chunks it does not hold. Any writer opening the index with other
settings drops it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from ...chunker import embed_text
from ...embed import Embedder
from ...settings import IndexSettings
from ..basewriter import longest_first
from . import vectors as vector_kinds
from .layout import pages, write_vectors

STAGED = "staged-vectors.faiss"
PAGE = 1024
"""Chunks read at a time, in id order, then sorted by length..."""
BATCH = 64
"""...and embedded this many at a time; the staged file may be saved after each batch."""


class Staging:
    """The re-embedding staged beside an index directory: the vectors file, and the
    manifest it is built for (the ``staging`` meta row)."""

    def __init__(self, conn: sqlite3.Connection, index_dir: Path):
        self.conn = conn
        self.path = index_dir / STAGED

    def target(self) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key='staging'").fetchone()
        return json.loads(row[0]) if row else None

    def drop_unless(self, target: dict[str, Any] | None) -> None:
        """Forget a staged re-embedding that is not the one ``target`` wants (settings
        changed back, or the chunks may have changed since)."""
        staged = self.target()
        if staged is not None and staged != target:
            self.conn.execute("DELETE FROM meta WHERE key='staging'")
        if staged is None or staged != target:
            self.clear()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def embed(
        self,
        embedder: Embedder,
        target: dict[str, Any],
        settings: IndexSettings,
        progress: bool = False,
    ) -> tuple[Any, int]:
        """Embed every chunk of the index with ``embedder`` into the staged file, going on
        from a staged file built for ``target``. Returns the staged vectors (all chunks) and
        the number of chunks embedded now."""
        import faiss
        import numpy as np

        staged = None
        if self.target() == target and self.path.exists():
            staged = faiss.read_index(str(self.path))
        if staged is None or staged.d != embedder.dim:
            staged = vector_kinds.new_index(embedder.dim, "flat")  # fitted at the switch
            self.conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('staging', ?)", (json.dumps(target),)
            )  # autocommit: the staged file belongs to these settings
        done = np.sort(vector_kinds.ids_of(staged)) if staged.ntotal else None
        total = self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0] - staged.ntotal
        bar = None
        if progress and total > 0:
            from tqdm import tqdm

            bar = tqdm(total=total, desc="re-embedding", unit="chunk")
        embedded, docs, saved_at = 0, set(), time.monotonic()
        sql = (
            "SELECT c.id, c.doc_id, c.text, d.title FROM chunks c "
            "JOIN documents d ON d.doc_id = c.doc_id WHERE c.id > ? ORDER BY c.id LIMIT ?"
        )
        for rows in pages(self.conn, sql, 0, PAGE):
            if done is not None:
                ids = np.array([r[0] for r in rows], dtype="int64")
                rows = [r for r, seen in zip(rows, np.isin(ids, done), strict=True) if not seen]
            for part in longest_first(rows, lambda r: embedder.count_tokens(r[2]), BATCH):
                vectors = embedder.embed([embed_text(r[3], r[2]) for r in part])
                ids = np.array([r[0] for r in part], dtype="int64")
                staged.add_with_ids(np.asarray(vectors, dtype="float32"), ids)
                embedded += len(part)
                docs.update(r[1] for r in part)
                if bar is not None:
                    bar.update(len(part))
                if (
                    len(docs) >= settings.commit_docs
                    or time.monotonic() - saved_at >= settings.commit_seconds
                ):
                    write_vectors(self.path, staged)  # whole and atomic: where a rerun starts
                    docs, saved_at = set(), time.monotonic()
        if bar is not None:
            bar.close()
        return staged, embedded
