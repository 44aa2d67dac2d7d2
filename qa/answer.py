"""From a question to a verified, cited Answer: the ``Answerer``.

1. Retrieve passages (hybrid; a follow-up question borrows the previous one).
2. Weigh the evidence: if no passage really bears on the question, abstain.
3. Pick the passages' sentences that answer best, and the best answer span of them (a
   learned model over spaCy's parse of the French sentences: ``shortanswer``).
4. Ask the generator for a short answer from those sentences, citing [n]; verify it against
   the sentences it was given. Unsupported, uncited, empty or repetitive output is dropped.
5. How sure: the likely answer (the verified generation, else the best span) gets a
   calibrated confidence (``confidence``). Above ``state_above`` it is stated, with its [n],
   then the sentence it comes from quoted as evidence; below, the quote alone is the answer,
   given as the closest passage to read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from ancre.index import analyze, detect_language

from .compose import abstention_text, compose, evidence_lead, incomplete_text, strip_citations
from .generation.llm import Generator, PrefixKeeper
from .generation.prompting import build_prompt, prompt_prefix
from .reading import nlp
from .reading.confidence import confidence, highest_confidence, plainly_fits, signals
from .reading.evidence import Evidence, key_names
from .reading.likelihood import TokenScorer
from .reading.qtype import fits_type
from .reading.sentences import choose_context
from .records import Answer, AnswerStream, Event, Turn, turns
from .retrieval.followup import lacks_context, retrieval_query
from .retrieval.rerank import reread
from .retrieval.search import Filters, Retriever
from .settings import AnswerSettings
from .verify import verify_draft


class Answerer:
    """Answers questions from one retriever with one generator (None: extractive only).

    Thread-safe: retrieval runs in parallel, generation one question at a time. Every
    setting of ``AnswerSettings`` but the generator's identity is a per-call option."""

    def __init__(
        self,
        retriever: Retriever,
        generator: Generator | None = None,
        settings: AnswerSettings | None = None,
    ):
        self.retriever = retriever
        self.generator = generator
        self.settings = settings or AnswerSettings()
        self._generate_lock = threading.Lock()

    def ask(self, question: str, **kwargs) -> Answer:
        """The final Answer; same arguments as ``stream``."""
        return self.stream(question, **kwargs).answer()

    def stream(
        self,
        question: str,
        *,
        history: list | None = None,
        filters: Filters | None = None,
        options: AnswerSettings | None = None,
    ) -> AnswerStream:
        """Events as the answer is made (stages, unverified draft pieces, then the verified
        text), and the final Answer from ``.answer()``. ``history``: the conversation before
        (``Turn``s, or chat message dicts, or (question, answer) pairs). ``options`` replaces
        this answerer's settings for this call (top_k, weights, temperature, threshold...)."""
        s = options or self.settings
        question = " ".join(question.split())
        if not question:
            raise ValueError("the question is empty")
        if len(question) > s.max_question_chars:
            raise ValueError(
                f"the question is {len(question)} characters long; the limit is "
                f"{s.max_question_chars}"
            )
        return AnswerStream(self._run(question, turns(history), filters, s))

    def _run(
        self, question: str, history: list[Turn], filters: Filters | None, s: AnswerSettings
    ) -> Iterator[Event | Answer]:
        t0 = time.perf_counter()
        yield Event("stage", "retrieving")
        lang = detect_language(question)
        retriever = self.retriever
        nlp.preload(retriever.language)  # loads while the question is embedded and searched
        retriever.refresh()
        # a follow-up with no question before it is not searched: it is asked in full
        unclear = lacks_context(question, history)
        searched = retriever.query(retrieval_query(question, history, retriever.language))
        query = searched.text  # in the index's language: translated when the question is not
        passages = []
        if not unclear:
            passages = retriever.search(
                searched,
                s.top_k,
                filters,
                lexical_weight=s.lexical_weight,
                dense_weight=s.dense_weight,
                rerank=s.rerank,
            )
        timings = {"retrieval": time.perf_counter() - t0}
        scorer = self.generator if isinstance(self.generator, TokenScorer) else None
        # where the reranker is unsure, the language model reads the best passages too
        passages, gains, evidence = reread(
            query, passages, retriever, scorer, s.rerank, asked=question
        )
        if gains:
            timings["likelihood"] = time.perf_counter() - t0 - timings["retrieval"]
        models = {"embedding": retriever.embedder.model_id, "llm": "none"}
        answer = Answer(
            text="",
            citations=[],
            passages=passages,
            abstained=False,
            mode="",
            question=question,
            language=lang,
            evidence=evidence.score,
            models=models,
            timings=timings,
        )
        if (
            not evidence.candidates
            or evidence.score < s.abstain_threshold
            or (evidence.score < s.abstain_unfitting_below and not _fitting(question, evidence))
        ):
            answer.abstained, answer.mode = True, "incomplete" if unclear else "abstained"
            answer.text = (
                incomplete_text(lang)
                if unclear
                else abstention_text(lang, passages, evidence.absent)
            )
            timings["first_token"] = timings["total"] = time.perf_counter() - t0
            yield Event("answer", answer.text)
            yield answer
            return
        context = choose_context(question, evidence.candidates)
        generated, backing = "", None
        terms = analyze(query, retriever.language)
        span = evidence.short
        # the confidence's features for stating the best span, as it stands without a draft
        plain = signals(
            question,
            evidence,
            passages,
            span.text if span is not None else "",
            span,
            generated=False,
            language=retriever.language,
            unknown=searched.unknown_share,
        )
        certain = span is not None and evidence.score >= s.span_first_above
        if (
            self.generator is not None
            and not certain
            and (
                s.draft == "always" or _statable(question, terms, searched.unknown_share, plain, s)
            )
        ):
            models["llm"] = self.generator.model_id
            yield Event("stage", "drafting")
            if isinstance(self.generator, PrefixKeeper):
                self.generator.keep_prefix(prompt_prefix(lang))
            draft = []
            with self._generate_lock:
                for piece in self.generator.generate(
                    build_prompt(question, context, lang),
                    s.max_tokens,
                    s.temperature,
                    stop=["\n", "Question"],
                ):
                    if "first_token" not in timings:
                        timings["first_token"] = time.perf_counter() - t0
                    draft.append(piece)
                    yield Event("draft", piece)
            yield Event("stage", "verifying")
            generated, backing = verify_draft(question, "".join(draft), context, retriever.language)
        drafted = bool(generated and backing is not None and fits_type(evidence.q_type, generated))
        if drafted:
            likely, first = strip_citations(generated), backing
        elif span is not None:
            likely, first = span.text, span.sentence
        else:
            likely, first = "", evidence.candidates[0]
        answer.generated, answer.likely_answer = drafted, likely
        if likely:
            answer.signals = (
                signals(
                    question,
                    evidence,
                    passages,
                    likely,
                    span,
                    generated=True,
                    language=retriever.language,
                    unknown=searched.unknown_share,
                )
                if drafted
                else plain
            )
            answer.confidence = confidence(answer.signals)
        stated = likely if _states(answer, s, terms) else ""
        answer.mode = "stated" if stated else "evidence"
        answer.short_answer = stated
        answer.text, answer.citations = compose(
            stated, first, evidence.candidates, retriever.language, lead=evidence_lead(lang)
        )
        timings.setdefault("first_token", time.perf_counter() - t0)
        timings["total"] = time.perf_counter() - t0
        yield Event("answer", answer.text)
        yield answer


def _fitting(question: str, evidence: Evidence) -> bool:
    """Whether the best span is plainly of the kind asked (``confidence.plainly_fits``)."""
    short = evidence.short
    return short is not None and plainly_fits(evidence.q_type, question, short.text, short)


UNKNOWN_WORDS = 0.2
"""Share of a question's content words that the index does not know (even translated) over
which nothing is stated: the passages cannot be about what those words ask ('Combien coûte un
ticket de tramway ?' over articles that never write 'ticket')."""


def _states(answer: Answer, s: AnswerSettings, terms: list[str]) -> bool:
    """Whether the likely answer is stated: confident enough, plainly of the kind asked (a
    span that does not fit is never stated), asked about something the index knows, and
    asked about something at all: a question of one word and no name ('À quelle minute ?'
    with nothing before it) is matched by any passage that shares that word."""
    return (
        _specific(answer.question, terms)
        and answer.signals.get("unknown", 0.0) <= UNKNOWN_WORDS
        and answer.signals.get("fits", 0.0) > 0
        and answer.confidence >= s.state_above
    )


def _specific(question: str, terms: list[str]) -> bool:
    return len(terms) >= 2 or bool(key_names(question))


def _statable(
    question: str, terms: list[str], unknown: float, plain: dict[str, float], s: AnswerSettings
) -> bool:
    """Whether some draft could be stated (``_states`` with the signals a draft changes at
    their best in ``plain``, the best span's: ``confidence.highest_confidence``): where none
    could, the draft would only choose the sentence quoted."""
    if not _specific(question, terms) or unknown > UNKNOWN_WORDS:
        return False
    return highest_confidence(plain) >= s.state_above
