"""Prompt templates from the ``prompts`` package, rendered strictly, in the question's language."""

from __future__ import annotations

import string
from functools import lru_cache
from importlib.resources import files

from ..reading.sentences import Candidate

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


def prompt_prefix(lang: str) -> str:
    """The fixed start of every answer prompt in ``lang`` (instructions and example): the
    generator may keep its state (``LlamaCpp.keep_prefix``)."""
    return next(string.Formatter().parse(template("answer", lang)))[0]


class Prompt(str):
    """A completion prompt that carries the same request as chat ``messages`` too: an
    instruct model's generator sends those through its chat template, any other generator
    reads the text."""

    messages: tuple[dict[str, str], ...]

    def __new__(cls, text: str, messages: tuple[dict[str, str], ...] = ()) -> Prompt:
        prompt = super().__new__(cls, text)
        prompt.messages = messages
        return prompt


def chat_messages(passages: str, question: str, lang: str) -> tuple[dict[str, str], ...]:
    """The request as chat turns: the instructions, the worked example as a first exchange,
    then the passages and the question (``prompts/chat_*``)."""
    return (
        {"role": "system", "content": render("chat_system", lang)},
        {"role": "user", "content": render("chat_example", lang)},
        {"role": "assistant", "content": render("chat_example_answer", lang)},
        {
            "role": "user",
            "content": render("chat_user", lang, passages=passages, question=question),
        },
    )


def build_prompt(question: str, context: list[Candidate], lang: str) -> Prompt:
    """The one-shot prompt: fixed instructions and example first (llama.cpp reuses their
    cache), then the passage's chosen sentences and the question; and the same as chat
    messages."""
    passage = render(
        "passage",
        lang,
        number=context[0].passage.rank,
        text=" ".join(c.sentence.text for c in context),
    )
    return Prompt(
        render("answer", lang, passages=passage, question=question),
        chat_messages(passage, question, lang),
    )
