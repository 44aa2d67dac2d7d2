"""The words of French and English that the read path's rules read (``fr``, ``en``), and the
patterns compiled from them: written once, so that every module recognises a name, a month or
a number word the same way.

Add a language by adding its module and joining its lists below.
"""

from __future__ import annotations

import re

from ancre.index import fold

from . import en, fr

LANGUAGES = (fr, en)

FOREIGN_PARTICLES = (
    "van",
    "von",
    "der",
    "den",
    "di",
    "da",
    "del",
    "dos",
    "ben",
    "ibn",
    "al",
    "el",
    "mc",
)
"""Particles of names from other languages that French and English text writes as they are
('Vincent van Gogh', 'Ibn Khaldoun')."""

CAPITAL = "A-ZÀ-ÖØ-Þ"
"""The capital letters a name starts with (Latin-1's, so 'Émile', 'Île', 'Øresund')."""
NAME_WORD = rf"[{CAPITAL}][\w’'-]+"
"""A capitalised word of two letters or more."""
NAME_IN_SENTENCE = re.compile(rf"(?<!^)(?<![.!?] )\b{NAME_WORD}")
"""A capitalised word that does not start a sentence: a name, a place, an organisation."""


def _alternation(words) -> str:
    return "|".join(re.escape(w).replace(r"\ ", " ").replace("'", "['’]") for w in words)


PARTICLES = (
    _alternation(dict.fromkeys(p for lang in LANGUAGES for p in lang.NAME_PARTICLES))
    + "|"
    + "|".join(FOREIGN_PARTICLES)
)
"""Regex alternation of the lower-case words inside a name, every language's."""


def name_pattern(word: str = NAME_WORD) -> str:
    """A name of one or more ``word``s, which particles may join ('Charles de Gaulle',
    'Afrique du Sud', 'Vincent van Gogh')."""
    return rf"{word}(?:\s+(?:(?:{PARTICLES})\s*)?{word})*"


NAME = re.compile(rf"\b{name_pattern()}")
"""A name, of one word or several."""

_LOOSE = str.maketrans({"é": "[ée]", "è": "[eè]", "û": "[uû]"})


def loose(word: str) -> str:
    """``word`` as a pattern that also matches it written without its accents ('f[ée]vrier')."""
    return word.translate(_LOOSE)


MONTHS = "|".join(loose(m) for lang in LANGUAGES for m in lang.MONTHS)
"""Regex alternation of every language's months, accents optional."""
CENTURIES = "|".join(loose(lang.CENTURY) for lang in LANGUAGES)
CALENDAR = frozenset(
    fold(w)
    for lang in LANGUAGES
    for w in (*lang.MONTHS, *lang.DAYS)
    if w not in getattr(lang, "NOT_CALENDAR", ())
)
"""Folded months and days, every language's ('may' aside: also a verb)."""
NUMBER_WORDS = "|".join(w for lang in LANGUAGES for w in lang.NUMBER_WORDS)
"""Regex alternation of every language's number words, in their lists' order."""
YEAR = re.compile(r"\b(1\d{3}|20\d{2})\b")
"""A year of the last millennium or of this century."""

ANAPHORS = "|".join(w for lang in LANGUAGES for w in lang.ANAPHORS)
"""Regex alternation of the words that open a sentence which does not name its subject."""
POINTING = "|".join(w for lang in LANGUAGES for w in (*lang.ANAPHORS, *lang.POINTING_WORDS))
"""Regex alternation of every word that points back to something named before."""
