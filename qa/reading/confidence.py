"""How sure ancre is of a short answer: the estimated probability that it is right.

A logistic model (``qa/weights/confidence.json``, fitted by ``ancre eval --fit-confidence``
on an evaluation of the training articles) reads what the read path already knows of the
answer: the span model's score and its lead over the next answer, whether the span is of the
kind asked for, how it sits in its sentence, the evidence score, the reranker's margin, and
whether the generator's verified draft agrees with the span. The answer is stated in bold only
above ``AnswerSettings.state_above``; below, the passage is shown as evidence to read (see
docs/benchmarks.md, "Stated answers").
"""

from __future__ import annotations

import re

from ancre.index import analyze, fold

from ..learned import Model, load_model
from ..records import Passage
from . import nlp
from .evidence import Evidence
from .qtype import KINDS, AnswerType, fits_strictly
from .shortanswer import ShortAnswer

SPAN_ROW = (
    "words",
    "repeats_question",
    "all_in_question",
    "has_digit",
    "capitalised",
    "type_match",
    "q_near",
    "q_inside",
    "anaphoric",
    "starts_lower_prep",
)
"""The span model's features of the chosen span that the confidence model reads too."""
EVIDENCE = ("sentence_coverage", "passage_coverage", "unseen", "missing_rare", "names_found")
"""The evidence model's features that the confidence model reads too."""


def signals(
    question: str,
    evidence: Evidence,
    passages: list[Passage],
    stated: str,
    short: ShortAnswer | None,
    *,
    generated: bool,
    language: str,
    unknown: float = 0.0,
) -> dict[str, float]:
    """The confidence model's features for stating ``stated`` (the verified draft when
    ``generated``, else the best span ``short``) as the answer to ``question``; ``unknown``
    is the share of the question's content words the index does not know
    (``Query.unknown_share``)."""
    q_type = evidence.q_type
    f: dict[str, float] = {
        "evidence": evidence.score,
        "top_score": passages[0].score if passages else 0.0,
        "rerank_margin": passages[0].score - passages[1].score if len(passages) > 1 else 1.0,
        "generated": float(generated),
        "fits": float(plainly_fits(q_type, question, stated, short)),
        "log_words": len(stated.split()) / 10,
        "echoed": _echoed(stated, passages),
        "unknown": round(unknown, 4),
    }
    for name in EVIDENCE:
        f[name] = evidence.features.get(name, 0.0)
    if q_type.kind in ENTITY_KINDS and nlp.available(language):
        f["entity_kind"] = _entity_kind(stated, ENTITY_KINDS[q_type.kind])
    f[f"q_{q_type.kind if q_type.kind in KINDS else 'other'}"] = 1.0
    if short is not None:
        f["span_score"] = short.score
        f["span_margin"] = max(-1.0, min(1.0, short.margin))
        f["span_first_sentence"] = float(
            bool(evidence.candidates) and short.sentence is evidence.candidates[0]
        )
        f["span_sentence_coverage"] = short.sentence.coverage
        for name in SPAN_ROW:
            f[f"span_{name}"] = (short.row or {}).get(name, 0.0)
        if generated:
            f["agrees"] = _overlap(stated, short.text, language)
    return f


def plainly_fits(q_type: AnswerType, question: str, text: str, short: ShortAnswer | None) -> bool:
    """``fits_strictly`` for ``text``, read in the best span's sentence and passage (its
    title included: the thing priced may be named there only)."""
    if short is None:
        return fits_strictly(q_type, question, text, "", "")
    at = short.sentence
    passage = f"{at.passage.title}\n{at.passage.text}"
    return fits_strictly(q_type, question, text, at.sentence.text, passage)


ENTITY_KINDS = {"person": {"PER", "ORG"}, "place": {"LOC"}}
"""The parser's entity labels that name what 'qui' and 'où' ask for."""


def _entity_kind(text: str, wanted: set[str]) -> float:
    """1 when the parser finds an entity of a wanted label in ``text``, 0 when it finds
    entities of other labels only ('Vernay-sur-Sarthe' for 'qui'), 0.5 when it finds none."""
    ents = nlp.parse([text])[0].ents
    if not ents:
        return 0.5
    return float(any(e.label_ in wanted for e in ents))


def _echoed(stated: str, passages: list[Passage]) -> float:
    """Share of the passages found that write the likely answer, folded (a fact that several
    articles or paragraphs give is more often the answer)."""
    needle = fold(" ".join(stated.split()))
    if not needle or not passages:
        return 0.0
    return sum(needle in fold(" ".join(p.text.split())) for p in passages) / len(passages)


def _overlap(a: str, b: str, language: str) -> float:
    """Share of the shorter text's content words found in the other one."""
    x, y = set(analyze(a, language)), set(analyze(b, language))
    if not x or not y:
        return float(bool(re.sub(r"\W", "", a)) and a.strip() == b.strip())
    return len(x & y) / min(len(x), len(y))


def confidence(features: dict[str, float], model: Model | None = None) -> float:
    """The probability that the answer these ``signals`` describe is right (0..1)."""
    if not features:
        return 0.0
    return round(float((model or load_model("confidence")).score([features])[0]), 4)


DRAFT_RANGES = {
    "generated": (0.0, 1.0),
    "fits": (0.0, 1.0),
    "log_words": (0.1, 10.0),
    "echoed": (0.0, 1.0),
    "entity_kind": (0.0, 1.0),
    "agrees": (0.0, 1.0),
}
"""The signals that depend on the stated text (``signals``), and the values they can take:
what a draft could change in the confidence before it is written."""


def highest_confidence(
    features: dict[str, float],
    ranges: dict[str, tuple[float, float]] = DRAFT_RANGES,
    model: Model | None = None,
) -> float:
    """The highest ``confidence`` of ``features`` over the values ``ranges`` allows for some
    of them (the others as given): each at the end its weight favours. 1.0 for a model that
    is not logistic (its maximum is not read off its weights)."""
    m = model or load_model("confidence")
    if m.kind != "logistic":
        return 1.0
    best = dict(features)
    for name, (low, high) in ranges.items():
        if name in m.features:
            i = m.features.index(name)
            best[name] = high if m.weights[i] / m.scale[i] > 0 else low
    return confidence(best, m)
