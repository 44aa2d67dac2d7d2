"""Check answers against their passages, and pick the sentences that answer best.

- ``sentences(text)``: sentence spans with offsets.
- ``support(claim, passage_text)``: how well a passage backs a claim (0..1), lexical.
- ``rank_sentences(...)``: the passage sentences that best answer a question (extractive).
- ``check_generated(...)``: keep a generated answer only if its citations are valid and each
  sentence is backed by the passage it cites.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

from index.lexical import analyze, fold

from .records import Passage

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
CITATION = re.compile(r"\s*\[(\d{1,3})\]")
NUMBER = re.compile(r"(?<!\d)\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?")


@dataclass
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


QUANTITY = re.compile(r"(" + NUMBER.pattern + r")\s*(°\s?[CF]|%|€|\$|[^\W\d_]+)?")


def quantities(text: str) -> set[tuple[str, str]]:
    """(number, the unit or word right after it): '41,7 °C' -> ('41.7', '°c')."""
    return {
        (
            re.sub(r"[ \u00a0\u202f]", "", m.group(1)).replace(",", "."),
            fold((m.group(2) or "").replace(" ", "")),
        )
        for m in QUANTITY.finditer(text.replace("’", "'"))
    }


def numbers_backed(claim: str, evidence: str) -> bool:
    """Every number of the claim is in the evidence, with the same unit when the claim gives
    one ('16 °C' is not backed by '16 août')."""
    have = quantities(evidence)
    for number, unit in quantities(claim):
        # same number; same unit when the claim gives one (its first letters: plurals, elisions)
        if not any(n == number and (not unit or u[:3] == unit[:3]) for n, u in have):
            return False
    return True


def support(claim: str, evidence: str, language: str = "french") -> float:
    """Share of the claim's content words found, as written (case and accents aside), in the
    evidence; 0 if the claim states a number the evidence lacks, or gives it another unit.
    Words are not stemmed here: 'PIRATÉ' is not backed by 'pirates'; and half of the claim's
    consecutive words must be consecutive in the evidence too: tiny models recombine the
    words of a passage into statements it does not make."""
    words = analyze(claim, language, stem=False)
    if not words:
        return 0.0
    if not numbers_backed(claim, evidence):
        return 0.0
    found = analyze(evidence, language, stem=False)
    have = set(found)
    share = sum(w in have for w in words) / len(words)
    pairs = list(pairwise(words))
    if len(pairs) >= 2:  # the words must also come in the source's order, not recombined
        adjacent = set(pairwise(found))
        in_order = sum(p in adjacent for p in pairs) / len(pairs)
        if in_order < 0.5:
            return min(share, in_order)
    return share


def is_repetitive(text: str) -> bool:
    words = fold(text).split()
    if len(words) < 8:
        return False
    grams = Counter(zip(words, words[1:], words[2:], strict=False))
    return grams.most_common(1)[0][1] >= 3 or len(set(words)) / len(words) < 0.4


QUESTION_TYPES = [
    (
        re.compile(
            r"\b(combien|how much)\b.*\b(co[uû]t|pay|vend|sold|cost)|"
            r"\bquel(le)? (est |était |a été )?(le |la )?(co[uû]t|prix|montant|budget)",
            re.I,
        ),
        re.compile(r"€|\$|£|\b(euros?|dollars?|francs?|livres?)\b", re.I),
    ),
    (
        re.compile(
            r"\b(quand|quelle (date|annee|année|epoque|époque)|en quelle|depuis quand|"
            r"when|what year|which year)\b",
            re.I,
        ),
        re.compile(
            r"\b(1\d{3}|20\d{2})\b|"
            r"\b(janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|"
            r"novembre|d[ée]cembre|si[eè]cle|january|february|march|april|may|june|july|"
            r"august|september|october|november|december|century)\b",
            re.I,
        ),
    ),
    (
        re.compile(
            r"\b(combien|quel (nombre|montant|pourcentage|âge|age)|how (many|much|old))\b", re.I
        ),
        re.compile(
            r"\d|\b(un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|"
            r"dix|cent|mille|million|milliard)s?\b",
            re.I,
        ),
    ),
    (
        re.compile(r"\b(qui|who|whom)\b", re.I),
        re.compile(r"(?<!^)(?<![.!?] )\b[A-ZÉÈ][a-zéèêëàâîïôûç]+"),
    ),
]


def answer_type_bonus(question: str, sentence: str) -> float:
    for q_pattern, s_pattern in QUESTION_TYPES:
        if q_pattern.search(question):
            return 1.0 if s_pattern.search(sentence) else 0.0
    return 0.5


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
) -> list[Candidate]:
    """Sentences of the top passages, best answer first.

    Score = coverage of the question's words, each weighted by its idf and by how rare it
    is among the candidate sentences (the article's topic words, present everywhere, count
    less than the word that singles out one sentence); plus the expected answer type (a date
    for 'quand', a number for 'combien'...), new information beyond the question, and the
    passage's retrieval score. Weights measured on PIAF dev (docs/benchmarks.md)."""
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
            + 0.15 * answer_type_bonus(question, s.text)
            + 0.1 * novelty
            + 1.0 * passage.score / top_score
        )
        out.append(Candidate(passage, s, score, coverage))
    out.sort(key=lambda c: -c.score)
    return out


@dataclass
class Checked:
    text: str
    """The answer with invalid citations removed and unsupported sentences dropped."""
    claims: list[tuple[str, int, float]]
    """(sentence, cited passage number, support) for each kept sentence."""
    dropped: list[str]


def check_generated(
    answer: str, passages: dict[int, Passage], language: str = "french", min_support: float = 0.6
) -> Checked:
    """Keep the sentences of a generated answer that cite a passage given to the model and
    are supported by it; an uncited sentence gets the passage that supports it best."""
    kept, claims, dropped = [], [], []
    for s in sentences(answer.strip()):
        cited = [int(n) for n in CITATION.findall(s.text) if int(n) in passages]
        claim = CITATION.sub("", s.text).strip()
        if not analyze(claim, language):
            continue
        scores = {n: support(claim, passages[n].text, language) for n in passages}
        best = max(cited or passages, key=lambda n: scores[n])
        if scores[best] < min_support:  # a wrong [n]: cite the passage that does back it
            best = max(passages, key=lambda n: scores[n])
        if scores[best] < min_support:
            dropped.append(claim)
            continue
        body = claim.rstrip()
        end = ""
        if body and body[-1] in ".!?":
            body, end = body[:-1].rstrip(), body[-1]
        kept.append(f"{body} [{best}]{end}")
        claims.append((claim, best, scores[best]))
    return Checked(" ".join(kept), claims, dropped)
