"""Does the passage explain the question? Query likelihood from the generator's language model.

Why: the evidence model's lexical features cannot tell "Qui arrive troisième ?" about an
article that is not indexed from the same question about one that is: both match some
passage as well. A language model can: the question's tokens are more probable after the
passage that it was written on than after an unrelated one. The feature is the pointwise
mutual information of the question and the top passage: the gain in log-probability of the
question's tokens between "{passage} Question : {question}" and "Question : {question}" (a
zero-shot relevance signal), summed over the tokens (the sum separated better than the mean:
docs/benchmarks.md, "Evidence and abstention").

Only a generator that can score tokens (``TokenScorer``: llama.cpp in-process) gives it; the
evidence model then is the one fitted with it (``qa/weights/evidence-llm.json``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ancre.index import detect_language

from ..records import Passage
from ..templates import render


@runtime_checkable
class TokenScorer(Protocol):
    """A language model that gives the log-probabilities of a text's tokens after a
    context. Tests pass a fake."""

    def token_logprobs(self, context: str, text: str) -> list[float]:
        """Natural log-probability of each token of ``text`` when it follows ``context``
        (``text`` is tokenised on its own, so that two contexts score the same tokens)."""
        ...


def question_gain(scorer: TokenScorer, question: str, passage: Passage) -> float:
    """Log-probability gain of the tokens of ``question`` given ``passage`` (its title and
    text) over the question alone, in nats: above 0 when the passage makes the question
    likelier."""
    return question_gains(scorer, question, [passage])[0]


def reused_gain(
    scorer: TokenScorer, question: str, passage: Passage, gains: dict[int, float] | None
) -> float:
    """``question_gain`` of ``passage``, taken from ``gains`` (by chunk id: those
    ``rerank.rerank_by_likelihood`` computed) where it is there, computed otherwise."""
    known = (gains or {}).get(passage.chunk_id)
    return known if known is not None else question_gain(scorer, question, passage)


def question_gains(scorer: TokenScorer, question: str, passages: Sequence[Passage]) -> list[float]:
    """``question_gain`` of each of ``passages``, the question alone scored once (one pass of
    the model per passage, plus one for the question)."""
    if not passages:
        return []
    language = detect_language(question)
    text = " " + question
    alone = scorer.token_logprobs(render("likelihood", language, passage="").lstrip(), text)
    gains = []
    for passage in passages:
        given = scorer.token_logprobs(
            render("likelihood", language, passage=f"{passage.title}\n{passage.text}\n\n"),
            text,
        )
        ok = alone and len(alone) == len(given)
        gains.append(sum(g - a for g, a in zip(given, alone, strict=True)) if ok else 0.0)
    return gains
