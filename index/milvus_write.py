"""Writing a Milvus store (the StoreWriter protocol): one build at a time, each document
written so that no reader ever sees it half-done, and a killed build repaired by the next.

A commit ``j`` (the manifest's next generation):

1. records a journal row (``j``, the layout, the chunk ids it may use);
2. marks removed documents' head rows with ``ver = -j`` (hidden at once);
3. inserts the new chunks and document parts with ``ver = j`` (invisible: their document's
   head row still names the older version);
4. upserts each document's head row with ``ver = j``: the switch, one row per document;
5. deletes the older versions and the removed documents, writes the manifest (generation
   ``j``), deletes the journal.

A build that dies anywhere leaves the journal; the next writer settles ``j`` (keeps what was
switched, drops what was not) before it starts. Re-embedding writes a new layout and switches
the manifest to it in one row; an interrupted one is dropped and started again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from .loaders import Document
from .milvus import (
    MAX_TEXT,
    chunks_name,
    connect,
    doc_key,
    docs_name,
    quoted,
    read_meta,
    translate,
)
from .milvus_lease import Lease
from .milvus_schema import create_layout, drop_layout, ensure_meta, put_meta
from .stores import Batch, MilvusAddress, StoreError

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


class MilvusWriter:
    """Write side of a Milvus store; holds the store's build lease while open."""

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
            self._load()
            self._repair()
        except BaseException:
            self.close()
            raise

    def _load(self) -> None:
        self.manifest: dict[str, Any] = read_meta(self.client, self.address, "manifest")
        self.layout = int(self.manifest.get("layout", 0))
        self.generation = int(self.manifest.get("generation", 0))
        self.next_id = int(self.manifest.get("next_id", 1))

    @property
    def _chunks(self) -> str:
        return chunks_name(self.address.collection, self.layout)

    @property
    def _docs(self) -> str:
        return docs_name(self.address.collection, self.layout)

    def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except Exception as err:
            raise translate(err, self.address) from None

    def _query(
        self, collection: str, expr: str, fields: list[str], batch: int = 10_000
    ) -> list[dict[str, Any]]:
        it = self._run(
            "query_iterator", collection, batch_size=batch, filter=expr, output_fields=fields
        )
        rows: list[dict[str, Any]] = []
        try:
            while batch := it.next():
                rows.extend(batch)
        finally:
            it.close()
        return rows

    def _delete(self, collection: str, keys: list[str], expr: str = "") -> None:
        """Delete the rows of documents ``keys`` (that also match ``expr``)."""
        for i in range(0, len(keys), SLICE):
            where = f"doc_key in {quoted(keys[i : i + SLICE])}"
            self._run("delete", collection, filter=f"{where} and {expr}" if expr else where)

    # ---- repair
    def _repair(self) -> None:
        # only a build creates the layout after the live one; one left now was never finished
        drop_layout(self.client, self.address, self.layout + 1)
        journal = read_meta(self.client, self.address, "journal")
        if not journal:
            return
        j, layout = int(journal["ver"]), int(journal["layout"])
        self.next_id = max(self.next_id, int(journal["next_id"]))
        if layout == self.layout:
            self._settle(j)
            self.generation = j
            self.manifest = {**self.manifest, "generation": j, "next_id": self.next_id}
            put_meta(self.client, self.address, "manifest", self.manifest)
        self._run("delete", self.address.collection, ids=["journal"])
        log.warning("%s: finished the writes of an interrupted build", self.address)

    def _settle(self, j: int) -> None:
        """Make every document that commit ``j`` touched whole again."""
        done = [r["key"] for r in self._query(self._docs, f"part == 0 and ver == {j}", ["key"])]
        self._delete(self._chunks, done, f"ver != {j}")
        self._delete(self._docs, done, f"part > 0 and ver != {j}")
        started = {r["doc_key"] for r in self._query(self._chunks, f"ver == {j}", ["doc_key"])}
        started |= {
            r["doc_key"] for r in self._query(self._docs, f"part > 0 and ver == {j}", ["doc_key"])
        }
        half = sorted(started - set(done))
        self._delete(self._chunks, half, f"ver == {j}")
        self._delete(self._docs, half, f"part > 0 and ver == {j}")
        gone = [r["key"] for r in self._query(self._docs, f"part == 0 and ver == {-j}", ["key"])]
        self._delete(self._chunks, gone)
        self._delete(self._docs, gone)

    # ---- reading
    def known(self) -> dict[str, str]:
        if not self.layout:
            return {}
        rows = self._query(self._docs, "part == 0 and ver > 0", ["doc_id", "hash"])
        return {r["doc_id"]: r["hash"] for r in rows}

    def stored_documents(self) -> Iterator[Document]:
        if not self.layout:
            return
        heads = self._query(
            self._docs, "part == 0 and ver > 0", ["key", "ver", "n_parts", "body"], DOC_SLICE
        )
        for head in heads:
            body = head["body"]
            if head["n_parts"] > 1:
                parts = self._query(
                    self._docs,
                    f'doc_key == "{head["key"]}" and ver == {head["ver"]} and part > 0',
                    ["part", "body"],
                    DOC_SLICE,
                )
                body += "".join(p["body"] for p in sorted(parts, key=lambda p: p["part"]))
            yield Document(**json.loads(body))

    def counts(self) -> tuple[int, int]:
        if not self.layout:
            return 0, 0
        docs = self._run(
            "query", self._docs, filter="part == 0 and ver > 0", output_fields=["count(*)"]
        )
        chunks = self._run("query", self._chunks, filter="", output_fields=["count(*)"])
        return int(docs[0]["count(*)"]), int(chunks[0]["count(*)"])

    # ---- writing
    def write(self, batch: Batch) -> None:
        j = self.generation + 1
        fresh = batch.fresh or not self.layout
        layout = self.layout + 1 if fresh else self.layout
        first = self.next_id
        chunk_rows, head_rows, part_rows = self._rows(batch, j, first)
        next_id = first + len(chunk_rows)
        if fresh:
            dim = int(batch.manifest.get("embed_dim") or 0)
            drop_layout(self.client, self.address, layout)
            create_layout(self.client, self.address, layout, dim, batch.manifest["vector_index"])
        journal = {"ver": j, "layout": layout, "next_id": next_id}
        put_meta(self.client, self.address, "journal", journal)
        chunks, docs = (
            chunks_name(self.address.collection, layout),
            docs_name(self.address.collection, layout),
        )
        touched = [r["key"] for r in head_rows]
        removed = [] if fresh else [doc_key(d) for d in batch.removals]
        if removed:
            present = {
                r["key"]
                for i in range(0, len(removed), SLICE)
                for r in self._run("get", docs, ids=removed[i : i + SLICE], output_fields=["key"])
            }
            tombs = [self._tombstone(k, -j) for k in removed if k in present]
            for i in range(0, len(tombs), SLICE):
                self._run("upsert", docs, tombs[i : i + SLICE])
        for rows, target, how, size in (
            (chunk_rows, chunks, "insert", SLICE),
            (part_rows, docs, "insert", DOC_SLICE),
            (head_rows, docs, "upsert", DOC_SLICE),  # the switch, document by document
        ):
            for i in range(0, len(rows), size):
                self._run(how, target, rows[i : i + size])
        if not fresh:
            self._delete(chunks, touched, f"ver != {j}")
            self._delete(docs, touched, f"part > 0 and ver != {j}")
            self._delete(chunks, removed)
            self._delete(docs, removed)
        manifest = {
            **batch.manifest,
            "generation": j,
            "layout": layout,
            "next_id": next_id,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        put_meta(self.client, self.address, "manifest", manifest)
        self._run("delete", self.address.collection, ids=["journal"])
        if fresh and self.layout and self.layout != layout:
            drop_layout(self.client, self.address, self.layout)
        self.manifest, self.generation, self.layout, self.next_id = manifest, j, layout, next_id

    @staticmethod
    def _doc_row(key: str, ver: int, part: int = 0, **fields: Any) -> dict[str, Any]:
        """A row of the document collection: a head (part 0) or a piece of the JSON."""
        row: dict[str, Any] = dict.fromkeys(
            ("doc_id", "title", "url", "date", "author", "source", "body", "hash"), ""
        )
        row.update(n_chunks=0, n_parts=0, indexed_at=time.time(), v=[0.0, 0.0])
        row.update(fields)
        doc = key.split(".")[0]
        return {**row, "key": key, "doc_key": doc, "part": part, "ver": ver}

    def _tombstone(self, key: str, ver: int) -> dict[str, Any]:
        return self._doc_row(key, ver)

    def _rows(self, batch: Batch, j: int, first: int):
        """The rows of a batch, checked against Milvus' limits before anything is written."""
        chunk_rows, head_rows, part_rows = [], [], []
        next_id = first
        for p in batch.documents:
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
                self._doc_row(
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
                self._doc_row(f"{key}.{j}.{n}", j, n, body=piece)
                for n, piece in enumerate(pieces[1:], start=1)
            ]
        return chunk_rows, head_rows, part_rows

    def close(self) -> None:
        self.lease.release()
        try:
            self.client.close()
        except Exception as err:
            log.debug("closing %s: %s", self.address, err)

    def __enter__(self) -> MilvusWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
