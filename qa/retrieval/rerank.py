"""Learned reranking of the retrieved chunks.

The hybrid search (``retrieve``) scores a chunk as a whole; a PIAF question is usually
written from one sentence of its paragraph, so the features here look inside the chunk:
how much of the question (idf-weighted) one sentence covers, whether the question's word
pairs appear as pairs, whether the title names what the question names, whether the chunk
holds the kind of answer asked for (a date for 'quand'...), and how strongly its whole
article matches. A small model fitted on the dev set's training articles (``learned``)
combines them with the BM25 and cosine scores.

With a generator that scores tokens (llama.cpp), where the reranker is unsure between its
first passages, the language model is asked too (``rerank_by_likelihood``): how much
likelier the question is after each of the best three passages than alone (query
likelihood, a zero-shot relevance signal); a second small model (``rerank-llm``) weighs
that against the reranker's probability. The answer, its short answer and its citation all
come from the first passage, so this order is what they can get right.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from itertools import pairwise

from ancre.index import analyze

from ..learned import Model, load_model
from ..reading.evidence import (
    UNSURE,
    Evidence,
    TermStats,
    weigh_evidence,
    with_likelihood,
)
from ..reading.likelihood import Gains, TokenScorer, question_logprobs
from ..reading.qtype import KINDS, answer_type, answer_type_bonus
from ..reading.sentences import sentences
from ..records import Passage

POOL = 30
"""Chunks of the hybrid search that the reranker sees."""
LLM_DEPTH = 3
"""Passages, best first, that the language model rescores (``rerank_by_likelihood``)."""
LLM_MARGIN = 0.3
"""The language model rescores only when the reranker's probability for its first passage
exceeds the second's by less than this: where the reranker is sure it was rarely wrong."""


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
    """A chunk's terms and its sentences' term sets (chunks come back for related questions).
    The chunk's terms are its sentences' in order: sentences split between words, so the
    text is analysed once."""
    terms = [(s.text, analyze(s.text, language)) for s in sentences(text)]
    body = tuple(t for _, ts in terms for t in ts)
    return body, tuple((s, frozenset(ts)) for s, ts in terms)


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


LLM_FEATURES = ("rerank_logit", "gain_gap")


def likelihood_rows(passages: list[Passage], gains: list[float]) -> list[dict[str, float]]:
    """The rows of ``rerank-llm`` for passages already ranked by the reranker: its log-odds,
    and the question's likelihood gain given the passage minus the best gain among them
    (the gap, not the gain itself: the gain grows with the passage's length and how
    predictable the question is, the gap compares the passages of one question)."""
    best = max(gains, default=0.0)
    return [
        {"rerank_logit": _logit(p.score), "gain_gap": g - best}
        for p, g in zip(passages, gains, strict=True)
    ]


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1.0 - 1e-6)
    return math.log(p / (1.0 - p))


def reranker_unsure(passages: list[Passage], margin: float = LLM_MARGIN) -> bool:
    """Is the reranker's first passage less than ``margin`` of probability ahead?"""
    return len(passages) >= 2 and passages[0].score - passages[1].score < margin


def rerank_by_likelihood(
    question: str,
    passages: list[Passage],
    scorer: TokenScorer,
    *,
    depth: int = LLM_DEPTH,
    margin: float = LLM_MARGIN,
    model: Model | None = None,
) -> tuple[list[Passage], Mapping[int, float]]:
    """Zero-shot reranking by query likelihood (how much likelier the question is after the
    passage, ``likelihood.question_gains``), combined with the reranker's probability by
    ``model`` (else the shipped ``rerank-llm``): the best ``depth`` passages reordered when
    the reranker is unsure (``reranker_unsure``), the others kept. Returns the passages,
    renumbered from 1, and the gain of each passage scored, by chunk_id (empty when the
    reranker was sure; ``likelihood.Gains``: the question alone is scored only if a gain is
    read, since the gaps that order the passages do not need it). A rescored passage's
    ``score`` becomes the combined probability: the sentence ranker and the span model weigh
    a sentence by its passage's score, and with the reranker's they kept quoting the passage
    it had put first (docs/benchmarks.md, "Evidence and abstention")."""
    if not reranker_unsure(passages, margin):
        return passages, {}
    head = passages[:depth]
    given = [question_logprobs(scorer, question, p) for p in head]
    # the gap between two gains is the gap between their log-probabilities
    rows = likelihood_rows(head, [sum(g) for g in given])
    scores = (model or load_model("rerank-llm")).score(rows)
    order = sorted(range(len(head)), key=lambda i: -scores[i])
    ranked = [replace(head[i], score=float(scores[i])) for i in order] + passages[depth:]
    by_chunk = Gains(scorer, question, {p.chunk_id: g for p, g in zip(head, given, strict=True)})
    return [replace(p, rank=r + 1) for r, p in enumerate(ranked)], by_chunk


def reread(
    question: str,
    passages: list[Passage],
    index: TermStats,
    scorer: TokenScorer | None,
    rerank: bool = True,
    *,
    asked: str = "",
) -> tuple[list[Passage], Mapping[int, float], Evidence]:
    """The passages as the answer reads them (reordered by ``rerank_by_likelihood`` where the
    reranker is unsure, unless ``rerank`` is off), the gains computed, and their evidence
    (``weigh_evidence``). The plain evidence is weighed first, on the reranker's
    order: below ``UNSURE`` the evidence model would not ask for the language model's word,
    and the passages are not reread either (docs/benchmarks.md, "The warm answer path")."""
    evidence = weigh_evidence(question, passages, index, asked=asked)
    if scorer is None or evidence.score < UNSURE[0]:
        return passages, {}, evidence
    passages, gains = rerank_by_likelihood(question, passages, scorer) if rerank else (passages, {})
    if gains:  # reordered: the sentences and the span are read again
        evidence = weigh_evidence(
            question, passages, index, asked=asked, scorer=scorer, gains=gains
        )
    elif evidence.score < UNSURE[1]:  # same passages: only the score takes the likelihood
        evidence = with_likelihood(evidence, question, passages, scorer)
    return passages, gains, evidence
