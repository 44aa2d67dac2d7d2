"""Hybrid retrieval: BM25 (French-aware FTS5) and dense (FAISS) candidates, fused by a
weighted sum of the max-normalised BM25 score and the cosine similarity.

Why this fusion: on French text the English MiniLM encoder is weak, and reciprocal-rank fusion
let its noise pull good lexical hits down, while a score fusion that keeps BM25 in charge and
uses the cosine to break ties and rescue paraphrases measured above both (docs/benchmarks.md,
"Retrieval fusion").
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ancre.index import (
    ChunkRow,
    Embedder,
    IndexSettings,
    StoreReader,
    analyze,
    describe_location,
    is_milvus,
    load_embedder,
    location_flag,
    open_reader,
    resolve_model,
)
from ancre.index.nearcopies import alternates

from ..records import Passage
from .crosslingual import Query, Translator, build_query
from .rerank import POOL
from .rerank import rerank as reorder

CANDIDATES = 50


@dataclass
class Filters:
    """Optional filters on document metadata (dates compare as ISO strings)."""

    date_from: str = ""
    date_to: str = ""
    source: str = ""
    """Substring of the title, url or document id (case-insensitive)."""

    def keep(self, title: str, url: str, doc_id: str, date: str) -> bool:
        if self.date_from and (not date or date[: len(self.date_from)] < self.date_from):
            return False
        if self.date_to and (not date or date[: len(self.date_to)] > self.date_to):
            return False
        if self.source:
            needle = self.source.lower()
            return any(needle in (v or "").lower() for v in (title, url, doc_id))
        return True

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to or self.source)


def dense_texts(q: Query) -> list[str]:
    """What the encoder embeds for a query: the question, and its translation too when the
    index is in another language (each chunk keeps its best cosine)."""
    return [q.asked] if q.text == q.asked else [q.asked, q.text]


def fuse(
    lexical: Mapping[int, float],
    dense: Mapping[int, float],
    rows: Mapping[int, ChunkRow],
    k: int,
    filters: Filters | None = None,
    lexical_weight: float = 1.0,
    dense_weight: float = 1.0,
) -> list[Passage]:
    """The ``k`` best of the chunks found by either search (BM25 score and cosine by chunk
    id), ranked by ``lexical_weight`` x BM25/max(BM25) + ``dense_weight`` x cosine; a chunk
    without its row (removed by a build since) or that ``filters`` refuses is left out."""
    top_bm25 = max(lexical.values(), default=0.0) or 1.0
    scored = []
    for cid in dict.fromkeys([*lexical, *dense]):
        row = rows.get(cid)
        if row is None:  # removed by a build since the vectors were loaded
            continue
        if filters and not filters.keep(row.title, row.url, row.doc_id, row.date):
            continue
        lex = lexical.get(cid, 0.0) / top_bm25
        cos = dense.get(cid, 0.0)
        scored.append((lexical_weight * lex + dense_weight * cos, lex, cos, row))
    scored.sort(key=lambda s: -s[0])
    return [
        Passage.of(row, r + 1, score, lex, cos)
        for r, (score, lex, cos, row) in enumerate(scored[:k])
    ]


class Retriever:
    """Hybrid search over one index (a directory or Milvus: any ``StoreReader``).
    Thread-safe; follows index rebuilds (``refresh``)."""

    def __init__(
        self,
        reader: StoreReader,
        embedder: Embedder,
        translator: Translator | None = None,
        index_dir: str | Path = "",
    ):
        self.reader = reader
        self.embedder = embedder
        self.translator = translator
        """Optional: translates a question in another language than the index's, next to
        the word list (``crosslingual.build_query``)."""
        self.index_dir = index_dir
        """Where the table of near-copies lies ("" for none: a Milvus store)."""
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        index_dir: str | Path | None = None,
        *,
        embedder: Embedder | None = None,
        settings: IndexSettings | None = None,
    ) -> Retriever:
        """The index at ``index_dir`` (a directory or a ``milvus://`` URI; else the store
        ``settings`` name) with the model and the encoder it was built with (``embedder``
        replaces them: tests pass a fake). A different ``settings.embed_model`` or
        ``settings.embed_precision`` is refused with the command that re-embeds the index:
        queries must be embedded by the encoder that embedded the documents."""
        s = settings or IndexSettings()
        if index_dir is not None:
            s = s.at(index_dir)
        reader = open_reader(s)
        model = reader.manifest.get("embed_model", "")
        encoder = reader.manifest.get("embed_encoder", "fp32")  # fp32 before it was recorded
        precision = encoder.partition("-")[0]
        problem = ""
        if embedder is None:
            if (
                s.embed_model
                and s.embed_model != model
                and resolve_model(s.embed_model)[0] != model
            ):
                problem = (
                    f"the index at {describe_location(s)} was built with {model}, not "
                    f"{s.embed_model}: run `ancre index build SOURCE... {location_flag(s)} "
                    f"--embed-model {s.embed_model}` to re-embed it, "
                    "or leave ANCRE_EMBED_MODEL empty to use the index's model"
                )
            elif s.embed_precision and s.embed_precision != precision:
                problem = (
                    f"the index at {describe_location(s)} was embedded in {precision}, not "
                    f"{s.embed_precision}: run `ancre index build SOURCE... {location_flag(s)} "
                    f"--embed-precision {s.embed_precision}` to re-embed it, "
                    "or leave ANCRE_EMBED_PRECISION empty to use the index's encoder"
                )
        elif embedder.model_id == model and embedder.encoder != encoder:
            problem = (
                f"the index at {describe_location(s)} was embedded by encoder {encoder}, "
                f"not {embedder.encoder}: re-embed it with `ancre index build SOURCE... "
                f"{location_flag(s)}`"
            )
        if problem:
            reader.close()
            raise ValueError(problem)
        if embedder is None:
            embedder = load_embedder(
                model, s.embed_backend, s.cache_dir, s.embed_batch_size, encoder=encoder
            )
        return cls(reader, embedder, index_dir="" if is_milvus(s.store) else s.index_dir)

    @property
    def language(self) -> str:
        return self.reader.manifest.get("language", "french")

    def refresh(self) -> None:
        with self._lock:
            self.reader.refresh()

    def term_stats(self, terms: list[str]) -> tuple[dict[str, float], dict[str, int]]:
        """(idf, chunk frequency) of analysed terms; see StoreReader.term_stats."""
        return self.reader.term_stats(terms)

    def query(self, question: str, *, lookup: bool = True) -> Query:
        """What ``search`` looks for: ``question`` itself, or, in another language than the
        index's, its names and numbers with its other words translated; and (``lookup``)
        which of its content words the index does not know (``Query.unknown_share``)."""
        known = (lambda terms: self.term_stats(terms)[1]) if lookup else None
        return build_query(question, self.language, known, self.translator)

    def search(
        self,
        query: str | Query,
        k: int,
        filters: Filters | None = None,
        *,
        lexical_weight: float = 1.0,
        dense_weight: float = 1.0,
        rerank: bool = True,
    ) -> list[Passage]:
        """The ``k`` best chunks for ``query`` (a question, or ``self.query(question)``):
        ``lexical_weight`` x BM25/max(BM25) + ``dense_weight`` x cosine; then (``rerank``)
        the best ``rerank.POOL`` of them are reordered by the learned reranker, whose
        probability becomes their ``score``. A question in another language than the
        index's is searched with its translated words (``Query.text``). Each passage carries
        its document's near-copies (``also``)."""
        q = query if isinstance(query, Query) else self.query(query, lookup=False)
        fused = self._fused(q, max(k, POOL if rerank else k), filters, lexical_weight, dense_weight)
        if rerank and len(fused) >= 2:
            idf = self.term_stats(list(dict.fromkeys(analyze(q.text, self.language))))[0]
            fused = reorder(q.text, fused, idf, self.language)
        return self._with_alternates(fused[:k])

    def _with_alternates(self, passages: list[Passage]) -> list[Passage]:
        """Each passage's ``also``: its document's near-copies that were not indexed."""
        if self.index_dir:
            found = alternates(self.index_dir, [p.doc_id for p in passages])
            for p in passages:
                p.also = found.get(p.doc_id, [])
        return passages

    def _fused(
        self,
        q: Query,
        k: int,
        filters: Filters | None,
        lexical_weight: float,
        dense_weight: float,
    ) -> list[Passage]:
        """The store's lexical and dense candidates for ``q``, each with its cosine (from
        the stored vectors for those only BM25 found), fused (``fuse``)."""
        lw, dw = lexical_weight, dense_weight
        pool = CANDIDATES * (4 if filters else 1)
        lexical = dict(self.reader.lexical_search(q.text, pool)) if lw > 0 else {}
        dense: dict[int, float] = {}
        if dw > 0:
            texts = dense_texts(q)
            qvecs = self.embedder.embed(texts)
            for hits in self.reader.dense_search(qvecs, pool):
                for cid, cos in hits:
                    dense[cid] = max(cos, dense.get(cid, -1.0))
        ids = list(dict.fromkeys([*lexical, *dense]))
        if not ids:
            return []
        missing = [i for i in ids if i not in dense]
        if missing and dw > 0:  # cosine of lexical-only candidates, from their stored vectors
            sims = (self.reader.chunk_vectors(missing) @ qvecs.T).max(axis=1)
            dense.update(zip(missing, map(float, sims), strict=True))
        return fuse(lexical, dense, self.reader.chunks(ids), k, filters, lw, dw)

    def close(self) -> None:
        self.reader.close()
