"""The read path's settings: every field is a per-call option of ``ask()`` except ``llm``
and the llama.cpp sizes, which pick the generator that is loaded (and cached)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ancre.index import from_env

ChatMode = Literal["auto", "chat", "completion"]
DraftMode = Literal["always", "statable"]


@dataclass(frozen=True)
class AnswerSettings:
    top_k: int = 5
    """Passages retrieved for an answer."""
    lexical_weight: float = 1.0
    """Weight of the max-normalised BM25 score in the hybrid fusion."""
    dense_weight: float = 1.0
    """Weight of the cosine similarity in the hybrid fusion."""
    rerank: bool = True
    """Reorder the fused candidates with the learned reranker (``qa/retrieval/rerank.py``)."""
    llm: str = "gemma"
    """Generator: 'gemma' (Gemma 3 270M, bundled), 'smollm2' (SmolLM2-135M-Instruct, bundled),
    'none' (extractive answers only), a .gguf path, 'hf:REPO/FILE.gguf' (needs network),
    or 'openai:http://host:port/v1' for an OpenAI-compatible server."""
    llm_model_name: str = ""
    """Model name sent to an OpenAI-compatible server (its default when empty)."""
    llm_chat: ChatMode = "auto"
    """How the generator is prompted: 'chat' through the model's chat template (a GGUF's
    ``tokenizer.chat_template``, a server's ``/chat/completions``), 'completion' with the
    plain prompt, 'auto' chat where the model has a template (a server: probed, chat unless
    it refuses chat requests)."""
    temperature: float = 0.0
    max_tokens: int = 48
    n_ctx: int = 2048
    n_threads: int = 0
    """llama.cpp threads; 0 = all cores (they wait for each other passively: see
    ``ancre.index.native``)."""
    llm_embedding_type: str = ""
    """Store a llama.cpp model's token-embedding (and tied output) matrix as this type
    ('q4_0', 'q5_0', 'q8_0'), converted once into the cache; empty keeps the file's own.
    Off by default: the smaller matrix lost more answers than the little speed it bought
    (docs/benchmarks.md, "Answer settings")."""
    abstain_threshold: float = 0.28
    """Evidence score under which ancre says the articles don't tell: the score at 10% false
    abstention on the training articles (``qa/weights/evidence.json``)."""
    span_first_above: float = 0.85
    """Evidence score from which the best span is stated without asking the generator (1.0 or
    more: always ask it). Where the evidence is that strong the span was at least as often
    right as Gemma's short answer, and the answer comes without waiting for the model
    (docs/benchmarks.md, "Answer settings")."""
    draft: DraftMode = "statable"
    """When the generator drafts a short answer (below ``span_first_above``): 'statable',
    only where some draft could be stated (``confidence.highest_confidence`` reaches
    ``state_above``; elsewhere the best span's sentence is quoted without waiting for the
    model), or 'always' (docs/benchmarks.md, "The warm answer path")."""
    abstain_unfitting_below: float = 0.35
    """Evidence score under which ancre also abstains when no span of the passages is of the
    kind asked (a date for 'quand', a name for 'qui'...): weak evidence and nothing that could
    answer (docs/benchmarks.md, "Stated answers")."""
    state_above: float = 0.65
    """Confidence (``qa/reading/confidence.py``) from which the short answer is stated in
    bold; below it the closest passage is given to read. Chosen on the training articles for
    a precision of stated answers of 0.80 (``ancre eval --fit-confidence``;
    docs/benchmarks.md, "Stated answers")."""
    max_question_chars: int = 1000

    @classmethod
    def from_env(cls, **overrides: Any) -> AnswerSettings:
        return from_env(cls, **overrides)
