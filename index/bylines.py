"""The date an article gives in its own text: a byline or a dateline near its top or end
(« Publié le 12 mars 2025 », « Par Anne Roy, le 3 avril 2025 », "Published March 12, 2025"),
for the .txt and .md articles that have no ``date:`` line. The words that open a byline are
data, one tuple per language (``CUES``); the date itself is read by ``dateparser``."""

from __future__ import annotations

import re

CUES = {
    "fr": ("publié", "publiée", "mis en ligne", "mis à jour", "modifié", "actualisé", "par"),
    "en": ("published", "posted", "updated", "last updated", "by"),
}
"""Words that open a line giving the article's date, by language (``dateparser``'s codes)."""
BY = {"par", "by"}
"""Cues that open a byline only before a name (« Par Anne Roy », not « Par ailleurs »)."""
ORDER = {"fr": "DMY", "en": "MDY"}
"""How each language writes a numeric date (12/03/2025)."""
LINES = (5, 2)
"""Non-empty lines searched at the top of the text, and at its end."""
LONGEST = 160
"""Longer lines are sentences of the article, not bylines."""

WORD = r"[^\W\d_]{3,}\.?"
DATE = re.compile(
    rf"\b(\d{{1,2}}(?:er|st|nd|rd|th)?\s+{WORD},?\s+\d{{4}}"
    rf"|{WORD}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}"
    r"|\d{1,2}[/.]\d{1,2}[/.]\d{4})\b"
)
"""A written date: day month year, month day year, ISO, or numeric."""


def _cue(line: str) -> str | None:
    """The language of the byline cue ``line`` opens with, if it opens with one."""
    head = line.lstrip(" *_-—–>«\"'")
    for language, words in CUES.items():
        for word in words:
            if not head.casefold().startswith(word) or head[len(word) : len(word) + 1].isalnum():
                continue
            if word not in BY or head[len(word) :].lstrip()[:1].isupper():
                return language
    return None


def byline_date(text: str) -> str:
    """``YYYY-MM-DD`` of the first byline or date-only line among the first and last
    lines of ``text``; "" when there is none (a date in the article's sentences is an
    event, not the article's date)."""
    lines = [x.strip() for x in text.split("\n") if x.strip()]
    top, end = LINES
    for line in lines[:top] + lines[top:][-end:]:
        if len(line) > LONGEST:
            continue
        m = DATE.search(line)
        if m is None:
            continue
        language = _cue(line)
        alone = not (line[: m.start()] + line[m.end() :]).strip(" ,.;:()-—–*_")
        if language is None and not alone:
            continue
        found = _parse(m.group(1), [language] if language else list(CUES))
        if found:
            return found
    return ""


def _parse(written: str, languages: list[str]) -> str:
    import dateparser

    for language in languages:
        when = dateparser.parse(
            written,
            languages=[language],
            settings={"DATE_ORDER": ORDER[language], "REQUIRE_PARTS": ["day", "month", "year"]},
        )
        if when is not None:
            return when.date().isoformat()
    return ""
