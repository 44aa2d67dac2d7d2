"""Learned reranking of the retrieved chunks.

The hybrid search (``retrieve``) scores a chunk as a whole; a PIAF question is usually
written from one sentence of its paragraph, so the features here look inside the chunk:
how much of the question (idf-weighted) one sentence covers, whether the question's word
pairs appear as pairs, whether the title names what the question names, whether the chunk
holds the kind of answer asked for (a date for 'quand'...), and how strongly its whole
article matches. A small model fitted on the dev set's training articles (``learned``)
combines them with the BM25 and cosine scores.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache
from itertools import pairwise

from ancre.index import analyze

from .extract import answer_type_bonus, sentences
from .learned import Model, load_model
from .qtype import KINDS, answer_type
from .records import Passage

POOL = 30
"""Chunks of the hybrid search that the reranker sees."""


def passage_features(
    question: str, passages: list[Passage], idf: dict[str, float], language: str
) -> list[dict[str, float]]:
    """One feature row per passage (in the order given)."""
    q_terms = list(dict.fromkeys(analyze(question, language)))
    total = sum(idf.get(t, 0.0) for t in q_terms) or 1.0
    max_idf = max((idf.get(t, 0.0) for t in q_terms), default=0.0) or 1.0
    q_pairs = set(pairwise(analyze(question, language)))
    kind = answer_type(question).kind
    doc_best: dict[str, float] = {}
    doc_count: dict[str, int] = {}
    for p in passages:
        doc_best[p.doc_id] = max(doc_best.get(p.doc_id, 0.0), p.lexical_score)
        doc_count[p.doc_id] = doc_count.get(p.doc_id, 0) + 1
    rows = []
    for i, p in enumerate(passages):
        body, by_sentence = _analysed(p.text, language)
        body_set = set(body)
        title = set(analyze(p.title, language))
        best_sentence, best_pair, typed = 0.0, 0.0, 0.0
        previous: frozenset[str] = frozenset()
        for s, terms in by_sentence:
            cov = sum(idf.get(t, 0.0) for t in q_terms if t in terms) / total
            pair = sum(idf.get(t, 0.0) for t in q_terms if t in terms | previous) / total
            if cov > best_sentence:
                best_sentence = cov
                typed = answer_type_bonus(question, s)
            best_pair = max(best_pair, pair)
            previous = terms
        missing = [idf.get(t, 0.0) for t in q_terms if t not in body_set and t not in title]
        row = {
            "lexical": p.lexical_score,
            "dense": p.dense_score,
            "fused_rank": math.log1p(i),
            "body_coverage": sum(idf.get(t, 0.0) for t in q_terms if t in body_set) / total,
            "title_coverage": sum(idf.get(t, 0.0) for t in q_terms if t in title) / total,
            "sentence_coverage": best_sentence,
            "two_sentence_coverage": best_pair,
            "pairs": (len(q_pairs & set(pairwise(body))) / len(q_pairs)) if q_pairs else 0.0,
            "missing_rare": max(missing, default=0.0) / max_idf,
            "typed": typed,
            "doc_lexical": doc_best[p.doc_id],
            "doc_chunks": min(doc_count[p.doc_id], 5) / 5,
            "n_terms": min(len(q_terms), 10) / 10,
        }
        row[f"kind_{kind}"] = 1.0
        rows.append(row)
    return rows


@lru_cache(maxsize=4096)
def _analysed(text: str, language: str) -> tuple[tuple[str, ...], tuple]:
    """A chunk's terms and its sentences' term sets (chunks come back for related questions)."""
    by_sentence = tuple((s.text, frozenset(analyze(s.text, language))) for s in sentences(text))
    return tuple(analyze(text, language)), by_sentence


FEATURES = [
    "lexical",
    "dense",
    "fused_rank",
    "body_coverage",
    "title_coverage",
    "sentence_coverage",
    "two_sentence_coverage",
    "pairs",
    "missing_rare",
    "typed",
    "doc_lexical",
    "doc_chunks",
    "n_terms",
    *(f"kind_{k}" for k in KINDS),
]


def rerank(
    question: str,
    passages: list[Passage],
    idf: dict[str, float],
    language: str,
    model: Model | None = None,
) -> list[Passage]:
    """``passages`` best first by the reranker, renumbered from 1, with ``score`` the model's
    probability that the passage answers."""
    if len(passages) < 2:
        return passages
    m = model or load_model("rerank")
    scores = m.score(passage_features(question, passages, idf, language))
    order = sorted(range(len(passages)), key=lambda i: -scores[i])
    return [replace(passages[i], rank=r + 1, score=float(scores[i])) for r, i in enumerate(order)]
