"""The typed records the read path returns: Passage, Citation, Answer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Passage:
    """One retrieved chunk, with the scores that ranked it."""

    rank: int
    chunk_id: int
    doc_id: str
    title: str
    url: str
    date: str
    text: str
    start: int
    """Character offset of the chunk in its document's text."""
    end: int
    score: float
    """Fused hybrid score (the ranking key)."""
    lexical_score: float = 0.0
    """BM25 score divided by the best BM25 score of the query."""
    dense_score: float = 0.0
    """Cosine similarity of the question and the chunk."""


@dataclass
class Citation:
    """A ``[number]`` of the answer and the passage that backs it."""

    number: int
    doc_id: str
    title: str
    url: str
    date: str
    chunk_id: int
    text: str
    """The cited passage."""
    sentence: str
    """The sentence of the passage that supports the answer."""
    sentence_start: int
    """Offset of ``sentence`` in ``text``."""
    sentence_end: int
    support: float = 0.0
    """How well the answer's sentence is backed by ``sentence`` (0..1)."""


@dataclass
class Answer:
    text: str
    """Markdown with inline ``[n]`` markers."""
    citations: list[Citation]
    passages: list[Passage]
    abstained: bool
    mode: str
    """How the answer was made: 'generated', 'extractive' or 'abstained'."""
    question: str = ""
    language: str = "fr"
    evidence: float = 0.0
    """Evidence score that decided abstention (0..1)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds: 'retrieval', 'first_token', 'total'."""
    models: dict[str, str] = field(default_factory=dict)
    """'embedding' and 'llm' model ids."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
