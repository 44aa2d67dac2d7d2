"""Prompt and reply templates, files of the ``prompts`` package, rendered strictly in the
question's language: the generator's prompts, the translation prompt of cross-lingual search,
the likelihood prompt of the reranker and the evidence, and the answer's fixed texts."""

from __future__ import annotations

import string
from functools import lru_cache
from importlib.resources import files

LANGUAGES = ("fr", "en")


@lru_cache(maxsize=32)
def template(name: str, language: str) -> str:
    lang = language if language in LANGUAGES else "en"
    path = files("ancre.prompts").joinpath(f"{name}.{lang}.txt")
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
