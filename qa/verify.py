"""Check a generated answer against the sentences it was given.

- ``support(claim, evidence)``: how well a text backs a claim (0..1): its words as written,
  in the source's order, every number with its unit, and every word that names something;
- ``check_generated``: keep the draft's sentences that cite a passage the model was given and
  are backed by it (a wrong ``[n]`` is re-pointed);
- ``verify_draft``: the whole check of a draft, down to the sentence that backs it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from itertools import pairwise

from ancre.index import analyze, fold, function_words, straighten

from .reading.lexicon import CALENDAR
from .reading.sentences import Candidate, sentences
from .records import Passage

BACKING_MIN = 0.9
"""A generated answer must rest on a sentence scoring at least this share of the best one."""
CITATION = re.compile(r"\s*\[(\d{1,3})\]")
NUMBER = re.compile(r"(?<!\d)\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?")


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


WORD = re.compile(r"[^\W\d_]+")
OPENS = '.!?…:;«»"“”([—–'
"""Punctuation after which a capital letter opens a sentence rather than names something."""


def naming_words(claim: str, language: str = "french") -> set[str]:
    """Folded words of ``claim`` that name something: capitalised words that do not open a
    sentence (places, people, organisations: 'Afrique du Sud' gives 'afrique', 'sud'),
    acronyms anywhere, and months and days."""
    text = straighten(claim)
    stop = function_words(language) | function_words("english")
    names = set()
    for m in WORD.finditer(text):
        word, folded = m.group(), fold(m.group())
        before = text[: m.start()].rstrip()
        opens = not before or before[-1] in OPENS
        acronym = len(word) > 1 and word.isupper()
        if (
            folded in CALENDAR
            or acronym
            or (word[0].isupper() and not opens and folded not in stop)
        ):
            names.add(folded)
    return names


def names_backed(claim: str, evidence: str, language: str = "french") -> bool:
    """Every word of the claim that names something is in the evidence: a generated answer
    may not swap 'Afrique de l'Ouest' for 'Afrique du Sud' however many words it shares."""
    have = {fold(w) for w in WORD.findall(straighten(evidence))}
    return naming_words(claim, language) <= have


def support(claim: str, evidence: str, language: str = "french") -> float:
    """Share of the claim's content words found, as written (case and accents aside), in the
    evidence; 0 if the claim states a number the evidence lacks, or gives it another unit, or
    names something (``naming_words``) the evidence does not.
    Words are not stemmed here: 'PIRATÉ' is not backed by 'pirates'; and half of the claim's
    consecutive words must be consecutive in the evidence too: tiny models recombine the
    words of a passage into statements it does not make."""
    words = analyze(claim, language, stem=False)
    if not words:
        return 0.0
    if not numbers_backed(claim, evidence) or not names_backed(claim, evidence, language):
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


def verify_draft(
    question: str, draft: str, context: list[Candidate], language: str
) -> tuple[str, Candidate | None]:
    """The draft checked against the sentences the model saw, and the sentence that backs
    it; ("", None) when nothing of it stands."""
    text = draft.strip()
    if not text or is_repetitive(text):
        return "", None
    passage = context[0].passage
    shown = replace(passage, text=" ".join(c.sentence.text for c in context))
    checked = check_generated(text, {passage.rank: shown}, language)
    said = set(analyze(checked.text, language)) - set(analyze(question, language))
    if not checked.text or not said:  # nothing beyond the question's own words
        return "", None
    claims = " ".join(claim for claim, _, _ in checked.claims)
    backing = max(context, key=lambda c: support(claims, c.sentence.text, language))
    if not names_backed(claims, backing.sentence.text, language):
        return "", None  # a name the sentence it rests on does not give
    if backing.score < BACKING_MIN * max(c.score for c in context):
        return "", None  # the model answered from a sentence that answers less well
    return checked.text, backing
