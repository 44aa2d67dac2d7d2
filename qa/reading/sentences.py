"""Pick the sentences of the retrieved passages that answer a question (extractive).

- ``sentences(text)``: sentence spans with offsets;
- ``rank_sentences``: the passages' sentences, best answer first;
- ``choose_context``: the few sentences the generator reads.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from ancre.index import analyze

from ..records import Passage
from .lexicon import ANAPHORS, YEAR
from .qtype import answer_type_bonus

CONTEXT_SENTENCES = 3
"""Sentences shown to the LLM (tiny models lose their way in long contexts)."""
ABBREVIATIONS = {
    "m",
    "mm",
    "mme",
    "mlle",
    "dr",
    "st",
    "ste",
    "etc",
    "av",
    "apr",
    "j.-c",
    "no",
    "mr",
    "mrs",
    "ms",
    "vs",
    "p",
    "cf",
    "env",
    "art",
    "fig",
    "vol",
    "ch",
}
SENTENCE_END = re.compile(r"[.!?…]+[»”\"')\]]*\s+|\n+")


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str


def sentences(text: str) -> list[Sentence]:
    out: list[Sentence] = []
    start = 0
    for m in SENTENCE_END.finditer(text):
        if "\n" not in m.group() and not _ends_sentence(text, start, m):
            continue
        _add(out, text, start, m.end())
        start = m.end()
    _add(out, text, start, len(text))
    return out


def _ends_sentence(text: str, start: int, m: re.Match) -> bool:
    """A '.' after an abbreviation ('M.', 'env.') or an initial ('J. Dupont') does not end
    a sentence, nor does punctuation followed by a lower-case word."""
    words = text[start : m.start()].split()
    last = words[-1] if words else ""
    if m.group().startswith(".") and (
        last.lower() in ABBREVIATIONS or (len(last) == 1 and last.isupper())
    ):
        return False
    following = text[m.end() : m.end() + 1]
    return not (following and following.islower())


def _add(out: list[Sentence], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return
    s = start + piece.index(stripped)
    out.append(Sentence(s, s + len(stripped), stripped))


@dataclass
class Candidate:
    passage: Passage
    sentence: Sentence
    score: float
    coverage: float


def rank_sentences(
    question: str,
    passages: list[Passage],
    idf: dict[str, float],
    language: str = "french",
    top_passages: int = 5,
    asked: str = "",
) -> list[Candidate]:
    """Sentences of the top passages, best answer first.

    Score = coverage of the question's words, each weighted by its idf and by how rare it
    is among the candidate sentences (the article's topic words, present everywhere, count
    less than the word that singles out one sentence); plus the expected answer type (a date
    for 'quand', a number for 'combien'...), new information beyond the question, and the
    passage's retrieval score (weights measured: docs/benchmarks.md). ``asked``:
    the question as asked when ``question`` is a follow-up's searched text; its type counts."""
    q_terms = list(dict.fromkeys(analyze(question, language)))
    pool = []
    for passage in passages[:top_passages]:
        for s in sentences(passage.text):
            terms = set(analyze(s.text, language))
            if len(terms) >= 3:
                pool.append((passage, s, terms))
    spread = Counter(t for _, _, terms in pool for t in terms if t in q_terms)
    weight = {
        t: idf.get(t, 1.0) * math.log(1 + len(pool) / spread[t]) if spread[t] else 0.0
        for t in q_terms
    }
    total = sum(weight.values()) or 1.0
    top_score = passages[0].score if passages and passages[0].score > 0 else 1.0
    out = []
    for passage, s, terms in pool:
        coverage = sum(w for t, w in weight.items() if t in terms) / total
        if coverage == 0:  # bylines, captions: nothing of the question
            continue
        novelty = min(1.0, len(terms - set(q_terms)) / 4)
        score = (
            coverage
            + 0.15 * answer_type_bonus(asked or question, s.text)
            + 0.1 * novelty
            + 1.0 * passage.score / top_score
        )
        out.append(Candidate(passage, s, score, coverage))
    out.sort(key=lambda c: -c.score)
    return out


def other_years_last(years_asked: set[str], ranked: list[Candidate]) -> list[Candidate]:
    """``ranked`` with the sentences that name a year, but none of ``years_asked``, after the
    others: 'Qui a remporté l'élection en 2024 ?' is not answered by '...a remporté dimanche
    23 mars 2025 le second tour' when a sentence of the passages speaks of 2024 or of no
    year at all."""
    if not years_asked:
        return ranked
    other = [c for c in ranked if _names_other_years(c.sentence.text, years_asked)]
    if not other or len(other) == len(ranked):
        return ranked
    return [c for c in ranked if c not in other] + other


def _names_other_years(text: str, years_asked: set[str]) -> bool:
    named = set(YEAR.findall(text))
    return bool(named) and not named & years_asked


def choose_context(question: str, candidates: list[Candidate]) -> list[Candidate]:
    """What the model reads: the best sentences of the best sentence's passage (one passage,
    so that the answer and its quote cite the same source), in text order; one of them has
    the expected type of answer (an amount for 'combien a coûté', a date for 'quand'...)
    when the passage has one."""
    rank = candidates[0].passage.rank
    same = [c for c in candidates if c.passage.rank == rank]
    context = same[:CONTEXT_SENTENCES]
    if all(answer_type_bonus(question, c.sentence.text) < 1.0 for c in context):
        typed = next(
            (
                c
                for c in same[CONTEXT_SENTENCES:]
                if answer_type_bonus(question, c.sentence.text) == 1.0
            ),
            None,
        )
        if typed is not None:
            context = [*context[:-1], typed]
    return sorted(context, key=lambda c: c.sentence.start)


ANAPHOR = re.compile(rf"^\W*(?:\w+\W+){{0,5}}?(?:{ANAPHORS})\b", re.IGNORECASE)
"""A sentence whose first words point back ('Ces pays ont indiqué...', 'Dans une déclaration
conjointe, ces pays...', 'Il fut...'): it does not name what it speaks about."""


def starts_with_anaphor(text: str) -> bool:
    return bool(ANAPHOR.match(text))


def previous_sentence(text: str, sentence: Sentence) -> Sentence | None:
    """The sentence of ``text`` just before ``sentence`` (None at the start)."""
    before = [s for s in sentences(text) if s.end <= sentence.start]
    return before[-1] if before else None
