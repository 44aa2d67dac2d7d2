"""Writing the collections of a Milvus store: each document written so that no reader ever
sees it half-done, and a killed build repaired by the next. (The StoreWriter that drives it,
with the embedding model, is writer.py.)

A commit ``j`` (the manifest's next generation):

1. records a journal row (``j``, the layout written, the chunk ids it may use);
2. marks removed documents' head rows with ``ver = -j`` (hidden at once);
3. inserts the new chunks and document parts with ``ver = j`` (invisible: their document's
   head row still names the older version);
4. upserts each document's head row with ``ver = j``: the switch, one row per document;
5. deletes the older versions and the removed documents, adds the terms of the chunks
   written to the layout's term counts and takes off those of the chunks deleted
   (terms.py), writes the manifest (generation ``j``), deletes the journal.

A build that dies anywhere leaves the journal; the next writer settles ``j`` (keeps what was
switched, drops what was not) and, if the manifest had not reached ``j``, counts the terms
of the layout again, before anything else. A layout written before ancre kept term counts
(no ``term_counts`` in its manifest) has them counted by the next writer that opens it.

Re-embedding fills a staged layout (the live one + 1, named by a "staging" meta row with the
manifest it is built for) with the same commits, while readers keep the live one; ``switch``
then moves the manifest to it in one row. An interrupted re-embedding goes on where it
stopped when the next build wants the same manifest; any other build drops it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...chunker import ChunkSpan
from ...loaders import Document
from ..base import StoreError
from ..location import MilvusAddress
from . import terms
from .client import (
    MAX_TEXT,
    chunks_name,
    connect,
    doc_key,
    docs_name,
    quoted,
    read_meta,
    terms_name,
)
from .client import translate as translated
from .lease import Lease
from .schema import create_layout, create_terms, drop_layout, ensure_meta, put_meta

log = logging.getLogger(__name__)

PIECE = 16000
"""Characters of a document's JSON per row (at most 64,000 UTF-8 bytes)."""
SLICE = 500
"""Chunk rows (or keys in one expression) per request."""
DOC_SLICE = 100
"""Document rows per request (each carries up to 64 kB of the document's JSON)."""
FIELD = 16000
"""Longest title, url, author, source kept for display (the full values are in the JSON)."""
SHOWN = ("title", "url", "date", "author", "source")
LIVE = "part == 0 and ver > 0"
"""The head rows of the documents a reader sees."""


@dataclass
class PreparedDocument:
    """A document ready to be stored: its chunks, their analysed lexical text, vectors."""

    doc: Document
    spans: list[ChunkSpan]
    lexical: list[str]
    """Per chunk, ancre's analysed tokens (lexical.analyze) joined by spaces."""
    vectors: np.ndarray


class CollectionWriter:
    """The collections of one Milvus store, written under its build lease."""

    def __init__(self, address: MilvusAddress, token: str = "", *, wait: float = 0.0):
        self.address = address
        self.client = connect(address, token)
        try:
            ensure_meta(self.client, address)
            self.lease = Lease(self.client, address, wait)
        except BaseException:
            self.client.close()
            raise
        try:
            self.manifest: dict[str, Any] = read_meta(self.client, address, "manifest")
            self.staging: dict[str, Any] = read_meta(self.client, address, "staging")
            self._repair()
            self._count_missing()
        except BaseException:
            self.close()
            raise

    @property
    def layout(self) -> int:
        """The live layout (0: none yet)."""
        return int(self.manifest.get("layout", 0))

    def _names(self, layout: int) -> tuple[str, str]:
        return chunks_name(self.address.collection, layout), docs_name(
            self.address.collection, layout
        )

    def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except Exception as err:
            raise translated(err, self.address) from None

    def _pages(
        self, collection: str, expr: str, fields: list[str], batch: int = 10_000
    ) -> Iterator[list[dict[str, Any]]]:
        it = self._run(
            "query_iterator", collection, batch_size=batch, filter=expr, output_fields=fields
        )
        try:
            while page := it.next():
                yield page
        finally:
            it.close()

    def _rows(self, collection: str, expr: str, fields: list[str]) -> list[dict[str, Any]]:
        return [row for page in self._pages(collection, expr, fields) for row in page]

    def _delete(self, collection: str, keys: list[str], expr: str = "") -> None:
        """Delete the rows of documents ``keys`` (that also match ``expr``)."""
        for i in range(0, len(keys), SLICE):
            where = f"doc_key in {quoted(keys[i : i + SLICE])}"
            self._run("delete", collection, filter=f"{where} and {expr}" if expr else where)

    def _put(self, key: str, value: dict[str, Any]) -> None:
        put_meta(self.client, self.address, key, value)

    def _forget(self, key: str) -> None:
        self._run("delete", self.address.collection, ids=[key])

    # ---- repair
    def _repair(self) -> None:
        staged = int(self.staging.get("layout", 0))
        if staged and staged == self.layout:  # killed after its switch: finish the switch
            self._forget("staging")
            self.staging, staged = {}, 0
        for leftover in (self.layout - 1, self.layout + 1):  # unfinished or switched from
            if leftover > 0 and leftover != staged:
                drop_layout(self.client, self.address, leftover)
        journal = read_meta(self.client, self.address, "journal")
        if not journal:
            return
        j, layout = int(journal["ver"]), int(journal["layout"])
        if layout in (self.layout, staged):
            self._settle(layout, j)
            if j > int(self.manifest.get("generation", 0)):  # its counts may be half-done
                self._recount(layout)
        self.manifest = {
            **self.manifest,
            "generation": max(j, int(self.manifest.get("generation", 0))),
            "next_id": max(int(journal["next_id"]), int(self.manifest.get("next_id", 1))),
        }
        if self.layout:
            self._put("manifest", self.manifest)
        self._forget("journal")
        log.warning("%s: finished the writes of an interrupted build", self.address)

    def _count_missing(self) -> None:
        """Count the terms of a live or staged layout written before ancre kept counts."""
        if self.layout and not self.manifest.get("term_counts"):
            self._recount(self.layout)
            self.manifest = {**self.manifest, "term_counts": True}
            self._put("manifest", self.manifest)
        if self.staging and not self.staging.get("term_counts"):
            self._recount(int(self.staging["layout"]))
            self.staging = {**self.staging, "term_counts": True}
            self._put("staging", self.staging)

    def _recount(self, layout: int) -> None:
        """The term counts of ``layout`` made again from every chunk's analysed text."""
        log.warning("%s: counting the terms of layout %d's chunks", self.address, layout)
        drop_layout(self.client, self.address, layout, terms_only=True)
        try:
            create_terms(self.client, self.address, layout)
        except Exception as err:
            raise translated(err, self.address) from None
        chunks = self._names(layout)[0]
        counts = terms.count(
            r["lex"] for page in self._pages(chunks, "id >= 0", ["lex"]) for r in page
        )
        terms.fill(self._run, terms_name(self.address.collection, layout), counts)

    def _settle(self, layout: int, j: int) -> None:
        """Make every document that commit ``j`` touched in ``layout`` whole again."""
        chunks, docs = self._names(layout)
        done = [r["key"] for r in self._rows(docs, f"part == 0 and ver == {j}", ["key"])]
        self._delete(chunks, done, f"ver != {j}")
        self._delete(docs, done, f"part > 0 and ver != {j}")
        started = {r["doc_key"] for r in self._rows(chunks, f"ver == {j}", ["doc_key"])}
        started |= {r["doc_key"] for r in self._rows(docs, f"part > 0 and ver == {j}", ["doc_key"])}
        half = sorted(started - set(done))
        self._delete(chunks, half, f"ver == {j}")
        self._delete(docs, half, f"part > 0 and ver == {j}")
        gone = [r["key"] for r in self._rows(docs, f"part == 0 and ver == {-j}", ["key"])]
        self._delete(chunks, gone)
        self._delete(docs, gone)

    # ---- reading
    def known_sources(self, staged: bool = False) -> dict[str, tuple[str, str]]:
        """doc_id -> (content hash, source) of the live layout (or of the staged one)."""
        layout = int(self.staging.get("layout", 0)) if staged else self.layout
        if not layout:
            return {}
        rows = self._rows(self._names(layout)[1], LIVE, ["doc_id", "hash", "source"])
        return {r["doc_id"]: (r["hash"], r["source"]) for r in rows}

    def stored_documents(self) -> Iterator[Document]:
        """The live documents, a page at a time."""
        if not self.layout:
            return
        docs = self._names(self.layout)[1]
        for page in self._pages(docs, LIVE, ["key", "ver", "n_parts", "body"], DOC_SLICE):
            for head in page:
                yield self._document(docs, head)

    def _document(self, docs: str, head: dict[str, Any]) -> Document:
        body = head["body"]
        if head["n_parts"] > 1:
            parts = self._rows(
                docs,
                f'doc_key == "{head["key"]}" and ver == {head["ver"]} and part > 0',
                ["part", "body"],
            )
            body += "".join(p["body"] for p in sorted(parts, key=lambda p: p["part"]))
        return Document(**json.loads(body))

    def stored_document(self, doc_id: str) -> tuple[Document, np.ndarray] | None:
        """A live document and its stored chunk vectors, in chunk order (None: not stored)."""
        if not self.layout:
            return None
        chunks, docs = self._names(self.layout)
        key = doc_key(doc_id)
        fields = ["key", "ver", "n_parts", "body"]
        heads = self._rows(docs, f'doc_key == "{key}" and {LIVE}', fields)
        if len(heads) != 1:
            return None
        doc = self._document(docs, heads[0])
        rows = self._rows(
            chunks, f'doc_key == "{key}" and ver == {heads[0]["ver"]}', ["ord", "vector"]
        )
        rows.sort(key=lambda r: r["ord"])
        vectors = np.asarray([r["vector"] for r in rows], dtype="float32")
        return (doc, vectors) if doc.doc_id == doc_id else None

    def counts(self) -> tuple[int, int]:
        if not self.layout:
            return 0, 0
        chunks, docs = self._names(self.layout)
        n_docs = self._run("query", docs, filter=LIVE, output_fields=["count(*)"])
        n_chunks = self._run("query", chunks, filter="", output_fields=["count(*)"])
        return int(n_docs[0]["count(*)"]), int(n_chunks[0]["count(*)"])

    # ---- re-embedding into a staged layout
    def stage(self, target: dict[str, Any], dim: int) -> None:
        """Make ready the staged layout for ``target`` (kept if it is already for it)."""
        if self.staging.get("target") == target and self.staging.get("dim") == dim:
            return
        self.drop_staging()
        layout = self.layout + 1
        drop_layout(self.client, self.address, layout)
        create_layout(self.client, self.address, layout, dim, target["vector_index"])
        self.staging = {"target": target, "layout": layout, "dim": dim, "term_counts": True}
        self._put("staging", self.staging)

    def drop_staging(self) -> None:
        if self.staging:
            drop_layout(self.client, self.address, int(self.staging["layout"]))
            self._forget("staging")
            self.staging = {}

    def switch(self) -> None:
        """Move the store to the staged layout: one manifest write, then the old one goes."""
        old, layout = self.layout, int(self.staging["layout"])
        generation = int(self.manifest.get("generation", 0)) + 1
        manifest = {
            **self.staging["target"],
            "embed_dim": self.staging["dim"],
            "generation": generation,
            "layout": layout,
            "next_id": int(self.manifest.get("next_id", 1)),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "term_counts": True,
        }
        self._put("manifest", manifest)
        self.manifest = manifest
        self._forget("staging")
        self.staging = {}
        if old:
            drop_layout(self.client, self.address, old)

    # ---- writing
    def write(
        self,
        documents: list[PreparedDocument],
        removals: list[str],
        manifest: dict[str, Any],
        *,
        staged: bool = False,
    ) -> None:
        """One commit (see the module docstring) into the live layout, or the staged one.
        ``manifest`` is what the live layout is built with (a first commit creates it)."""
        j = int(self.manifest.get("generation", 0)) + 1
        first = int(self.manifest.get("next_id", 1))
        chunk_rows, head_rows, part_rows = rows_of(documents, j, first)
        next_id = first + len(chunk_rows)
        layout = int(self.staging["layout"]) if staged else self.layout
        if not layout:  # the first commit of a new store
            layout = 1
            drop_layout(self.client, self.address, layout)
            create_layout(
                self.client,
                self.address,
                layout,
                int(manifest["embed_dim"]),
                manifest["vector_index"],
            )
        chunks, docs = self._names(layout)
        self._put("journal", {"ver": j, "layout": layout, "next_id": next_id})
        # Documents written before: their older rows go, and their chunks' terms.
        replaced = self._present(docs, [r["key"] for r in head_rows])
        removed = sorted(self._present(docs, [doc_key(d) for d in removals]))
        tombs = [doc_row(k, -j) for k in removed]
        for i in range(0, len(tombs), DOC_SLICE):
            self._run("upsert", docs, tombs[i : i + DOC_SLICE])
        older = [k for k in dict.fromkeys(r["key"] for r in head_rows) if k in replaced]
        gone_lex = self._lexes(chunks, older + removed)
        for rows, target, how, size in (
            (chunk_rows, chunks, "insert", SLICE),
            (part_rows, docs, "insert", DOC_SLICE),
            # the switch, document by document (a new document's head needs no upsert)
            ([r for r in head_rows if r["key"] not in replaced], docs, "insert", DOC_SLICE),
            ([r for r in head_rows if r["key"] in replaced], docs, "upsert", DOC_SLICE),
        ):
            for i in range(0, len(rows), size):
                self._run(how, target, rows[i : i + size])
        self._delete(chunks, older, f"ver != {j}")
        self._delete(docs, older, f"part > 0 and ver != {j}")
        self._delete(chunks, removed)
        self._delete(docs, removed)
        delta = terms.changes((r["lex"] for r in chunk_rows), gone_lex)
        terms.apply(self._run, terms_name(self.address.collection, layout), delta)
        live = self.manifest if staged else manifest
        self.manifest = {
            **live,
            "generation": j,
            "layout": self.layout if staged else layout,
            "next_id": next_id,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "term_counts": True,
        }
        if self.manifest["layout"]:
            self._put("manifest", self.manifest)
        self._forget("journal")

    def _present(self, docs: str, keys: list[str]) -> set[str]:
        """Those of the documents ``keys`` that have a head row in ``docs``."""
        return {
            r["key"]
            for i in range(0, len(keys), SLICE)
            for r in self._run("get", docs, ids=keys[i : i + SLICE], output_fields=["key"])
        }

    def _lexes(self, chunks: str, keys: list[str]) -> list[str]:
        """The analysed texts of the stored chunks of documents ``keys``."""
        return [
            r["lex"]
            for i in range(0, len(keys), SLICE)
            for r in self._rows(chunks, f"doc_key in {quoted(keys[i : i + SLICE])}", ["lex"])
        ]

    def close(self) -> None:
        self.lease.release()
        try:
            self.client.close()
        except Exception as err:
            log.debug("closing %s: %s", self.address, err)


def doc_row(key: str, ver: int, part: int = 0, **fields: Any) -> dict[str, Any]:
    """A row of the document collection: a head (part 0), a piece of the JSON, or (no
    fields, negative ``ver``) a removal in progress."""
    row: dict[str, Any] = dict.fromkeys(
        ("doc_id", "title", "url", "date", "author", "source", "body", "hash"), ""
    )
    row.update(n_chunks=0, n_parts=0, indexed_at=time.time(), v=[0.0, 0.0])
    row.update(fields)
    return {**row, "key": key, "doc_key": key.split(".")[0], "part": part, "ver": ver}


def rows_of(documents: list[PreparedDocument], j: int, first: int):
    """(chunk rows, head rows, part rows) of a commit, checked against Milvus' limits before
    anything is written."""
    chunk_rows, head_rows, part_rows = [], [], []
    next_id = first
    for p in documents:
        doc, key = p.doc, doc_key(p.doc.doc_id)
        if len(doc.doc_id) > FIELD:
            raise StoreError(f"document id longer than {FIELD} characters: {doc.doc_id[:80]}…")
        vectors = np.asarray(p.vectors, dtype="float32")
        for span, lex, vec in zip(p.spans, p.lexical, vectors, strict=True):
            if max(len(span.text.encode()), len(lex.encode()) + 2) > MAX_TEXT:
                raise StoreError(
                    f"chunk {span.ord} of {doc.doc_id} is longer than Milvus allows "
                    f"({MAX_TEXT} bytes): lower --chunk-tokens"
                )
            chunk_rows.append(
                {
                    "id": next_id,
                    "doc_key": key,
                    "ver": j,
                    "ord": span.ord,
                    "start": span.start,
                    "end": span.end,
                    "text": span.text,
                    "lex": f" {lex} ",  # spaces around: a LIKE can match whole tokens
                    "vector": vec.tolist(),
                }
            )
            next_id += 1
        body = json.dumps(
            {
                "doc_id": doc.doc_id,
                "text": doc.text,
                "title": doc.title,
                "url": doc.url,
                "date": doc.date,
                "author": doc.author,
                "source": doc.source,
                "metadata": doc.metadata,
            },
            ensure_ascii=False,
            default=str,
        )
        pieces = [body[i : i + PIECE] for i in range(0, len(body), PIECE)] or [""]
        shown = {f: getattr(doc, f)[:FIELD] for f in SHOWN}
        head_rows.append(
            doc_row(
                key,
                j,
                doc_id=doc.doc_id,
                hash=doc.hash,
                n_chunks=len(p.spans),
                n_parts=len(pieces),
                body=pieces[0],
                **shown,
            )
        )
        part_rows += [
            doc_row(f"{key}.{j}.{n}", j, n, body=piece)
            for n, piece in enumerate(pieces[1:], start=1)
        ]
    return chunk_rows, head_rows, part_rows
