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

from collections.abc import Iterator, Mapping, Sequence
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
    scorer: TokenScorer, question: str, passage: Passage, gains: Mapping[int, float] | None
) -> float:
    """``question_gain`` of ``passage``, taken from ``gains`` (by chunk id: those
    ``rerank.rerank_by_likelihood`` computed) where it is there, computed otherwise."""
    known = (gains or {}).get(passage.chunk_id)
    return known if known is not None else question_gain(scorer, question, passage)


def question_logprobs(scorer: TokenScorer, question: str, passage: Passage | None) -> list[float]:
    """Log-probability of each token of ``question`` after ``passage`` (its title and text)
    in the likelihood prompt, or after the bare prompt when ``passage`` is None."""
    language = detect_language(question)
    if passage is None:
        return scorer.token_logprobs(
            render("likelihood", language, passage="").lstrip(), " " + question
        )
    return scorer.token_logprobs(
        render("likelihood", language, passage=f"{passage.title}\n{passage.text}\n\n"),
        " " + question,
    )


def gain(given: list[float], alone: list[float]) -> float:
    """The gain of one passage from the question's token log-probabilities after it and
    alone (0 when the scorer scored nothing)."""
    ok = alone and len(alone) == len(given)
    return sum(g - a for g, a in zip(given, alone, strict=True)) if ok else 0.0


def question_gains(scorer: TokenScorer, question: str, passages: Sequence[Passage]) -> list[float]:
    """``question_gain`` of each of ``passages``, the question alone scored once (one pass of
    the model per passage, plus one for the question)."""
    if not passages:
        return []
    alone = question_logprobs(scorer, question, None)
    return [gain(question_logprobs(scorer, question, p), alone) for p in passages]


class Gains(Mapping[int, float]):
    """``question_gain`` by chunk id of passages whose question log-probabilities are
    known (``given``), the question alone scored on the first gain read, once.

    Why: ordering passages needs only the log-probabilities after each (the question alone
    adds the same to every gain), so the reranking leaves that pass to the evidence, which
    reads the top passage's gain only where its plain model is unsure."""

    def __init__(self, scorer: TokenScorer, question: str, given: dict[int, list[float]]):
        self.scorer, self.question, self.given = scorer, question, given
        self._alone: list[float] | None = None

    def __getitem__(self, chunk_id: int) -> float:
        given = self.given[chunk_id]
        if self._alone is None:
            self._alone = question_logprobs(self.scorer, self.question, None)
        return gain(given, self._alone)

    def __iter__(self) -> Iterator[int]:
        return iter(self.given)

    def __len__(self) -> int:
        return len(self.given)
