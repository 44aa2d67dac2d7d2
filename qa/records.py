"""The typed records the read path takes and returns: Turn (conversation history), Passage,
Citation, Answer, and the stream of Events that leads to an Answer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ancre.index.nearcopies import Alternate

if TYPE_CHECKING:
    from ancre.index import ChunkRow

Role = Literal["user", "assistant", ""]


@dataclass(frozen=True)
class Turn:
    """One message of the conversation before a question."""

    role: Role
    """'user' for a question asked before; '' when the caller did not say."""
    text: str

    @classmethod
    def of(cls, turn: Turn | dict | tuple | list | str) -> Turn:
        """``turn`` as a Turn: a chat message dict (``{"role", "content"}``), a (question,
        answer) pair as Gradio gives it (a question asked), or a bare text (no role)."""
        if isinstance(turn, Turn):
            return turn
        if isinstance(turn, dict):
            content = turn.get("content", "")
            role = turn.get("role", "")
            return cls(
                role if role in ("user", "assistant") else "",
                content if isinstance(content, str) else str(content),
            )
        if isinstance(turn, (tuple, list)):
            return cls("user", str(turn[0]))
        return cls("", str(turn))


def turns(history: list | None) -> list[Turn]:
    """The conversation ``history`` as Turns (``Turn.of`` each), once, at the public boundary."""
    return [Turn.of(t) for t in history or []]


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
    """The ranking key: the reranker's probability that the passage answers (the fused
    hybrid score when reranking is off)."""
    lexical_score: float = 0.0
    """BM25 score divided by the best BM25 score of the query."""
    dense_score: float = 0.0
    """Cosine similarity of the question and the chunk."""
    also: list[Alternate] = field(default_factory=list)
    """The same story published elsewhere (near-copies not indexed, ``nearcopies``)."""

    @classmethod
    def of(
        cls, row: ChunkRow, rank: int, score: float, lexical_score: float, dense_score: float
    ) -> Passage:
        """The passage of a stored chunk ``row``, ranked ``rank`` with these scores."""
        return cls(
            rank=rank,
            chunk_id=row.chunk_id,
            doc_id=row.doc_id,
            title=row.title,
            url=row.url,
            date=row.date,
            text=row.text,
            start=row.start,
            end=row.end,
            score=float(score),
            lexical_score=float(lexical_score),
            dense_score=float(dense_score),
        )


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
    also: list[Alternate] = field(default_factory=list)
    """The same story published elsewhere ("aussi publié par ...")."""

    @classmethod
    def of(cls, passage: Passage, sentence: Located, support: float = 0.0) -> Citation:
        """The citation of ``passage`` by its ``sentence`` (offsets in the passage's text)."""
        return cls(
            number=passage.rank,
            doc_id=passage.doc_id,
            title=passage.title,
            url=passage.url,
            date=passage.date,
            chunk_id=passage.chunk_id,
            text=passage.text,
            sentence=sentence.text,
            sentence_start=sentence.start,
            sentence_end=sentence.end,
            support=support,
            also=list(passage.also),
        )


class Located(Protocol):
    """A piece of a passage's text and its offsets (``reading.sentences.Sentence``)."""

    text: str
    start: int
    end: int


Mode = Literal["stated", "evidence", "abstained", "incomplete"]
"""How an answer is given: 'stated' (a short answer ancre is confident of, in bold, then its
quote), 'evidence' (no short answer: the closest passage, quoted, to read), 'abstained' (the
articles don't tell), 'incomplete' (also abstained: a follow-up asked with no question before
it, to ask in full)."""


@dataclass
class Answer:
    text: str
    """Markdown with inline ``[n]`` markers."""
    citations: list[Citation]
    passages: list[Passage]
    abstained: bool
    mode: Mode
    short_answer: str = ""
    """The answer stated in a few words, without its citation; empty unless ``mode`` is
    'stated' (``text`` then begins with it)."""
    likely_answer: str = ""
    """The words of the quote that most likely answer (the short answer when stated; in an
    'evidence' answer, what a reader should look at, not a claim)."""
    confidence: float = 0.0
    """Estimated probability that ``likely_answer`` is right (0..1;
    ``qa/reading/confidence.py``)."""
    generated: bool = False
    """The likely answer is the generator's verified draft (else a span of the passage)."""
    signals: dict[str, float] = field(default_factory=dict)
    """What ``confidence`` was estimated from (the confidence model's features)."""
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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        """The Answer that ``to_dict`` gave ``data`` (an answer sent by another process)."""

        def alternates(record: dict[str, Any]) -> dict[str, Any]:
            return {**record, "also": [Alternate(**a) for a in record.get("also", [])]}

        return cls(
            **{
                **data,
                "citations": [Citation(**alternates(c)) for c in data["citations"]],
                "passages": [Passage(**alternates(p)) for p in data["passages"]],
            }
        )


Stage = Literal["retrieving", "drafting", "verifying"]


@dataclass(frozen=True)
class Event:
    """One step of an answer in the making.

    - ``stage``: work started (``text`` is the stage name: retrieving, drafting, verifying);
    - ``draft``: a piece of the model's unverified draft (never to be shown as the answer);
    - ``answer``: the verified answer's text, in full (the last event).
    """

    kind: Literal["stage", "draft", "answer"]
    text: str


class AnswerStream:
    """Iterate it for the Events as they come; ``answer()`` gives the final Answer (and runs
    the rest of the stream if it was not consumed)."""

    def __init__(self, parts: Iterable[Event | Answer]):
        self._parts = iter(parts)
        self._answer: Answer | None = None

    def __iter__(self) -> Iterator[Event]:
        for part in self._parts:
            if isinstance(part, Answer):
                self._answer = part
            else:
                yield part

    def close(self) -> None:
        """Stop making the answer: the generator is released at once (a caller that gives
        up half-way, like the web chat's Stop, calls it)."""
        close = getattr(self._parts, "close", None)
        if close is not None:
            close()

    def answer(self) -> Answer:
        for _ in self:
            pass
        if self._answer is None:
            raise RuntimeError("the answer stream ended without an answer")
        return self._answer
