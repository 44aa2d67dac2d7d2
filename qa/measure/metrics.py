"""Answer and retrieval metrics, the per-question ``Row`` of an evaluation, and the summary
over rows.

Every text comparison folds case and accents, normalises apostrophes and whitespace, and
matches gold answers on word boundaries ("18" is not found in "1824"):

- retrieval: a *hit* is a retrieved passage of the question's document that contains a gold
  answer; recall@1/5/10 and MRR@10 over answerable questions;
- short answers: how many answers state one (``Answer.short_answer``), how often it contains
  a gold answer, its length in words;
- answers: how often the answer text contains a gold answer, token recall of the gold answer,
  citation precision (cited passages that contain a gold answer), share of answers with a
  citation, abstention on unanswerable and false abstention on answerable questions,
  latency, and how each answer was made (``Answer.mode``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ancre.index import fold, legacy_id, straighten
from ancre.qa.records import Answer, Citation, Passage

from .report import percentile

RECALL_AT = (1, 5, 10)


def normalize(text: str) -> str:
    """Casefold, accents and apostrophe variants folded, whitespace collapsed."""
    return " ".join(fold(straighten(text)).split())


def _pattern(answer: str) -> re.Pattern[str] | None:
    gold = normalize(answer)
    return re.compile(rf"(?<!\w){re.escape(gold)}(?!\w)") if gold else None


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """Does ``text`` contain one of ``answers`` (normalised, on word boundaries)?"""
    norm = normalize(text)
    for answer in answers:
        pattern = _pattern(answer)
        if pattern is not None and pattern.search(norm):
            return True
    return False


def same_document(indexed_id: str, wanted: str) -> bool:
    """A question names its article by the record's id or by its file's path in the folder
    (``tramway.md``); a file's indexed id also names the folder
    (``articles@1a2b3c4d/tramway.md``, see ``ancre.index.legacy_id``)."""
    return indexed_id == wanted or legacy_id(indexed_id) == wanted


def holds_answer(passage: Passage, doc_id: str, answers: Sequence[str]) -> bool:
    """Is ``passage`` of the question's article ``doc_id``, and does it contain a gold
    answer? (What a retrieval hit is, and what the learned rankers are taught.)"""
    return same_document(passage.doc_id, doc_id) and contains_answer(passage.text, answers)


def hit_rank(passages: Sequence[Passage], doc_id: str, answers: Sequence[str]) -> int | None:
    """1-based rank of the first passage of ``doc_id`` that contains a gold answer."""
    if not answers:
        return None
    for n, p in enumerate(passages, 1):
        if holds_answer(p, doc_id, answers):
            return n
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float | None:
    if not ranks:
        return None
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr(ranks: Sequence[int | None]) -> float | None:
    if not ranks:
        return None
    return sum(1.0 / r for r in ranks if r) / len(ranks)


def tokens(text: str) -> list[str]:
    return re.findall(r"\w+", normalize(text))


def token_recall(text: str, answers: Sequence[str]) -> float:
    """Share of a gold answer's tokens present in ``text`` (best gold answer)."""
    present = set(tokens(text))
    best = 0.0
    for answer in answers:
        gold = tokens(answer)
        if gold:
            best = max(best, sum(1 for t in gold if t in present) / len(gold))
    return best


def citation_hits(citations: Sequence[Citation], answers: Sequence[str]) -> tuple[int, int]:
    """(citations whose passage contains a gold answer, citations)."""
    good = sum(1 for c in citations if contains_answer(c.text, answers))
    return good, len(citations)


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


@dataclass
class Row:
    """One question of an evaluation: its retrieval, and its answer in full runs."""

    id: str
    file: str
    question: str
    doc_id: str
    answerable: bool
    answers: list[str]
    hit_rank: int | None = None
    retrieved: list[str] = field(default_factory=list)
    """doc_id of the retrieved passages, best first."""
    search_s: float = 0.0
    evidence: float | None = None
    error: str = ""
    """Why the answerer refused the question (the row then counts as an error)."""
    # full runs only
    answer: str | None = None
    mode: str | None = None
    abstained: bool | None = None
    contains_answer: bool | None = None
    short_answer: str | None = None
    short_contains: bool | None = None
    likely_answer: str | None = None
    likely_contains: bool | None = None
    """Does the likely answer (stated or not) contain a gold answer: what ``confidence``
    estimates (False for an unanswerable question)."""
    confidence: float | None = None
    signals: dict[str, float] = field(default_factory=dict)
    token_recall: float | None = None
    citations: int | None = None
    good_citations: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    answer_hit_rank: int | None = None
    """Rank of the first hit among the passages the answer was made from (the answerer may
    reorder them: ``rerank.rerank_by_likelihood``)."""

    def score_answer(self, answer: Answer) -> None:
        """Record ``answer`` and how it compares with the gold answers (an abstention
        contains no answer and cites nothing)."""
        self.answer, self.mode, self.abstained = answer.text, answer.mode, answer.abstained
        self.evidence = answer.evidence
        self.timings = dict(answer.timings)
        golds = self.answers
        self.short_answer = answer.short_answer
        self.likely_answer, self.confidence = answer.likely_answer, answer.confidence
        self.signals = dict(answer.signals)
        if self.answerable and golds:
            self.answer_hit_rank = hit_rank(answer.passages, self.doc_id, golds)
        if answer.abstained:
            self.contains_answer, self.token_recall = False, 0.0
            self.short_contains = self.likely_contains = False
            self.citations, self.good_citations = 0, 0
            return
        self.likely_contains = (
            self.answerable
            and bool(golds)
            and bool(answer.likely_answer)
            and contains_answer(answer.likely_answer, golds)
        )
        self.contains_answer = contains_answer(answer.text, golds) if golds else None
        self.short_contains = (
            bool(answer.short_answer) and contains_answer(answer.short_answer, golds)
            if golds
            else None
        )
        self.token_recall = token_recall(answer.text, golds) if golds else None
        good, total = (
            citation_hits(answer.citations, golds) if golds else (0, len(answer.citations))
        )
        self.citations, self.good_citations = total, good


def summarize(rows: Sequence[Row], threshold: float | None = None) -> dict[str, Any]:
    """The summary of an evaluation, keyed as in ``report.METRICS``. Retrieval-only rows
    (no answer) give the abstention that ``threshold`` would predict from their evidence."""
    ok = [r for r in rows if not r.error]
    answerable = [r for r in ok if r.answerable]
    unanswerable = [r for r in ok if not r.answerable]
    ranks = [r.hit_rank for r in answerable if r.answers]
    summary: dict[str, Any] = {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "errors": len(rows) - len(ok),
    }
    for k in RECALL_AT:
        summary[f"recall@{k}"] = recall_at(ranks, k)
    summary["mrr"] = mrr(ranks)
    summary["search_p50_s"] = percentile([r.search_s for r in ok], 50)
    full = [r for r in ok if r.mode is not None]
    if not full:
        if threshold is not None and any(r.evidence is not None for r in ok):
            summary["evidence_abstention"] = _predicted(unanswerable, threshold)
            summary["evidence_false_abstention"] = _predicted(answerable, threshold)
        return summary
    summary.update(_answer_metrics(full))
    return summary


CALIBRATION_BINS = 10


def confidence_pairs(rows: Sequence[Row]) -> list[tuple[float, bool]]:
    """(confidence, likely answer right) of each answer that has a likely answer: an
    unanswerable question's is never right."""
    return [
        (r.confidence, bool(r.likely_contains))
        for r in rows
        if r.likely_answer and r.confidence is not None and not r.abstained
    ]


def reliability(pairs: Sequence[tuple[float, bool]], bins: int = CALIBRATION_BINS) -> list[dict]:
    """Per confidence bin of equal width: answers, mean confidence, share right."""
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(c, y) for c, y in pairs if lo <= c < hi or (b == bins - 1 and c == 1.0)]
        if inside:
            out.append(
                {
                    "from": lo,
                    "to": hi,
                    "answers": len(inside),
                    "confidence": sum(c for c, _ in inside) / len(inside),
                    "right": sum(y for _, y in inside) / len(inside),
                }
            )
    return out


def calibration_metrics(rows: Sequence[Row]) -> dict[str, Any]:
    """Expected calibration error (bins of ``reliability``, weighted by answers) and Brier
    score of ``Answer.confidence`` against the likely answer being right."""
    pairs = confidence_pairs(rows)
    if not pairs:
        return {"confidence_ece": None, "confidence_brier": None, "reliability": []}
    table = reliability(pairs)
    ece = sum(b["answers"] * abs(b["confidence"] - b["right"]) for b in table) / len(pairs)
    brier = sum((c - y) ** 2 for c, y in pairs) / len(pairs)
    return {"confidence_ece": ece, "confidence_brier": brier, "reliability": table}


def statable(row: Row) -> bool:
    """Whether the answer has a likely answer plainly of the kind asked: what is stated
    when its confidence is high enough."""
    return bool(row.likely_answer) and not row.abstained and row.signals.get("fits", 0.0) > 0


def precision_coverage(rows: Sequence[Row]) -> list[dict[str, float]]:
    """Stated answers' precision and coverage (of answerable questions) if the answer were
    stated from each confidence up: the curve the ``state_above`` threshold is chosen on."""
    answerable = [r for r in rows if r.answerable and r.answers]
    pairs = sorted(
        ((r.confidence or 0.0, bool(r.likely_contains), r.answerable) for r in rows if statable(r)),
        reverse=True,
    )
    out, right, stated = [], 0, 0
    for conf, ok, is_answerable in pairs:
        stated += is_answerable
        right += ok
        if is_answerable:
            out.append(
                {
                    "threshold": conf,
                    "precision": right / stated,
                    "coverage": stated / len(answerable) if answerable else 0.0,
                }
            )
    return out


def _predicted(rows: list[Row], threshold: float) -> float | None:
    return _share([r.evidence < threshold for r in rows if r.evidence is not None])


def _answer_metrics(full: list[Row]) -> dict[str, Any]:
    with_gold = [r for r in full if r.answerable and r.answers]
    unanswerable = [r for r in full if not r.answerable]
    answered = [r for r in full if not r.abstained]
    cited = [r for r in with_gold if not r.abstained]
    good = sum(r.good_citations or 0 for r in cited)
    total = sum(r.citations or 0 for r in cited)
    totals = [r.timings.get("total", 0.0) for r in full]
    stated = [r.short_answer for r in answered if r.short_answer]
    stated_gold = [r for r in with_gold if r.short_answer and not r.abstained]
    return {
        "stated_share": _share([bool(r.short_answer) for r in answered]),
        "stated_precision": _share([bool(r.short_contains) for r in stated_gold]),
        "stated_coverage": _share([bool(r.short_answer) for r in with_gold]),
        "stated_unanswerable": _share([bool(r.short_answer) for r in unanswerable]),
        "short_contains": _share([bool(r.short_contains) for r in with_gold]),
        **calibration_metrics(full),
        "short_words": sum(len(t.split()) for t in stated) / len(stated) if stated else None,
        "answer_recall@1": recall_at([r.answer_hit_rank for r in with_gold], 1),
        "answer_contains": _share([bool(r.contains_answer) for r in with_gold]),
        "token_recall": (
            sum(r.token_recall or 0.0 for r in with_gold) / len(with_gold) if with_gold else None
        ),
        "citation_precision": good / total if total else None,
        "cited_share": _share([(r.citations or 0) > 0 for r in answered]),
        "abstention": _share([bool(r.abstained) for r in unanswerable]),
        "false_abstention": _share([bool(r.abstained) for r in full if r.answerable]),
        "latency_p50_s": percentile(totals, 50),
        "latency_p95_s": percentile(totals, 95),
        "first_token_p50_s": percentile([r.timings.get("first_token", 0.0) for r in full], 50),
        "modes": dict(Counter(r.mode for r in full).most_common()),
    }
