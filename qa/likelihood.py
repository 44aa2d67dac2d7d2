"""Does the passage explain the question? Query likelihood from the generator's language model.

Why: the evidence model's lexical features cannot tell "Qui arrive troisième ?" about an
article that is not indexed from the same question about one that is: both match some
passage as well. A language model can: the question's tokens are more probable after the
passage that it was written on than after an unrelated one. The feature is the pointwise
mutual information of the question and the top passage, the mean gain in log-probability per
question token between "{passage} Question : {question}" and "Question : {question}" (a
zero-shot relevance signal). Measured on PIAF dev (docs/benchmarks.md, issue 9).

Only a generator that can score tokens (``TokenScorer``: llama.cpp in-process) gives it; the
evidence model then is the one fitted with it (``qa/weights/evidence-llm.json``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .prompting import detect_language, render
from .records import Passage


@runtime_checkable
class TokenScorer(Protocol):
    """A language model that gives the log-probabilities of a text's tokens after a
    context. Tests pass a fake."""

    def token_logprobs(self, context: str, text: str) -> list[float]:
        """Natural log-probability of each token of ``text`` when it follows ``context``
        (``text`` is tokenised on its own, so that two contexts score the same tokens)."""
        ...


def question_gain(scorer: TokenScorer, question: str, passage: Passage) -> float:
    """Mean log-probability gain per token of ``question`` given ``passage`` (its title and
    text) over the question alone: above 0 when the passage makes the question likelier."""
    language = detect_language(question)
    text = " " + question
    alone = scorer.token_logprobs(render("likelihood", language, passage="").lstrip(), text)
    given = scorer.token_logprobs(
        render("likelihood", language, passage=f"{passage.title}\n{passage.text}\n\n"), text
    )
    if not alone or len(alone) != len(given):
        return 0.0
    return sum(g - a for g, a in zip(given, alone, strict=True)) / len(alone)
