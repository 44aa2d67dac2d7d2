"""The Milvus store: the same index as a directory, in Milvus collections, for archives and
deployments that outgrow one machine (``milvus://HOST:PORT[/COLLECTION]``).

Layout, for a store named C (``C`` is the collection part of the URI)::

    C            meta rows: "manifest" (how the index was built, its generation and
                 layout g), "lock" (the build lease), "journal" (the commit in progress)
    C_chunks_g   one row per chunk: id, doc_key, ver, ord, start, end, text, lex (ancre's
                 analysed tokens, BM25 in the engine), vector (dense, inner product)
    C_docs_g     one head row per document (key = doc_key: doc_id, hash, title, url, date,
                 ver...) and the document itself as JSON, split over part rows
    C_terms_g    one row per analysed term: the chunks holding it (terms.py), the term
                 statistics of the evidence model and the reranker's idf

A document is visible when its head row's ``ver`` equals its chunks' ``ver``: a build writes
the chunks, then the head row (the switch), then deletes the older chunks, so readers never
see a document half-written and a killed build is repaired by the next one (collections.py).
Re-embedding writes a new layout g+1 and switches the manifest to it in one row.

BM25 runs on ancre's own analysed tokens through a whitespace analyser, so that lexical
scores and term statistics follow the same analysis as the directory store (lexical.py).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from ...lexical import analyze
from ...loaders import Document
from ..base import ChunkRow, StoreError
from ..location import MilvusAddress
from ..manifest import FORMAT_VERSION
from .client import (
    chunks_name,
    connect,
    doc_key,
    docs_name,
    is_missing_collection,
    no_index,
    read_meta,
    terms_name,
    translate,
)
from .terms import kept

log = logging.getLogger(__name__)

T = TypeVar("T")
FREQS_KEPT = 100_000
"""Terms whose chunk frequency a reader keeps (then it starts again)."""
PROBE = 16384
"""Milvus' largest top-k: a BM25 search this wide counts a term's chunks exactly below it."""
MATCH, PROBE_MODE = "match", "probe"
HNSW_EF = 64
"""The directory store's FAISS HNSW search parameter."""
ROW_FIELDS = ["doc_key", "ver", "ord", "start", "end", "text", "vector"]
"""What a search brings back with each hit, so that reading the candidates costs no ``get``
by primary key (on Milvus Lite a ``get`` grows with the collection: docs/scale.md)."""
ROWS_KEPT = 2000
"""Chunk rows kept from the searches (the oldest go first)."""


class MilvusReader:
    """Read side of a Milvus store (the StoreReader protocol). Thread-safe.

    Milvus serves every commit as soon as it is written (strong consistency); ``refresh``
    re-reads the manifest so that a build's new layout, language or generation is seen."""

    def __init__(self, address: MilvusAddress, token: str = ""):
        self.address = address
        self.client = connect(address, token)
        self._lock = threading.RLock()
        self.generation = -1
        self.manifest: dict[str, Any] = {}
        self.layout = 0
        self._df_mode = MATCH
        self._freqs: dict[str, int] = {}
        """Chunk frequencies of terms read at this generation (from the term counts, or
        counted by search on a store written before them: docs/scale.md)."""
        self._chunks: int | None = None
        """Chunks at this generation, for the idf (a count request each time otherwise)."""
        self._hits: dict[int, dict[str, Any]] = {}
        """Chunk rows that searches of this generation returned, read by chunks() and
        chunk_vectors() instead of asking Milvus again."""
        try:
            self.refresh()
        except BaseException:
            self.close()
            raise

    # ---- generations
    def refresh(self) -> bool:
        with self._lock:
            manifest = read_meta(self.client, self.address, "manifest")
            if not manifest:
                raise no_index(self.address)
            if manifest.get("format_version") != FORMAT_VERSION:
                raise StoreError(
                    f"index format {manifest.get('format_version')} in {self.address}, this "
                    f"ancre reads {FORMAT_VERSION}: rebuild it with `ancre index build "
                    f"SOURCE... --rebuild --store {self.address}`"
                )
            if manifest["generation"] == self.generation:
                return False
            self.manifest, self.generation = manifest, manifest["generation"]
            self._freqs, self._chunks, self._hits = {}, None, {}
            if int(manifest["layout"]) != self.layout and not manifest.get("term_counts"):
                log.warning(
                    "%s keeps no term counts: its term statistics cost a search per term; "
                    "the next `ancre index build SOURCE... --store %s` counts them once",
                    self.address,
                    self.address,
                )
            self.layout = int(manifest["layout"])
            return True

    @property
    def chunks_collection(self) -> str:
        return chunks_name(self.address.collection, self.layout)

    @property
    def docs_collection(self) -> str:
        return docs_name(self.address.collection, self.layout)

    @property
    def terms_collection(self) -> str:
        return terms_name(self.address.collection, self.layout)

    def _call(self, fn: Callable[[], T]) -> T:
        """Run one request; when a re-embedding build replaced the layout meanwhile, follow
        it and run the request again."""
        try:
            return fn()
        except StoreError:
            raise
        except Exception as err:
            if not is_missing_collection(err):
                raise translate(err, self.address) from None
        layout = self.layout
        self.refresh()
        if self.layout == layout:
            raise no_index(self.address)
        try:
            return fn()
        except Exception as err:
            raise translate(err, self.address) from None

    def _count(self, collection: Callable[[], str], expr: str = "") -> int:
        rows = self._call(
            lambda: self.client.query(collection(), filter=expr, output_fields=["count(*)"])
        )
        return int(rows[0]["count(*)"])

    # ---- search
    @property
    def size(self) -> int:
        return self._count(lambda: self.chunks_collection)

    def lexical_search(self, text: str, k: int) -> list[tuple[int, float]]:
        """BM25 over the analysed tokens, computed by Milvus; best first."""
        terms = list(dict.fromkeys(analyze(text, self.manifest.get("language", "french"))))
        if not terms or k <= 0:
            return []
        hits = self._call(
            lambda: self.client.search(
                self.chunks_collection,
                data=[" ".join(terms)],
                anns_field="sparse",
                limit=min(k, PROBE),
                search_params={"metric_type": "BM25"},
                output_fields=ROW_FIELDS,
            )
        )
        self._keep(hits)
        return [(int(h["id"]), float(h["distance"])) for h in hits[0]]

    def dense_search(self, query_vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        if k <= 0 or not len(query_vectors):
            return [[] for _ in range(len(query_vectors))]
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.manifest.get("vector_index") == "hnsw":
            params["params"] = {"ef": max(HNSW_EF, k)}
        data = np.asarray(query_vectors, dtype="float32").tolist()
        hits = self._call(
            lambda: self.client.search(
                self.chunks_collection,
                data=data,
                anns_field="vector",
                limit=min(k, PROBE),
                search_params=params,
                output_fields=ROW_FIELDS,
            )
        )
        self._keep(hits)
        return [[(int(h["id"]), float(h["distance"])) for h in row] for row in hits]

    def _keep(self, hits: list[list[dict[str, Any]]]) -> None:
        rows = {int(h["id"]): {**h["entity"], "id": int(h["id"])} for row in hits for h in row}
        with self._lock:
            self._hits.update(rows)
            for old in list(self._hits)[: max(0, len(self._hits) - ROWS_KEPT)]:
                del self._hits[old]

    def _chunk_rows(self, ids: list[int], fields: list[str]) -> list[dict[str, Any]]:
        """Chunk rows by id: those the searches brought back, the others from Milvus."""
        with self._lock:
            known = [self._hits[int(i)] for i in ids if int(i) in self._hits]
        missing = [int(i) for i in ids if int(i) not in self._hits]
        if not missing:
            return known
        rows = self._call(
            lambda: self.client.get(self.chunks_collection, ids=missing, output_fields=fields)
        )
        return known + [r for r in rows]  # iterated: pymilvus fills vectors in lazily

    # ---- rows
    def _heads(self, keys: list[str], fields: list[str]) -> dict[str, dict[str, Any]]:
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        rows = self._call(
            lambda: self.client.get(self.docs_collection, ids=keys, output_fields=fields)
        )
        return {r["key"]: r for r in rows}

    def chunks(self, ids: list[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        rows = self._chunk_rows(ids, ["doc_key", "ver", "ord", "start", "end", "text"])
        heads = self._heads(
            [r["doc_key"] for r in rows], ["key", "ver", "doc_id", "title", "url", "date"]
        )
        out: dict[int, ChunkRow] = {}
        for r in rows:
            head = heads.get(r["doc_key"])
            if head is None or head["ver"] != r["ver"]:
                continue  # written by a build that has not finished this document
            out[int(r["id"])] = ChunkRow(
                int(r["id"]),
                head["doc_id"],
                int(r["ord"]),
                int(r["start"]),
                int(r["end"]),
                r["text"],
                head["title"],
                head["url"],
                head["date"],
            )
        return out

    def chunk_vectors(self, ids: list[int]) -> np.ndarray:
        """Stored vectors; a chunk removed meanwhile gets zeros (the search drops it)."""
        rows = self._chunk_rows(ids, ["vector"]) if len(ids) else []
        found = {int(r["id"]): r["vector"] for r in rows}
        dim = int(self.manifest.get("embed_dim") or 0)
        out = np.zeros((len(ids), dim), dtype="float32")
        for row, i in enumerate(ids):
            if int(i) in found:
                out[row] = found[int(i)]
        return out

    # ---- statistics for the evidence model
    def doc_freq(self, terms: list[str]) -> dict[str, int]:
        """Chunks holding each term: the store's term counts in one request (a store
        written before ancre kept them: a search per term), kept for this generation (a
        search asks twice: for the query and for the reranker's idf)."""
        unique = list(dict.fromkeys(terms))
        with self._lock:
            out = {t: self._freqs[t] for t in unique if t in self._freqs}
            counted = bool(self.manifest.get("term_counts"))
        todo = [t for t in unique if t not in out]
        found = self._counted(todo) if counted and todo else {}
        found.update({t: self._df(t) for t in todo if t not in found})
        with self._lock:
            if len(self._freqs) + len(found) > FREQS_KEPT:
                self._freqs.clear()
            self._freqs.update(found)
        out.update(found)
        return {t: out[t] for t in unique}

    def _counted(self, terms: list[str]) -> dict[str, int]:
        """Chunk counts from the layout's term-count collection (terms too long for it,
        or that analysis cannot make, are left out)."""
        ask = [t for t in terms if kept(t) and t.replace("_", "").isalnum()]
        if not ask:
            return {t: 0 for t in terms if kept(t)}
        rows = self._call(
            lambda: self.client.get(self.terms_collection, ids=ask, output_fields=["df"])
        )
        have = {r["term"]: int(r["df"]) for r in rows}
        return {t: have.get(t, 0) for t in terms if kept(t)}

    def _df(self, term: str) -> int:
        """Chunks holding ``term``: Milvus' text-match index where the server has one, else
        a BM25 search as wide as Milvus allows (exact below PROBE), else a scan."""
        if not term.replace("_", "").isalnum():
            return 0  # analysed terms are \\w+; anything else cannot be in the index
        if self._df_mode == MATCH:
            try:
                rows = self.client.query(
                    self.chunks_collection,
                    filter=f'TEXT_MATCH(lex, "{term}")',
                    output_fields=["count(*)"],
                )
                return int(rows[0]["count(*)"])
            except Exception as err:
                if "invalid expr" not in str(err).lower():
                    raise translate(err, self.address) from None
                log.info("%s has no text-match index: counting terms by BM25", self.address)
                self._df_mode = PROBE_MODE
        hits = self._call(
            lambda: self.client.search(
                self.chunks_collection,
                data=[term],
                anns_field="sparse",
                limit=PROBE,
                search_params={"metric_type": "BM25"},
            )
        )
        if len(hits[0]) < PROBE:
            return len(hits[0])
        return self._count(lambda: self.chunks_collection, f'lex like "% {term} %"')

    def term_stats(self, terms: list[str]) -> tuple[dict[str, float], dict[str, int]]:
        """(BM25 idf, chunk frequency), the same formula as the directory store."""
        df = self.doc_freq(terms)
        with self._lock:
            n = self._chunks
        if n is None:
            n = self.size
            with self._lock:
                self._chunks = n
        n = n or 1
        idf = {t: float(np.log(1 + (n - d + 0.5) / (d + 0.5))) for t, d in df.items()}
        return idf, df

    # ---- documents
    def iter_heads(self, fields: list[str], expr: str = "part == 0") -> Iterator[dict[str, Any]]:
        """Every document head row (ver > 0: removals in progress are hidden)."""
        try:
            it = self.client.query_iterator(
                self.docs_collection,
                batch_size=10_000,
                filter=f"{expr} and ver > 0",
                output_fields=fields,
            )
        except Exception as err:
            raise translate(err, self.address) from None
        try:
            while batch := it.next():
                yield from batch
        finally:
            it.close()

    def documents(self) -> list[dict[str, Any]]:
        keys = ("doc_id", "title", "url", "date", "author", "source", "n_chunks", "indexed_at")
        rows = [{k: r[k] for k in keys} for r in self.iter_heads(list(keys))]
        return sorted(rows, key=lambda d: d["doc_id"])

    def document(self, doc_id: str) -> Document | None:
        key = doc_key(doc_id)
        head = self._heads([key], ["key", "ver", "part", "n_parts", "body"]).get(key)
        if head is None or head["ver"] <= 0 or head["part"] != 0:
            return None
        body = head["body"]
        if head["n_parts"] > 1:
            where = f'doc_key == "{key}" and ver == {int(head["ver"])} and part > 0'
            parts = self._call(
                lambda: self.client.query(
                    self.docs_collection, filter=where, output_fields=["part", "body"]
                )
            )
            body += "".join(p["body"] for p in sorted(parts, key=lambda p: p["part"]))
        return Document(**json.loads(body))

    def stats(self) -> dict[str, Any]:
        docs = self._count(lambda: self.docs_collection, "part == 0 and ver > 0")
        chunks = self.size
        return {
            "store": str(self.address),
            "documents": docs,
            "chunks": chunks,
            "vectors": chunks,
            **self.manifest,
        }

    def close(self) -> None:
        try:
            self.client.close()
        except Exception as err:  # closing a broken connection must not hide the real error
            log.debug("closing %s: %s", self.address, err)

    def __enter__(self) -> MilvusReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
