"""Follow-up questions ('Et en 2021 ?'): which cannot be searched on their own, and what is
searched for them instead: the questions they follow."""

from __future__ import annotations

import re

from ancre.index import analyze

from ..reading.lexicon import NAME_IN_SENTENCE
from ..records import Turn

FOLLOW_UP = re.compile(
    r"^\s*(et|mais|alors|puis|and|but|what about|how about|quid)\b", re.IGNORECASE
)


def is_follow_up(question: str, language: str = "french") -> bool:
    """A question that starts like a follow-up ('Et en 2021 ?'), or a short one that names
    nothing ('Combien de stations ?'), cannot be searched on its own. A short question that
    names someone or something ('Qui est Sophie Lemaire ?') can: searched with the question
    before it, it found that question's articles instead."""
    if FOLLOW_UP.match(question):
        return True
    return len(analyze(question, language)) <= 3 and not NAME_IN_SENTENCE.search(question)


def lacks_context(question: str, history: list[Turn]) -> bool:
    """A question that starts like a follow-up ('Et combien de stations ?') asked with no
    question before it: what it refers to is unknown, and searched on its own it finds
    whatever shares its few words (a weather station)."""
    asked_before = any(t.role == "user" for t in history)
    return not asked_before and bool(FOLLOW_UP.match(question))


def retrieval_query(question: str, history: list[Turn], language: str) -> str:
    """The question, plus the question it follows when this one is a follow-up."""
    previous = [t.text for t in history if t.role == "user"]
    if not previous or not is_follow_up(question, language):
        return question
    # the subject: the questions since the last one that could be searched on its own
    # ('Quel a été le score ?', 'Et qui a marqué l'essai ?', then 'À quelle minute ?')
    start = next(
        (i for i in range(len(previous) - 1, -1, -1) if not is_follow_up(previous[i], language)),
        len(previous) - 1,
    )
    return " ".join([*previous[start:], question])
