"""The generator's prompts: the answer prompt (one-shot text and the same as chat turns) and
its fixed start, which llama.cpp keeps in its cache."""

from __future__ import annotations

import string

from ..reading.sentences import Candidate
from ..templates import render, template


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
