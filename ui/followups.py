"""Suggested follow-up questions: questions about the other facts of the articles an answer
cites, each one asked of ancre (without a generator: the cheap path) before it is shown, and
kept only when ancre states the very fact it was made from, citing the same article.

Candidates are the cited articles' sentences turned into questions where they stand: a date
becomes « quand », a number and its noun « combien de … », a person opening the sentence
« Qui ». The checks run within a time budget; past it, no more are asked (on a large index
or a slow machine the suggestions thin out, then stop).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from types import ModuleType

from ancre.index import fold
from ancre.qa import Answer, Answerer, AnswerSettings
from ancre.qa.reading.lexicon import en, fr

SHOWN = 3
"""Follow-up questions shown at most under an answer."""
BUDGET_S = 2.0
"""Seconds the checks of one answer's candidates may take."""
WORDS = (5, 18)
"""A candidate sentence's length in words (shorter says little, longer reads badly)."""
NOT_COUNTED = frozenset(
    (  # noqa: SIM905
        "avec dans pour par sur sous entre et ou mais des les une aux qui que dont avant après "
        "and with for from into the than that which"
    ).split()
)
"""Words after a number that are not what it counts."""
AFTER = re.compile(r"(?:\b(?:du|au|de|des|aux)|jusqu[’']?|d[’'])\s*$", re.IGNORECASE)
"""What may not come before the replaced date: « l'aube du quand » reads badly."""


@dataclass(frozen=True)
class Words:
    """One language's interrogatives and the patterns of what they replace."""

    when: str
    how_many: str
    how_many_vowel: str
    who: str
    date: re.Pattern[str]
    pronouns: frozenset[str]


def _words(
    lang: ModuleType,
    when: str,
    how_many: str,
    how_many_vowel: str,
    who: str,
    date: str,
    flags: int = 0,
    pronouns: tuple[str, ...] = (),
) -> Words:
    """One language's ``Words``, its date pattern filled with the lexicon's months and days."""
    months = "|".join(lang.MONTHS)
    days = "|".join(lang.DAYS)
    return Words(
        when=when,
        how_many=how_many,
        how_many_vowel=how_many_vowel,
        who=who,
        date=re.compile(date.format(months=months, days=days), flags | re.IGNORECASE),
        pronouns=frozenset(w for w in (*lang.ANAPHORS, *pronouns) if " " not in w),
    )


LANGUAGES = {
    "fr": _words(
        fr,
        "quand",
        "combien de",
        "combien d’",
        "Qui",
        r"\b(?:(?:dès|depuis) )?(?:le )?"
        r"(?P<core>(?:(?:{days}) )?\d{{1,2}}(?:er)? (?:{months})(?: \d{{4}})?)\b"
        r"|\ben (?P<year>(?:(?:{months}) )?\d{{4}})\b(?![-–]\d)",
        pronouns=("celui", "celle", "on"),
    ),
    "en": _words(
        en,
        "when",
        "how many",
        "how many ",
        "Who",
        r"\b(?:(?:on|in|by) )?(?P<core>(?:{months}) \d{{1,2}}(?:, \d{{4}})?|\d{{4}})\b(?![-–]\d)",
        pronouns=("that",),
    ),
}
NUMBER = re.compile(
    r"(?<![\w,])(\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:,\d+)?"
    r"(?:\s+(?:millions?|milliards?|million|billion)\s+(?:d[e’']\s*|of\s+)?)?\s*"
    r"(?P<noun>[^\W\d_]{3,})"
)
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý«\"])")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.split(text.replace("\n", " ")) if s.strip()]


def candidates(sentence: str, lang: str, names: list[str] = ()) -> Iterator[tuple[str, str]]:
    """(question, the words it asks for) made from ``sentence`` where it stands."""
    words = LANGUAGES.get(lang)
    body = sentence.strip().rstrip(".!").strip()
    n = len(body.split())
    if words is None or not WORDS[0] <= n <= WORDS[1] or any(q in body for q in '?«»"“”'):
        return
    first = body.split()[0].lower().strip(",")
    if first in words.pronouns or re.match(r"c[’']", first):
        return
    m = words.date.search(body)
    before = body[: m.start()] if m else ""
    if m and re.search(r"[^\W\d]\s$", before) and not AFTER.search(before):
        yield (
            _ask(body[: m.start()] + words.when + body[m.end() :], lang),
            m.group("core") or m["year"],
        )
    for m in NUMBER.finditer(body):
        if m.start() == 0 or (words.date.search(body) and _inside(m, words.date, body)):
            continue
        noun = m.group("noun")
        if re.fullmatch(r"1\d{3}|20\d{2}", m.group(1)) or noun.lower() in NOT_COUNTED:
            continue  # a year, or a number followed by no noun
        if lang == "fr" and re.search(r"(?:é|ée|és|ées)$", noun):
            continue  # a participle (« 48 millions apportés »), not what is counted
        ask = words.how_many_vowel if noun[0].lower() in "aeéèêiouyh" else words.how_many + " "
        yield _ask(body[: m.start()] + ask + noun + body[m.end() :], lang), m.group(1)
    for name in names:
        if body.startswith(name + " ") and len(name.split()) >= 2:
            yield _ask(words.who + body[len(name) :], lang), name


def _inside(m: re.Match[str], date: re.Pattern[str], body: str) -> bool:
    return any(d.start() <= m.start() < d.end() for d in date.finditer(body))


def _ask(text: str, lang: str) -> str:
    text = " ".join(text.replace(" ,", ",").split())
    return text[0].upper() + text[1:] + (" ?" if lang == "fr" else "?")


def _digits_or_words(text: str) -> str:
    return " ".join(fold(text).replace("\u202f", " ").replace("\u00a0", " ").split())


@dataclass
class FollowUps:
    """The ``Suggester`` of the web chat: ``answerers`` opens an Answerer for settings (the
    chat's own factory; the checks run with ``llm='none'``)."""

    answerers: Callable[[AnswerSettings], Answerer]
    settings: AnswerSettings
    budget_s: float = BUDGET_S
    shown: int = SHOWN

    def suggest(self, question: str, answer: Answer) -> list[str]:
        if answer.abstained or not answer.citations:
            return []
        docs = {c.doc_id for c in answer.citations}
        cited = {_digits_or_words(c.sentence) for c in answer.citations}
        asked = _digits_or_words(question)
        lang = answer.language if answer.language in LANGUAGES else "fr"
        qa = self.answerers(replace(self.settings, llm="none"))
        names = _names(answer)
        pool: dict[str, tuple[str, str]] = {}  # one question per sentence, the shortest
        for passage in [p for p in answer.passages if p.doc_id in docs]:
            for sentence in sentences(passage.text):
                if _digits_or_words(sentence) in cited:
                    continue  # what was just answered
                made = sorted(candidates(sentence, lang, names), key=lambda c: len(c[0]))
                if made and _digits_or_words(made[0][0]) != asked:
                    pool.setdefault(sentence, made[0])
        found: list[str] = []
        deadline = time.monotonic() + self.budget_s
        for candidate, expected in sorted(pool.values(), key=lambda c: len(c[0])):
            if time.monotonic() > deadline:
                break
            if _answers(qa.ask(candidate), expected, docs):
                found.append(candidate)
                if len(found) == self.shown:
                    break
        return found


def _names(answer: Answer) -> list[str]:
    """Capitalised word runs of the cited passages (people, places, bodies): a sentence
    that opens with one may be asked as « Qui … »."""
    found = re.findall(
        r"\b[A-ZÉ][a-zéèëï]+(?: [A-ZÉ][a-zéèëï]+)+", " ".join(p.text for p in answer.passages)
    )
    return list(dict.fromkeys(found))


def _answers(answer: Answer, expected: str, docs: set[str]) -> bool:
    """Whether ``answer`` states ``expected`` from one of ``docs``."""
    if answer.abstained or answer.mode != "stated":
        return False
    if not any(c.doc_id in docs for c in answer.citations):
        return False
    want = _digits_or_words(expected)
    return want in _digits_or_words(answer.short_answer or "")
