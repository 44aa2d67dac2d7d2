"""'Qui est Sophie Lemaire ?': the answer is how the articles describe her, not a span that
merely mentions her.

News articles describe a person where they name them, in two shapes: a noun phrase just
before the name ('l'entraîneur Frédéric Alvarez', 'la maire sortante, Martine Leroux') or an
apposition just after it ('Sophie Lemaire, ingénieure responsable des ouvrages d'art au
département,'). The span model, trained on PIAF questions that mostly ask about something
else, picks the sentence's most answer-like span instead ('Certains fils étaient rompus à
près de 30 %' for 'Qui est Sophie Lemaire ?'). These rules read the description off the
best sentences that name the person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from . import nlp
from .sentences import Candidate
from .spans import MAX_WORDS

DETERMINER = re.compile(
    r"\b(?:(?:le|la|les|son|sa|ses|leur|notre|the|its|his|her|their)(?=\W)|l['’])", re.IGNORECASE
)
OPENS_NOUN_PHRASE = re.compile(
    r"(?:(?:un|une|le|la|les|son|sa|ses|leur|the|a|an|one|his|her|its|their)\s|l['’])",
    re.IGNORECASE,
)
AFTER = re.compile(
    r",\s+(?P<d>[a-zà-öø-ÿ][^,;:.!?()«»\"“”]{2,120}?)\s*(?=[,;:.!?)»]|$|\s(?:qui|who)\b)"
)
STOP = re.compile(r"[,;:.!?()«»\"“”]")


@dataclass
class Description:
    text: str
    sentence: Candidate
    start: int
    """Offsets of ``text`` in the sentence's text."""
    end: int


def describe(name: str, ranked: list[Candidate], parsed: bool = False) -> Description | None:
    """The first description of ``name`` in the ranked sentences (best first): the noun
    phrase that leads up to the name, else the apposition that follows it. With ``parsed``
    (French), a phrase before the name that holds a conjugated verb is a clause, not a
    description ('Le club a recruté Jean Dupont')."""
    pattern = re.compile(re.escape(name).replace(r"\ ", r"\s+"), re.IGNORECASE)
    for cand in ranked:
        text = cand.sentence.text
        for m in pattern.finditer(text):
            found = _before(text, m.start(), m.end())
            if found is not None and _conjugated(text, *found, parsed):
                found = None
            found = found or _after(text, m.end(), parsed)
            if found is not None:
                return Description(text[found[0] : found[1]], cand, *found)
    return None


AUXILIARY = re.compile(
    r"\b(a|ont|est|sont|était|étaient|avait|avaient|fut|sera|seront|has|have|had|is|are|was|"
    r"were|will)\b",
    re.IGNORECASE,
)


def _conjugated(text: str, start: int, end: int, parsed: bool) -> bool:
    """Does ``text[start:end]`` hold a conjugated verb (the parser's, else an auxiliary)?"""
    if AUXILIARY.search(text, start, end):
        return True
    if not parsed:
        return False
    doc = nlp.parse([text])[0]
    return any(
        start <= t.idx < end and "Fin" in t.morph.get("VerbForm") for t in doc if t.pos_ != "NOUN"
    )


def _before(text: str, at: int, after: int) -> tuple[int, int] | None:
    """The shortest phrase opening on a determiner that ends at the name. A comma between
    them only where the name stands in apposition, a comma or the end after it ('Le
    président du club, Jean-Claude Mercier, prévoit', 'pour la maire sortante, Martine
    Leroux.'; not 'Sur le circuit, Maria Kirilenko a...'). Not a phrase that ends on a
    preposition ('la retraite de Ian Thorpe') or starts with a figure ('Le 29 janvier...')."""
    end = len(text[:at].rstrip())
    if text[:end].endswith(","):
        if not re.match(r"\s*([,;:.!?)»]|$)", text[after:]):
            return None
        end = len(text[: end - 1].rstrip())
    for det in reversed(list(DETERMINER.finditer(text, 0, end))):
        phrase = text[det.start() : end]
        if STOP.search(phrase):
            return None  # further left only crosses more punctuation
        head = text[det.end() : end].strip()
        if (
            head[:1].isalpha()
            and head[:1].islower()
            and not LINKING_END.search(phrase)
            and _describes(phrase)
        ):
            return det.start(), end
    return None


LINKING_END = re.compile(
    r"\b(de|du|des|d['’]|à|au|aux|par|pour|avec|contre|sur|chez|selon|entre|of|by|for|with|"
    r"to|from)$",
    re.IGNORECASE,
)


def _after(text: str, at: int, parsed: bool) -> tuple[int, int] | None:
    """The apposition after the name ('Sophie Lemaire, ingénieure responsable...,'), not
    the predicate of a sentence that goes on after a comma ('Giles Farmer, took 47.6%'):
    with the parser, an apposition does not open on a conjugated verb; without it (English),
    it opens on a determiner ('Jane Doe, a lawyer from Ohio')."""
    m = AFTER.match(text, at)
    if m is None or not _describes(m.group("d")):
        return None
    start, end = m.start("d"), m.end("d")
    if OPENS_NOUN_PHRASE.match(text, start):
        return start, end
    first = text[start:end].split()[0]
    if not parsed or _conjugated(text, start, start + len(first), parsed):
        return None
    return start, end


PREPOSITIONS = frozenset(
    ("de", "du", "des", "à", "au", "aux", "en", "chez", "pour", "sur", "of", "from", "at", "in")
)


def _describes(phrase: str) -> bool:
    """A description is short and names no one else: a capital after its first word only
    in a complement ('ingénieure au département de la Vienne', 'a lawyer from Ohio'), not
    as its head ('l'Entente Sud-Loire')."""
    words = phrase.split()
    if not 0 < len(words) <= MAX_WORDS:
        return False
    return all(
        not w[:1].isupper() or prev.casefold() in PREPOSITIONS for prev, w in pairwise(words)
    )
