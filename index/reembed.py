"""Re-embed every chunk with another model, resumably, while readers keep the old one.

When only the encoder changes (another model, or ``--rebuild``), the chunks stay as they are:
their new vectors are built in ``staged-vectors.faiss`` beside the index, saved every
``commit_docs`` documents or ``commit_seconds`` seconds, and the index switches to them in one
commit at the end. Until then readers answer with the old model and vectors; a killed
re-embedding leaves the staged file, and the next build with the same settings embeds only
the chunks it does not hold. Any writer opening the index with other settings drops it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import vectors as vector_kinds
from .chunker import embed_text
from .store import (
    interrupts_deferred,
    postings_path,
    read_manifest,
    vectors_path,
    write_vectors,
)

if TYPE_CHECKING:
    from .writer import Writer

log = logging.getLogger(__name__)

STAGED = "staged-vectors.faiss"
PAGE = 1024
"""Chunks read at a time, in id order, then sorted by length..."""
BATCH = 64
"""...and embedded this many at a time; the staged file may be saved after each batch."""


def staging_target(conn: sqlite3.Connection) -> dict[str, Any] | None:
    row = conn.execute("SELECT value FROM meta WHERE key='staging'").fetchone()
    return json.loads(row[0]) if row else None


def drop_stale_staging(conn: sqlite3.Connection, index_dir: Path, target: dict | None) -> None:
    """Forget a staged re-embedding that is not the one ``target`` wants (settings changed
    back, or the chunks may have changed since)."""
    staged = staging_target(conn)
    if staged is not None and staged != target:
        conn.execute("DELETE FROM meta WHERE key='staging'")
    if staged is None or staged != target:
        (index_dir / STAGED).unlink(missing_ok=True)


def reembed_chunks(w: Writer, target: dict[str, Any], progress: bool = False) -> int:
    """Embed every chunk of the index again with ``w.embedder`` into the staged file, then
    switch the index to it (see the module docstring). Returns the chunks embedded."""
    import faiss
    import numpy as np

    conn, settings = w.conn, w.settings
    path = w.index_dir / STAGED
    staged = None
    if staging_target(conn) == target and path.exists():
        staged = faiss.read_index(str(path))
    if staged is None or staged.d != w.embedder.dim:
        staged = vector_kinds.new_index(w.embedder.dim, "flat")  # fitted at the switch
        conn.execute(
            "INSERT OR REPLACE INTO meta VALUES ('staging', ?)", (json.dumps(target),)
        )  # autocommit: the staged file belongs to these settings
    done = np.sort(vector_kinds.ids_of(staged)) if staged.ntotal else None
    total = conn.execute("SELECT count(*) FROM chunks").fetchone()[0] - staged.ntotal
    bar = None
    if progress and total > 0:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="re-embedding", unit="chunk")
    embedded, docs, saved_at, last = 0, set(), time.monotonic(), 0
    while True:
        rows = conn.execute(
            "SELECT c.id, c.doc_id, c.text, d.title FROM chunks c "
            "JOIN documents d ON d.doc_id = c.doc_id WHERE c.id > ? ORDER BY c.id LIMIT ?",
            (last, PAGE),
        ).fetchall()
        if not rows:
            break
        last = rows[-1][0]
        if done is not None:
            ids = np.array([r[0] for r in rows], dtype="int64")
            rows = [r for r, seen in zip(rows, np.isin(ids, done), strict=True) if not seen]
        rows.sort(key=lambda r: len(r[2]) + len(r[3]), reverse=True)  # similar lengths
        for start in range(0, len(rows), BATCH):
            part = rows[start : start + BATCH]
            vectors = w.embedder.embed([embed_text(r[3], r[2]) for r in part])
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
                write_vectors(path, staged)  # whole and atomic: where a resumed run starts
                docs, saved_at = set(), time.monotonic()
    if bar is not None:
        bar.close()
    _switch(w, target, staged)
    return embedded


def _switch(w: Writer, target: dict[str, Any], staged: Any) -> None:
    """One commit moves the index to the staged vectors and the new settings."""
    gen = w.generation + 1
    staged = vector_kinds.fit(staged, w.settings.vector_index)
    manifest = dict(
        target, embed_dim=staged.d, generation=gen, vectors=vector_kinds.describe(staged)
    )
    manifest["built_at"] = datetime.now().astimezone().isoformat(timespec="microseconds")
    if w.legacy_ids:
        manifest["legacy_ids"] = True
    postings = w.postings()  # the chunks stay: the same postings, under the new generation
    with interrupts_deferred():
        write_vectors(vectors_path(w.index_dir, gen), staged)
        postings.save(postings_path(w.index_dir, gen))
        c = w.conn
        try:
            c.execute("BEGIN IMMEDIATE")
            c.execute("INSERT OR REPLACE INTO meta VALUES ('manifest', ?)", (json.dumps(manifest),))
            c.execute("DELETE FROM meta WHERE key='staging'")
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            if read_manifest(c) != manifest:
                vectors_path(w.index_dir, gen).unlink(missing_ok=True)
                postings_path(w.index_dir, gen).unlink(missing_ok=True)
                raise
            _adopt(w, gen, manifest, staged, postings)  # right after COMMIT: the switch is done
            raise
        _adopt(w, gen, manifest, staged, postings)


def _adopt(w: Writer, gen: int, manifest: dict[str, Any], staged: Any, postings: Any) -> None:
    w.adopt(gen, manifest, staged, postings)
    (w.index_dir / STAGED).unlink(missing_ok=True)
