"""Retrieval at scale (``ancre bench --sizes``) on a synthetic index.

A corpus of a few hundred chunks cannot show how search grows with the index, and embedding
100,000 chunks with the real model would take hours on a small machine. So the index is grown
from the real one: each synthetic chunk is a real chunk with some of its words swapped for
other words of the corpus, and its vector is the real chunk's vector plus Gaussian noise
(cosine about 0.8 to its source). The write path runs as is, ``Writer(settings,
embedder=SyntheticEmbedder(...))``: nothing is embedded by the model but the questions.

At each size: the index's own FAISS search (the kind ``vector_index`` picks at that size:
exact below ``vectors.APPROX_FROM`` chunks with the default ``auto``, ivf from there)
against an exact search over the same vectors, and the recall@10 the approximate one loses;
BM25 alone; the hybrid ``Retriever.search``; index load and size.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ancre.index import (
    Document,
    Embedder,
    IndexReader,
    IndexSettings,
    Writer,
    embed_text,
    load_embedder,
)
from ancre.index.stores.directory import vectors as vector_kinds
from ancre.qa.retrieval.rerank import POOL
from ancre.qa.retrieval.search import Retriever
from ancre.qa.settings import AnswerSettings

from .report import Figures, percentile, timed

log = logging.getLogger(__name__)

NOISE = 0.04
"""Per-dimension standard deviation of the noise added to real vectors (cosine ~0.8)."""
SWAP = 0.15
"""Share of the words of a synthetic chunk replaced by other words of the corpus."""
FAISS_QUERIES = 100
"""Query vectors per size: the sample questions, then noisy chunk vectors."""


class SyntheticCorpus:
    """Documents derived from real chunks (words swapped), and their vectors (the source
    chunk's vector plus noise). Deterministic for a seed."""

    def __init__(self, texts: list[str], titles: list[str], vectors: np.ndarray, seed: int = 0):
        self.texts, self.titles, self.vectors = texts, titles, vectors
        self.rng = np.random.default_rng(seed)
        self.vocab = sorted({w for t in texts for w in t.split()})
        self._source: dict[str, int] = {}

    def document(self, i: int) -> Document:
        j = int(self.rng.integers(len(self.texts)))
        words = self.texts[j].split()
        swap = self.rng.random(len(words)) < SWAP
        picks = self.rng.integers(len(self.vocab), size=int(swap.sum()))
        for pos, pick in zip(swap.nonzero()[0], picks, strict=True):
            words[pos] = self.vocab[pick]
        text = " ".join(words)
        title = self.titles[j]
        self._source[embed_text(title, text)] = j
        return Document(doc_id=f"syn-{i:07d}", text=text, title=title, source="synthetic")

    def noisy(self, sources: np.ndarray) -> np.ndarray:
        """Normalised vectors near the real vectors of chunks ``sources``."""
        shape = (len(sources), self.vectors.shape[1])
        v = self.vectors[sources] + NOISE * self.rng.standard_normal(shape, dtype="float32")
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype("float32")

    def vectors_of(self, texts: list[str]) -> np.ndarray:
        """Vectors for the embedded texts of documents made here (an unknown text gets a
        vector near the first chunk's)."""
        sources = np.array([self._source.pop(t, 0) for t in texts], dtype="int64")
        return self.noisy(sources)


class SyntheticEmbedder:
    """The ``Embedder`` of a synthetic index: vectors come from the corpus that made the
    documents; a token is a word (the source chunks already fit the real encoder)."""

    def __init__(
        self, corpus: SyntheticCorpus, model_id: str, max_tokens: int = 256, encoder: str = "fp32"
    ):
        self.corpus = corpus
        self.model_id = model_id
        self.encoder = encoder
        self.max_tokens = max_tokens

    @property
    def dim(self) -> int:
        return int(self.corpus.vectors.shape[1])

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.corpus.vectors_of(texts)


def _top(index: Any, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """A FAISS search with the same result conversion as ``IndexReader.dense_search``, so
    that exact and approximate timings compare."""
    scores, ids = index.search(np.ascontiguousarray(query, dtype="float32"), k)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


def bench_scale(
    sample_dir: Path,
    index_settings: IndexSettings,
    settings: AnswerSettings,
    work: Path,
    sizes: list[int],
    questions: list[str],
    repeats: int,
    fig: Figures,
    *,
    embedder: Embedder | None = None,
) -> None:
    """Grow a synthetic index from the one in ``sample_dir`` to each of ``sizes`` chunks
    (under ``work``) and measure search at each size. Questions are embedded by
    ``embedder``, else by the model ``sample_dir`` was built with."""
    with IndexReader(sample_dir) as reader:
        ids = [int(i) for i in reader.ids()]
        rows = reader.chunks(ids)
        vectors = reader.chunk_vectors(ids)
        model_id = reader.manifest.get("embed_model", "")
        encoder = reader.manifest.get("embed_encoder", "fp32")
    keep = [n for n, i in enumerate(ids) if i in rows]
    corpus = SyntheticCorpus(
        [rows[ids[n]].text for n in keep], [rows[ids[n]].title for n in keep], vectors[keep]
    )
    xs = index_settings
    query_embedder = embedder or load_embedder(
        model_id, xs.embed_backend, xs.cache_dir, xs.embed_batch_size, encoder=encoder
    )
    writes = SyntheticEmbedder(
        corpus, f"synthetic:{model_id}", query_embedder.max_tokens, query_embedder.encoder
    )
    synthetic = replace(xs, index_dir=str(work / "synthetic"))
    folder = Path(synthetic.index_dir)
    current = 0
    results = []
    for size in sizes:
        t0 = time.perf_counter()
        with Writer(synthetic, embedder=writes) as writer:
            for i in range(current, size):
                writer.put(corpus.document(i))
            writer.commit()
        write_s = time.perf_counter() - t0
        load_s, reader = timed(lambda: IndexReader(folder))
        with reader:
            disk = reader.stats()["disk_bytes"]  # the writer's close folded its WAL in
            current = reader.size
            exact = vector_kinds.build(writes.dim, "flat", *vector_kinds.contents(reader.vectors))
            retriever = Retriever(reader, query_embedder)
            res = measure_size(retriever, reader, exact, corpus, questions, settings, repeats)
            res["vectors"] = reader.manifest.get("vectors", {})
        res.update(
            size=current,
            synthetic_write_s=write_s,
            load_s=load_s,
            disk_kb_per_1000=disk / current * 1000 / 1024,
        )
        results.append(res)
        log.info("size %d: %s", current, res)
    for res in results:
        _add_size(fig, res, settings, len(questions))
    fig.note(
        "retrieval",
        "synthetic index: chunks of the corpus with "
        f"{SWAP:.0%} of their words swapped, vectors = real chunk vectors + N(0, {NOISE})"
        " noise, renormalised; written by index.Writer with a SyntheticEmbedder",
    )


def measure_size(
    retriever: Retriever,
    reader: IndexReader,
    exact: Any,
    corpus: SyntheticCorpus,
    questions: list[str],
    settings: AnswerSettings,
    repeats: int,
) -> dict[str, Any]:
    """Search timings at the reader's current size (seconds, p50 and p95)."""
    qvecs = retriever.embedder.embed(questions)
    extra = max(FAISS_QUERIES - len(qvecs), 0)
    noisy = corpus.noisy(corpus.rng.integers(len(corpus.texts), size=extra))
    queries = np.vstack([qvecs, noisy]).astype("float32")
    passes = max(1, repeats)
    flat_t, dense_t, overlap = [], [], []
    for _ in range(passes):
        for q in queries:
            t, best = timed(lambda q=q: _top(exact, q[None, :], 10))
            flat_t.append(t)
            t, found = timed(lambda q=q: reader.dense_search(q[None, :], 10)[0])
            dense_t.append(t)
            truth = {i for i, _ in best}
            if truth:
                overlap.append(len(truth & {i for i, _ in found}) / len(truth))
    reader.lexical_search(questions[0], 50)  # warm-up
    lexical, fts, same = [], [], []
    for _ in range(passes):
        for q in questions:
            t, found = timed(lambda q=q: reader.lexical_search(q, 50))
            lexical.append(t)
            t, best = timed(lambda q=q: reader.fts_search(q, 50))
            fts.append(t)
            if best:  # ties at the 50th score may differ: those count as found
                cut = best[-1][1] * (1 - 1e-9)
                got = {i for i, s in found if s >= cut}
                same.append(sum(i in got or s <= cut for i, s in best) / len(best))
    s = settings

    def search(q: str) -> Any:
        return retriever.search(
            q, s.top_k, lexical_weight=s.lexical_weight, dense_weight=s.dense_weight
        )

    search(questions[0])  # warm-up
    hybrid_passes = max(2, repeats)
    hybrid = [timed(lambda q=q: search(q))[0] for _ in range(hybrid_passes) for q in questions]
    return {
        "queries": len(queries),
        "passes": passes,
        "hybrid_passes": hybrid_passes,
        "flat_p50_s": percentile(flat_t, 50),
        "flat_p95_s": percentile(flat_t, 95),
        "dense_p50_s": percentile(dense_t, 50),
        "dense_p95_s": percentile(dense_t, 95),
        "dense_recall": sum(overlap) / len(overlap) if overlap else 0.0,
        "lexical_p50_s": percentile(lexical, 50),
        "lexical_p95_s": percentile(lexical, 95),
        "lexical_engine": "postings" if reader.postings is not None else "FTS5",
        "fts_p50_s": percentile(fts, 50),
        "fts_p95_s": percentile(fts, 95),
        "lexical_same_top50": sum(same) / len(same) if same else 1.0,
        "hybrid_p50_s": percentile(hybrid, 50),
        "hybrid_p95_s": percentile(hybrid, 95),
    }


def _add_size(fig: Figures, res: dict[str, Any], settings: AnswerSettings, questions: int) -> None:
    n = res["size"]
    add = fig.add
    add(
        "retrieval",
        f"{n}.flat_p50_s",
        res["flat_p50_s"],
        "s",
        f"{n} chunks: exact FAISS search (a flat index of the same vectors), one query, "
        f"k=10, p50 of {res['queries']} queries x {res['passes']}",
    )
    add("retrieval", f"{n}.flat_p95_s", res["flat_p95_s"], "s", "same, p95")
    layout = res["vectors"]
    add("retrieval", f"{n}.vector_index", layout.get("kind", "flat"), "", f"manifest: {layout}")
    add(
        "retrieval",
        f"{n}.dense_p50_s",
        res["dense_p50_s"],
        "s",
        "the index's own search (IndexReader.dense_search, the kind above), same queries",
    )
    add("retrieval", f"{n}.dense_p95_s", res["dense_p95_s"], "s", "same, p95")
    add(
        "retrieval",
        f"{n}.dense_recall_at_10",
        res["dense_recall"],
        "",
        "share of the exact top 10 that the index's own search also returns",
    )
    add(
        "retrieval",
        f"{n}.write_s",
        res["synthetic_write_s"],
        "s",
        "Writer commit growing the index to this size (analysis, SQLite, vector index)",
    )
    add(
        "retrieval",
        f"{n}.lexical_p50_s",
        res["lexical_p50_s"],
        "s",
        f"BM25 top 50 (IndexReader.lexical_search: {res['lexical_engine']}), the sample "
        f"questions x {res['passes']}",
    )
    add("retrieval", f"{n}.lexical_p95_s", res["lexical_p95_s"], "s", "same, p95")
    add(
        "retrieval",
        f"{n}.fts5_p50_s",
        res["fts_p50_s"],
        "s",
        "the same BM25 top 50 from SQLite FTS5 (IndexReader.fts_search), same questions, in turn",
    )
    add("retrieval", f"{n}.fts5_p95_s", res["fts_p95_s"], "s", "same, p95")
    add(
        "retrieval",
        f"{n}.lexical_same_top50",
        res["lexical_same_top50"],
        "",
        "share of FTS5's top 50 that lexical_search also returns (chunks tied with the "
        "50th score count as returned)",
    )
    add(
        "retrieval",
        f"{n}.hybrid_p50_s",
        res["hybrid_p50_s"],
        "s",
        f"Retriever.search(question, top_k={settings.top_k}): query embedding + BM25 + "
        f"FAISS (the index's own kind) + fusion + learned rerank of the top "
        f"{POOL}; {questions} questions x {res['hybrid_passes']}",
    )
    add("retrieval", f"{n}.hybrid_p95_s", res["hybrid_p95_s"], "s", "same, p95")
    add("retrieval", f"{n}.load_s", res["load_s"], "s", "IndexReader open at this size")
    add(
        "retrieval",
        f"{n}.disk_kb_per_1000_chunks",
        res["disk_kb_per_1000"],
        "KiB",
        "index folder size / chunks x 1000 (one synthetic document per chunk)",
    )
