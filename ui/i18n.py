"""The page's language: French or English, one per page.

The fixed texts live in ``prompts/ui.<lang>.txt`` (``key = text`` lines, ``{name}``
placeholders filled strictly). The page's language is chosen from an ``ancre_lang`` cookie
(the page's switch sets it), else from the browser's ``Accept-Language``; French when
neither says French or English.
"""

from __future__ import annotations

import re
import string
from datetime import datetime
from functools import lru_cache
from importlib.resources import files

LANGUAGES = ("fr", "en")
DEFAULT = "fr"
COOKIE = "ancre_lang"
MONTHS = {
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "en": "January February March April May June July August September October November December",
}


@lru_cache(maxsize=4)
def table(lang: str) -> dict[str, str]:
    """All the texts of ``lang`` (a ``KeyError`` for an unknown language)."""
    if lang not in LANGUAGES:
        raise KeyError(f"no texts for language {lang!r}")
    raw = files("ancre.prompts").joinpath(f"ui.{lang}.txt").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        key, sep, value = line.partition(" = ")
        if not sep or not key.strip():
            raise ValueError(f"prompts/ui.{lang}.txt line {n}: expected 'key = text'")
        out[key.strip()] = value.strip()
    return out


def t(lang: str, key: str, **values: object) -> str:
    """The text ``key`` in ``lang`` with its ``{placeholders}`` filled; a missing or an
    unexpected value is an error (as for the prompts)."""
    text = table(lang if lang in LANGUAGES else DEFAULT)[key]
    wanted = {f for _, f, _, _ in string.Formatter().parse(text) if f}
    if wanted != set(values):
        raise KeyError(f"ui.{lang}.txt {key}: expects {sorted(wanted)}, got {sorted(values)}")
    return text.format(**values) if wanted else text


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The page's language: the cookie's if valid, else the first of French or English in
    ``Accept-Language``, else French."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag[:2] in LANGUAGES:
            return tag[:2]
    return DEFAULT


def number(value: float, lang: str, digits: int = 1) -> str:
    """``2,6`` in French, ``2.6`` in English."""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "fr" else text


def count(value: int, lang: str) -> str:
    """``12 000`` in French (narrow no-break space), ``12,000`` in English."""
    text = f"{value:,}"
    return text.replace(",", "\u202f") if lang == "fr" else text


def counted(value: int, noun: str, lang: str) -> str:
    """``1 passage``, ``12 passages``: the ``{noun}_one`` or ``{noun}_many`` text of ``lang``
    with the number written as ``count`` writes it."""
    return t(lang, f"{noun}_one" if value == 1 else f"{noun}_many", n=count(value, lang))


def date(value: str, lang: str) -> str:
    """``2025-06-18`` (or an ISO timestamp) as ``18 juin 2025`` / ``June 18, 2025``; other
    text is returned as is."""
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})", value or "")
    if not m:
        return value or ""
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not 1 <= month <= 12:
        return value
    name = MONTHS[lang if lang in MONTHS else DEFAULT].split()[month - 1]
    return f"{day} {name} {year}" if lang == "fr" else f"{name} {day}, {year}"


def timestamp(seconds: float, lang: str) -> str:
    """A Unix time as a date (``18 juin 2025``)."""
    return date(datetime.fromtimestamp(seconds).strftime("%Y-%m-%d"), lang)
