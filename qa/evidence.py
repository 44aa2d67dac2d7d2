"""Does any retrieved passage bear on the question? A logistic model over evidence features
decides, before any generation, whether ancre answers or abstains.

The weights were fitted on PIAF dev (answerable questions against unanswerable.jsonl) with
`ancre eval --calibrate`; see docs/benchmarks.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ancre.index import analyze

from .extract import NAME, Candidate, rank_sentences
from .records import Passage
from .retrieve import Retriever

EVIDENCE_WEIGHTS = {
    "sentence_coverage": 1.377,
    "passage_coverage": 4.263,
    "top3_coverage": 0.546,
    "dense": 2.991,
    "unseen": -0.87,
    "missing_rare": 0.018,
    "names_found": 0.992,
    "n_terms": 1.737,
}
EVIDENCE_BIAS = -6.586


@dataclass
class Evidence:
    features: dict[str, float]
    score: float
    """Probability that the passages answer the question (0..1)."""
    candidates: list[Candidate] = field(default_factory=list)
    """The passages' sentences, best answer first."""


def weigh_evidence(
    question: str,
    passages: list[Passage],
    retriever: Retriever,
    weights: dict[str, float] | None = None,
    bias: float | None = None,
) -> Evidence:
    language = retriever.language
    terms = list(dict.fromkeys(analyze(question, language)))
    if not passages or not terms:
        return Evidence({}, 0.0)
    idf, df = retriever.term_stats(terms)
    total = sum(idf.values()) or 1.0
    max_idf = max(idf.values()) or 1.0
    candidates = rank_sentences(question, passages, idf, language)
    top_terms = set(analyze(passages[0].text + " " + passages[0].title, language))
    top3_terms = set(analyze(" ".join(p.text + " " + p.title for p in passages[:3]), language))
    names = [analyze(w, language) for w in NAME.findall(question)]
    name_terms = [t[0] for t in names if t]
    missing = [idf[t] for t in terms if t not in top3_terms]
    features = {
        "sentence_coverage": candidates[0].coverage if candidates else 0.0,
        "passage_coverage": sum(idf[t] for t in terms if t in top_terms) / total,
        "top3_coverage": sum(idf[t] for t in terms if t in top3_terms) / total,
        "dense": max(p.dense_score for p in passages[:3]),
        "unseen": sum(idf[t] for t in terms if df.get(t, 0) == 0) / total,
        "missing_rare": max(missing, default=0.0) / max_idf,
        "names_found": (sum(t in top_terms for t in name_terms) / len(name_terms))
        if name_terms
        else 1.0,
        "n_terms": min(len(terms), 10) / 10,
    }
    w = EVIDENCE_WEIGHTS if weights is None else weights
    b = EVIDENCE_BIAS if bias is None else bias
    z = b + sum(w.get(k, 0.0) * v for k, v in features.items())
    return Evidence(features, 1.0 / (1.0 + math.exp(-z)), candidates)
