"""Prompt templates from the ``prompts`` package, rendered strictly, in the question's language."""

from __future__ import annotations

import re
import string
from functools import lru_cache
from importlib.resources import files

LANGUAGES = ("fr", "en")

_FR = set(
    [
        "le",
        "la",
        "les",
        "un",
        "une",
        "des",
        "du",
        "de",
        "et",
        "est",
        "sont",
        "que",
        "qui",
        "quoi",
        "quel",
        "quelle",
        "quels",
        "quelles",
        "combien",
        "comment",
        "pourquoi",
        "quand",
        "où",
        "a-t-il",
        "ont",
        "en",
        "dans",
        "pour",
        "par",
        "sur",
        "avec",
        "au",
        "aux",
        "ce",
        "cette",
        "il",
        "elle",
        "ils",
        "elles",
        "qu",
        "était",
        "été",
        "l",
        "d",
    ]
)
_EN = set(
    [
        "the",
        "a",
        "an",
        "and",
        "is",
        "are",
        "was",
        "were",
        "what",
        "which",
        "who",
        "whom",
        "when",
        "where",
        "why",
        "how",
        "many",
        "much",
        "did",
        "does",
        "do",
        "of",
        "in",
        "on",
        "for",
        "to",
        "by",
        "with",
        "it",
        "its",
        "this",
        "that",
    ]
)


def detect_language(text: str) -> str:
    """'fr' or 'en' from function words (and French accents); French when unsure."""
    words = re.findall(r"[\w-]+", text.lower().replace("’", "'").replace("'", " "))
    fr = sum(w in _FR for w in words) + 2 * len(re.findall(r"[éèêàçùâîôû]", text.lower()))
    en = sum(w in _EN for w in words)
    return "en" if en > fr else "fr"


@lru_cache(maxsize=32)
def template(name: str, language: str) -> str:
    lang = language if language in LANGUAGES else "en"
    path = files("prompts").joinpath(f"{name}.{lang}.txt")
    if not path.is_file():
        raise FileNotFoundError(f"prompt template prompts/{name}.{lang}.txt is missing")
    return path.read_text(encoding="utf-8").removesuffix("\n")


def render(name: str, language: str, **values: object) -> str:
    """Fill ``{placeholders}``; a missing or an unexpected variable is an error."""
    text = template(name, language)
    wanted = {f for _, f, _, _ in string.Formatter().parse(text) if f}
    missing = wanted - values.keys()
    extra = values.keys() - wanted
    if missing or extra:
        raise KeyError(
            f"prompt {name}.{language}: missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
    return text.format(**values)
