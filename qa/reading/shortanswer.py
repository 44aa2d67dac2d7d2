"""The short answer: the best span of the sentences that may answer, chosen by a learned model.

The sentences come ranked from ``sentences.rank_sentences``; the few best are parsed (French:
spaCy, see ``nlp``), cut into candidate spans (``spans``), and every candidate of every
sentence is scored at once, so the model chooses the sentence and the span together (the
right sentence is ranked first only about half of the time: docs/benchmarks.md, "Sentences
and spans"). The model
(``qa/weights/spans.json``, or ``spans-rules.json`` where no parser is available) was fitted
on the dev set's training articles by ``ancre.qa.measure.train``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from ancre.index import analyze, fold

from ..learned import Model, load_model
from . import nlp
from .describe import describe
from .qtype import AnswerType, answer_type, fits_type, is_dated, who_is
from .sentences import Candidate, previous_sentence
from .spans import SpanCandidate, candidates, question_info, span_features

log = logging.getLogger(__name__)

SENTENCES = 5
"""Best-ranked sentences of the best sentence's passage whose spans compete (the sentence
ranked first holds the answer only half of the time)."""


@dataclass
class ShortAnswer:
    text: str
    sentence: Candidate
    """The ranked sentence (and its passage) the span was cut from."""
    span: SpanCandidate
    score: float
    """The model's score squashed to 0..1 (a ranker's: higher is better, not a probability;
    the evidence model reads it as one of its features)."""
    margin: float = 0.0
    """How far ``score`` is above the best candidate that does not overlap this span (1.0
    when there is none): a span far ahead of any other answer is more often right."""
    fits: bool = True
    """Whether the span fits the type of answer asked for (``fits_type``)."""
    row: dict[str, float] | None = None
    """The span model's features of this span (``spans.span_features``)."""


def model_name(parsed: bool) -> str:
    return "spans" if parsed else "spans-rules"


def span_rows(
    question: str,
    ranked: list[Candidate],
    idf: dict[str, float],
    language: str,
    parsed: bool | None = None,
    q_type: AnswerType | None = None,
) -> tuple[list[tuple[Candidate, SpanCandidate]], list[dict[str, float]]]:
    """The candidate spans of the best sentences and their feature rows (the training code
    calls this too, so that features are computed one way)."""
    if not ranked:
        return [], []
    # one passage, the best sentence's: the answer and its quote cite the same source, and
    # spans from other passages won nothing (docs/benchmarks.md, "Sentences and spans")
    top = [c for c in ranked if c.passage.rank == ranked[0].passage.rank][:SENTENCES]
    if parsed is None:
        parsed = nlp.available(language)
    docs = nlp.parse([question] + [c.sentence.text for c in top]) if parsed else []
    q_doc = docs[0] if docs else None
    s_docs = docs[1:] if docs else [None] * len(top)
    terms = list(dict.fromkeys(analyze(question, language)))
    q = question_info(question, terms, q_type or answer_type(question), idf, q_doc)
    best = top[0].score or 1.0
    pairs, rows = [], []
    for rank, (sent, doc) in enumerate(zip(top, s_docs, strict=True)):
        lemma_cov = 0.0
        if doc is not None and q.lemmas:
            lemma_cov = len(q.lemmas & {fold(t.lemma_) for t in doc}) / len(q.lemmas)
        for span in candidates(sent.sentence.text, doc):
            row = span_features(span, sent.sentence.text, q, language, doc)
            row.update(
                sentence_rank=rank,
                sentence_score=sent.score / best,
                sentence_coverage=sent.coverage,
                passage_rank=sent.passage.rank,
                passage_score=sent.passage.score,
                sentence_lemma_coverage=lemma_cov,
            )
            pairs.append((sent, span))
            rows.append(row)
    return pairs, rows


def best_span(
    question: str,
    ranked: list[Candidate],
    idf: dict[str, float],
    language: str,
    model: Model | None = None,
    q_type: AnswerType | None = None,
) -> ShortAnswer | None:
    """The span most likely to answer, or None when the sentences yield no candidate.

    Spans come from the best sentence's passage. For 'combien' (a count, an amount) a
    passage with no span that fits leaves the answer to the next passages that have one
    (``COUNT_PASSAGES``): 'Combien a coûté la rénovation du pont ?' is answered by the
    article's next paragraph ('ont coûté 8,6 millions d’euros'), not by the date of its
    first."""
    parsed = nlp.available(language)
    q_type = q_type or answer_type(question)
    m = model or load_model(model_name(parsed))
    name = who_is(question)
    described = describe(name, ranked, parsed) if name else None
    if described is not None:  # 'Qui est Sophie Lemaire ?': how the articles describe her
        span = SpanCandidate(described.start, described.end, described.text, {"description"})
        return ShortAnswer(described.text, described.sentence, span, DESCRIBED_SCORE, 1.0)
    first: ShortAnswer | None = None
    # the best sentence's passage, then (for a count or an amount) the next ones as retrieval
    # ranked them: a sentence that shares the question's names in a passage retrieval put
    # last is no place to look for the figure ('9 400 euros' lost to a scam in the same town
    # is not the bridge's cost)
    first_rank = ranked[0].passage.rank
    others = sorted({c.passage.rank for c in ranked} - {first_rank})
    order = [first_rank, *others]
    tries = order[:COUNT_PASSAGES] if q_type.kind in ("number", "amount") else order[:1]
    for rank in tries:
        same = [c for c in ranked if c.passage.rank == rank]
        found = _best_in_passage(question, same, idf, language, m, q_type, parsed)
        if found is None:
            continue
        span, fits = found
        if fits:
            return _named(span, q_type, parsed)
        first = first or span
    return first


DESCRIBED_SCORE = 0.5
"""The span score given to a description (``describe``), which the span model did not score:
the evidence model reads it as a middling span."""
COUNT_PASSAGES = 3
"""Passages searched, best first, for a span that fits 'combien'."""


def _best_in_passage(
    question: str,
    ranked: list[Candidate],
    idf: dict[str, float],
    language: str,
    model: Model,
    q_type: AnswerType,
    parsed: bool,
) -> tuple[ShortAnswer, bool] | None:
    """The best span of one passage's sentences, and whether it fits the type asked for
    (the best of all when none fits)."""
    pairs, rows = span_rows(question, ranked, idf, language, parsed, q_type)
    if not rows:
        return None
    scores = model.score(rows)
    ok = [j for j, (_, span) in enumerate(pairs) if fits_type(q_type, span.text)]
    if q_type.kind == "date":  # 'quand': a span that writes a date, where the passage has one
        dated = [j for j in ok if is_dated(pairs[j][1].text)]
        ok = dated or ok
    i = max(ok, key=lambda j: scores[j]) if ok else int(scores.argmax())
    sent, span = pairs[i]
    rivals = [
        float(scores[j])
        for j, (other_sent, other) in enumerate(pairs)
        if other_sent is not sent or other.end <= span.start or other.start >= span.end
    ]
    margin = float(scores[i]) - max(rivals, default=float(scores[i]) - 1.0)
    short = ShortAnswer(span.text, sent, span, float(scores[i]), margin, bool(ok), rows[i])
    return short, bool(ok)


DESCRIPTION = re.compile(r"^(le|la|les|l['’]|ce|cet|cette|ces)\s*[^\W\d_]", re.IGNORECASE)
"""A span that describes rather than names: 'Le chef d’entreprise de 62 ans'."""


def _named(short: ShortAnswer, q_type: AnswerType, parsed: bool) -> ShortAnswer:
    """For 'qui', the person's name where the best span only describes them at the head of
    its sentence and the sentence before names someone: a news article names a person once,
    then describes them ('Un an après sa défaite, Gilles Fabre a pris sa revanche. Le chef
    d’entreprise de 62 ans a remporté...'). The name's sentence becomes the one cited, and the
    quote carries both. Needs the French parser's entities; rare on encyclopedic text, which
    repeats names (docs/benchmarks.md, "Sentences and spans")."""
    span, sent = short.span, short.sentence
    text = span.text
    if (
        not parsed
        or q_type.kind != "person"
        or span.start > 3
        or not DESCRIPTION.match(text)
        or any(w[:1].isupper() for w in text.split()[1:])
    ):
        return short
    before = previous_sentence(sent.passage.text, sent.sentence)
    if before is None:
        return short
    people = [e for e in nlp.parse([before.text])[0].ents if e.label_ == "PER"]
    if not people:
        return short
    subject = [e for e in people if e.root.dep_.startswith("nsubj")]
    name = (subject or people)[0]
    named = SpanCandidate(name.start_char, name.end_char, name.text, {"name"})
    cited = Candidate(sent.passage, before, sent.score, sent.coverage)
    return ShortAnswer(name.text, cited, named, short.score, short.margin, True, short.row)
