"""The generator's draft as a reader's vote among the candidate spans.

Why: when the generator runs, its draft is read from the same sentences as the spans; even
when verification rejects it, its words often point at the span that answers (PIAF dev,
train: "Quand a eu lieu la première saison de la NBDL ?" drafted "En 2001-2002.", rejected,
while the span model preferred "la NBA Development League est renommée durant l'été 2005";
the span "en 2001-2002" was its second; "Combien de livres contient l'oeuvre de Polybe ?"
drafted a wrong "10 livres", which still pointed at its fourth span, "quarante livres").
The short answer is then the span, among the span model's best ``CANDIDATES``, that scores
best on the span model's margin plus its word overlap with the draft (token F1): a weighing
fitted on PIAF dev's training articles (``qa/weights/spans-reader.json``, refitted by
``ancre.qa.measure.train.fit_reader``). It costs no pass of the model: the draft is already
there.

Tried and left out (docs/benchmarks.md): the generator's log-probabilities of each span as
the continuation of the answer prompt, its KV cache kept (a ``LlamaCpp`` method in this
branch's history): on 200 validation questions the draft's overlap with them picked a span
holding the gold for 0.284 of questions against 0.274 with the overlap alone, but 8 spans
cost 80 or so output rows of Gemma's 262k-word vocabulary, 3.4 s a question on one loaded
core.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from ancre.index import fold

from .learned import Model, load_model
from .shortanswer import ShortAnswer

CANDIDATES = 5
"""Spans weighed: the span model's best and its next four (with more, no better on PIAF
dev's training articles)."""
MODEL = "spans-reader"


def words(text: str) -> set[str]:
    """Folded words of ``text``, citation marks ('[2]') left out."""
    return set(re.findall(r"\w+", fold(re.sub(r"\[\d+\]", " ", text))))


def agreement(draft: str, span: str) -> float:
    """Token F1 between the draft and the span (0: no word in common)."""
    a, b = words(draft), words(span)
    common = len(a & b)
    if not common:
        return 0.0
    precision, recall = common / len(b), common / len(a)
    return 2 * precision * recall / (precision + recall)


def margin(score: float) -> float:
    """The span model's raw score back from its squashed 0..1 score."""
    p = min(max(score, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def reader_features(short: ShortAnswer, draft: str) -> dict[str, float]:
    return {"span_margin": margin(short.score), "draft_agreement": agreement(draft, short.text)}


def reread(short: ShortAnswer, draft: str, model: Model | None = None) -> ShortAnswer:
    """The span to state given the generator's ``draft``: ``short`` or one of its runners-up
    (the one returned keeps the others as its runners-up)."""
    if not draft.strip() or not short.runners_up:
        return short
    spans = [short, *short.runners_up][:CANDIDATES]
    scores = (model or load_model(MODEL)).score([reader_features(s, draft) for s in spans])
    best = int(scores.argmax())
    if best == 0:
        return short
    chosen = spans[best]
    return replace(chosen, runners_up=[s for s in [short, *short.runners_up] if s is not chosen])
