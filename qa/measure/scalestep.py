"""One step of the scale bench in a fresh process, so that its peak memory is its own:
``python -m ancre.qa.measure.scalestep build SPEC.json`` (or ``serve``) prints one JSON line.

- ``build``: grow the store to ``size`` chunks. An empty store first gets the real corpus,
  embedded by the real model (``index.build``); the rest are filler documents of
  ``synthetic.SyntheticCorpus`` (chunks of the other articles with words swapped, vectors
  near theirs), written by the store's own writer with a ``SyntheticEmbedder`` that reports
  the real model, so that queries are embedded by it.
- ``serve``: open the store as a server would (``Retriever.open``), then time searches and
  extractive answers and score recall@5 of the questions whose articles are hidden in it.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .coldstart import peak_rss_kb
from .report import percentile

Command = Literal["build", "serve"]
COMMIT_EVERY = 50_000
"""Filler documents per commit of a growing store."""
LEXICAL_K = DENSE_K = 50
"""Candidates of the lexical-only and dense-only searches (what fusion takes from each)."""


@dataclass(frozen=True)
class FillerSource:
    """The chunks that filler documents are made from, with their real vectors."""

    texts: list[str]
    titles: list[str]
    vectors: np.ndarray
    model_id: str
    encoder: str
    max_tokens: int

    def save(self, path: Path) -> Path:
        meta = {
            "texts": self.texts,
            "titles": self.titles,
            "model_id": self.model_id,
            "encoder": self.encoder,
            "max_tokens": self.max_tokens,
        }
        np.save(path.with_suffix(".npy"), self.vectors)
        path.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False))
        return path

    @classmethod
    def load(cls, path: Path) -> FillerSource:
        meta = json.loads(path.with_suffix(".json").read_text())
        return cls(vectors=np.load(path.with_suffix(".npy")), **meta)


def _settings(spec: dict[str, Any]):
    from ancre.index import IndexSettings

    return IndexSettings(**spec["index_settings"])


def build_step(spec: dict[str, Any]) -> dict[str, Any]:
    """Grow the store of ``spec`` to ``spec['size']`` chunks (see the module's docstring)."""
    from ancre.index import build, open_writer

    from .synthetic import SyntheticCorpus, SyntheticEmbedder

    xs = _settings(spec)
    out: dict[str, Any] = {"real_chunks": 0, "real_s": 0.0}
    with open_writer(xs) as writer:
        docs, chunks = writer.counts()
    if not docs:
        t0 = time.perf_counter()
        report = build([spec["corpus"]], settings=xs)
        out.update(real_s=time.perf_counter() - t0, real_chunks=report.chunks_total)
        docs, chunks = report.documents_total, report.chunks_total
    source = FillerSource.load(Path(spec["filler"]))
    corpus = SyntheticCorpus(source.texts, source.titles, source.vectors, seed=docs)
    embedder = SyntheticEmbedder(corpus, source.model_id, source.max_tokens, source.encoder)
    target, start = int(spec["size"]), chunks
    t0 = time.perf_counter()
    i = docs
    with open_writer(xs, embedder=embedder) as writer:
        while chunks < target:
            batch = min(COMMIT_EVERY, target - chunks)
            for _ in range(batch):
                writer.put(corpus.document(i))
                i += 1
            writer.commit()
            chunks = writer.counts()[1]
    out.update(
        filler_s=time.perf_counter() - t0,
        filler_chunks=chunks - start,
        chunks=chunks,
        documents=i,
        peak_rss_kb=peak_rss_kb(),
    )
    return out


def serve_step(spec: dict[str, Any]) -> dict[str, Any]:
    """Open the store as ``ancre chat`` would and time what a server does with it."""
    from ancre.index import open_reader
    from ancre.qa.answer import Answerer
    from ancre.qa.generation.llm import load_generator
    from ancre.qa.retrieval.search import Retriever
    from ancre.qa.settings import AnswerSettings

    from .metrics import hit_rank, recall_at
    from .questions import load_questions

    xs = _settings(spec)
    s = replace(AnswerSettings(), llm="none")
    questions = [q for q in load_questions([spec["questions"]])[0] if q.answerable]
    questions = [q for q in questions if q.doc_id in set(spec["hidden"])]
    texts = [" ".join(q.question.split()) for q in questions]

    t0 = time.perf_counter()
    reader = open_reader(xs)
    index_open_s = time.perf_counter() - t0
    reader.close()
    del reader
    t0 = time.perf_counter()
    retriever = Retriever.open(settings=xs)
    ready_s = time.perf_counter() - t0
    reader = retriever.reader
    t0 = time.perf_counter()
    retriever.search(texts[0], 10, lexical_weight=s.lexical_weight, dense_weight=s.dense_weight)
    first_s = time.perf_counter() - t0

    def hybrid(text: str) -> list:
        return retriever.search(
            text, 10, lexical_weight=s.lexical_weight, dense_weight=s.dense_weight, rerank=s.rerank
        )

    times, ranks = [], []
    for q, text in zip(questions, texts, strict=True):
        t0 = time.perf_counter()
        passages = hybrid(text)
        times.append(time.perf_counter() - t0)
        ranks.append(hit_rank(passages, q.doc_id, q.answers))
    lexical = []
    for text in texts:
        t0 = time.perf_counter()
        reader.lexical_search(text, LEXICAL_K)
        lexical.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    qvecs = retriever.embedder.embed(texts)
    embed_s = (time.perf_counter() - t0) / max(len(texts), 1)
    dense, dense_top = [], []
    for v in qvecs:
        t0 = time.perf_counter()
        found = reader.dense_search(v[None, :], DENSE_K)[0]
        dense.append(time.perf_counter() - t0)
        dense_top.append([i for i, _ in found[:10]])
    answerer = Answerer(retriever, load_generator("none", s, xs.cache_dir), s)
    asked = texts[: int(spec.get("ask", 40))]
    answerer.ask(asked[0])  # warm-up: the reading models load
    ask_t = []
    for text in asked:
        t0 = time.perf_counter()
        answerer.ask(text)
        ask_t.append(time.perf_counter() - t0)
    out: dict[str, Any] = {
        "questions": len(texts),
        "size": int(reader.size),
        "vectors": reader.manifest.get("vectors") or {"kind": reader.manifest.get("vector_index")},
        "index_open_s": index_open_s,
        "ready_s": ready_s,
        "first_search_s": first_s,
        "hybrid_p50_s": percentile(times, 50),
        "hybrid_p95_s": percentile(times, 95),
        "lexical_p50_s": percentile(lexical, 50),
        "dense_p50_s": percentile(dense, 50),
        "query_embed_s": embed_s,
        "ask_p50_s": percentile(ask_t, 50),
        "ask_questions": len(asked),
        "recall_at_5": recall_at(ranks, 5) or 0.0,
        "peak_rss_kb": peak_rss_kb(),
    }
    if spec.get("compare_flat") and out["vectors"].get("kind", "flat") != "flat":
        out.update(_against_flat(reader, questions, texts, qvecs, dense_top, hybrid))
    return out


def _against_flat(reader, questions, texts, qvecs, dense_top, hybrid) -> dict[str, Any]:
    """recall@5 and the dense top 10 again with an exact (flat) index of the same vectors,
    swapped into the reader (after the serving figures: its memory is not theirs)."""
    from ancre.index.stores.directory import vectors as vector_kinds

    from .metrics import hit_rank, recall_at

    exact = vector_kinds.build(reader.vectors.d, "flat", *vector_kinds.contents(reader.vectors))
    reader.vectors = exact
    ranks = [
        hit_rank(hybrid(t), q.doc_id, q.answers) for q, t in zip(questions, texts, strict=True)
    ]
    overlap = []
    for v, got in zip(qvecs, dense_top, strict=True):
        truth = [i for i, _ in reader.dense_search(v[None, :], 10)[0]]
        if truth:
            overlap.append(len(set(truth) & set(got)) / len(truth))
    return {
        "flat_recall_at_5": recall_at(ranks, 5) or 0.0,
        "dense_recall_at_10_vs_flat": sum(overlap) / max(len(overlap), 1),
    }


def run(command: Command, spec: dict[str, Any]) -> dict[str, Any]:
    if command == "build":
        return build_step(spec)
    if command == "serve":
        return serve_step(spec)
    raise ValueError(f"unknown scale step {command!r}: build or serve")


if __name__ == "__main__":
    step, spec_path = sys.argv[1:3]
    print(json.dumps(run(step, json.loads(Path(spec_path).read_text()))), flush=True)
