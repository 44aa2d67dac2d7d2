"""From a question to a verified, cited Answer.

1. Retrieve passages (hybrid; a follow-up question borrows the previous one).
2. Weigh the evidence: if no passage really bears on the question, abstain.
3. Pick the passages' sentences that answer best (extractive candidates).
4. Ask the LLM for a short answer from those sentences, citing [n]; verify every sentence
   against the passage it cites. Unsupported, uncited, empty or repetitive output is dropped.
5. The answer: the verified short answer (if any) and the best sentence quoted as evidence,
   each with its citation. Without a verified generation the answer is extractive.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from index.config import Settings
from index.lexical import analyze

from .llm import load_llm
from .prompting import detect_language, render
from .records import Answer, Citation, Passage
from .retrieve import Filters, Retriever, retrieval_query
from .verify import (
    Candidate,
    answer_type_bonus,
    check_generated,
    is_repetitive,
    rank_sentences,
    support,
)

log = logging.getLogger(__name__)

# Abstention: logistic model over evidence features, fitted on PIAF dev (answerable questions
# against unanswerable.jsonl) with `ancre eval --calibrate`; see docs/benchmarks.md.
EVIDENCE_WEIGHTS = {
    "sentence_coverage": 1.377,
    "passage_coverage": 4.263,
    "top3_coverage": 0.546,
    "dense": 2.991,
    "unseen": -0.87,
    "missing_rare": 0.018,
    "names_found": 0.992,
    "n_terms": 1.737,
}
EVIDENCE_BIAS = -6.586
NAME = re.compile(r"(?<!^)(?<![.!?] )\b[A-ZÉÈÀÂÎÔÇ][\w’'-]+")
CONTEXT_SENTENCES = 3
"""Sentences shown to the LLM (tiny models lose their way in long contexts)."""
BACKING_MIN = 0.9
"""A generated answer must rest on a sentence scoring at least this share of the best one."""


@dataclass
class Evidence:
    features: dict[str, float]
    score: float
    candidates: list[Candidate] = field(default_factory=list)


def weigh_evidence(
    question: str,
    passages: list[Passage],
    retriever: Retriever,
    weights: dict[str, float] | None = None,
    bias: float | None = None,
) -> Evidence:
    language = retriever.language
    terms = list(dict.fromkeys(analyze(question, language)))
    reader = retriever.reader
    idf = reader.idf(terms)
    if not passages or not terms:
        return Evidence({}, 0.0)
    df = reader.doc_freq(terms)
    total = sum(idf.values()) or 1.0
    max_idf = max(idf.values()) or 1.0
    candidates = rank_sentences(question, passages, idf, language)
    top_terms = set(analyze(passages[0].text + " " + passages[0].title, language))
    top3_terms = set(analyze(" ".join(p.text + " " + p.title for p in passages[:3]), language))
    names = [analyze(w, language) for w in NAME.findall(question)[0:]]
    name_terms = [t[0] for t in names if t]
    missing = [idf[t] for t in terms if t not in top3_terms]
    features = {
        "sentence_coverage": candidates[0].coverage if candidates else 0.0,
        "passage_coverage": sum(idf[t] for t in terms if t in top_terms) / total,
        "top3_coverage": sum(idf[t] for t in terms if t in top3_terms) / total,
        "dense": max(p.dense_score for p in passages[:3]),
        "unseen": sum(idf[t] for t in terms if df.get(t, 0) == 0) / total,
        "missing_rare": max(missing, default=0.0) / max_idf,
        "names_found": (sum(t in top_terms for t in name_terms) / len(name_terms))
        if name_terms
        else 1.0,
        "n_terms": min(len(terms), 10) / 10,
    }
    w = EVIDENCE_WEIGHTS if weights is None else weights
    b = EVIDENCE_BIAS if bias is None else bias
    z = b + sum(w.get(k, 0.0) * v for k, v in features.items())
    return Evidence(features, 1.0 / (1.0 + math.exp(-z)), candidates)


class QA:
    """A question answerer bound to one index and one generator. Thread-safe: retrieval
    runs in parallel, generation one at a time."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.retriever = Retriever(settings)
        self._llm = None
        self._llm_lock = threading.Lock()

    @property
    def llm(self):
        with self._llm_lock:
            if self._llm is None and self.settings.llm not in ("", "none"):
                self._llm = load_llm(self.settings)
        return self._llm

    def stream(
        self,
        question: str,
        history: list | None = None,
        top_k: int | None = None,
        filters: Filters | None = None,
        settings: Settings | None = None,
    ) -> Iterator[str | Answer]:
        """Text pieces as they come, then the Answer. ``settings`` overrides the per-call
        settings (top_k, temperature, max_tokens, abstain_threshold...) of this QA's."""
        s = settings or self.settings
        t0 = time.perf_counter()
        question = " ".join(question.split())
        if not question:
            raise ValueError("the question is empty")
        if len(question) > s.max_question_chars:
            raise ValueError(
                f"the question is {len(question)} characters long; the limit is "
                f"{s.max_question_chars} (ANCRE_MAX_QUESTION_CHARS)"
            )
        lang = detect_language(question)
        self.retriever.refresh()
        query = retrieval_query(question, history, self.retriever.language)
        passages = self.retriever.search(query, top_k or s.top_k, filters)
        t_retrieval = time.perf_counter() - t0
        evidence = weigh_evidence(query, passages, self.retriever)
        models = {"embedding": self.retriever.embedder.model_id, "llm": s.llm}
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
        )
        timings = {"retrieval": t_retrieval}
        if not evidence.candidates or evidence.score < s.abstain_threshold:
            answer.abstained, answer.mode = True, "abstained"
            answer.text = abstention_text(lang, passages)
            timings["first_token"] = timings["total"] = time.perf_counter() - t0
            answer.timings = timings
            yield answer.text
            yield answer
            return
        context = choose_context(question, evidence.candidates)
        headline, backing, first = "", None, None
        llm = self.llm
        if llm is not None:
            models["llm"] = llm.model_id
            draft = []
            for piece in llm.generate(
                build_prompt(question, context, lang),
                s.max_tokens,
                s.temperature,
                stop=["\n", "Question"],
            ):
                if first is None:
                    first = time.perf_counter() - t0
                draft.append(piece)
                yield piece
            headline, backing = self._verify(question, "".join(draft), context)
            yield "\n\n"
        answer.mode = "generated" if headline else "extractive"
        answer.text, answer.citations = compose(
            headline, backing, evidence.candidates, self.retriever.language
        )
        timings["first_token"] = first if first is not None else time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t0
        answer.timings = timings
        if llm is None:
            yield answer.text
        yield answer

    def _verify(
        self, question: str, draft: str, context: list[Candidate]
    ) -> tuple[str, Candidate | None]:
        """The draft checked against the sentences the model saw, and the sentence that backs
        it; ("", None) when nothing of it stands."""
        text = draft.strip()
        language = self.retriever.language
        if not text or is_repetitive(text):
            return "", None
        passage = context[0].passage
        shown = replace(passage, text=" ".join(c.sentence.text for c in context))
        checked = check_generated(text, {passage.rank: shown}, language)
        said = set(analyze(checked.text, language)) - set(analyze(question, language))
        if not checked.text or not said:  # nothing beyond the question's own words
            return "", None
        claims = " ".join(claim for claim, _, _ in checked.claims)
        backing = max(context, key=lambda c: support(claims, c.sentence.text, language))
        if backing.score < BACKING_MIN * max(c.score for c in context):
            return "", None  # the model answered from a sentence that answers less well
        return checked.text, backing


def choose_context(question: str, candidates: list[Candidate]) -> list[Candidate]:
    """What the model reads: the best sentences of the best sentence's passage (one passage,
    so that the answer and its quote cite the same source), in text order; one of them has
    the expected type of answer (an amount for 'combien a coûté', a date for 'quand'...)
    when the passage has one."""
    rank = candidates[0].passage.rank
    same = [c for c in candidates if c.passage.rank == rank]
    context = same[:CONTEXT_SENTENCES]
    if all(answer_type_bonus(question, c.sentence.text) < 1.0 for c in context):
        typed = next(
            (
                c
                for c in same[CONTEXT_SENTENCES:]
                if answer_type_bonus(question, c.sentence.text) == 1.0
            ),
            None,
        )
        if typed is not None:
            context = [*context[:-1], typed]
    return sorted(context, key=lambda c: c.sentence.start)


def build_prompt(question: str, context: list[Candidate], lang: str) -> str:
    """The one-shot prompt: fixed instructions and example first (llama.cpp reuses their
    cache), then the passage's chosen sentences and the question."""
    passage = render(
        "passage",
        lang,
        number=context[0].passage.rank,
        text=" ".join(c.sentence.text for c in context),
    )
    return render("answer", lang, passages=passage, question=question)


def compose(
    headline: str, backing: Candidate | None, candidates: list[Candidate], language: str
) -> tuple[str, list[Citation]]:
    """The answer text and its one citation: the verified headline, then the evidence quoted
    from the best passage: the sentence that backs the headline (else the best sentence) and
    the passage's next best one, in text order. Quoting a second passage added answers but
    lowered citation precision on PIAF from 0.74 to 0.59; so did citing the passage the
    model preferred over the best one."""
    first = backing or candidates[0]
    other = next(
        (c for c in candidates if c.passage.rank == first.passage.rank and c is not first), None
    )
    quoted = sorted([first, *([other] if other else [])], key=lambda c: c.sentence.start)
    gap = " … " if len(quoted) > 1 and not _adjacent(quoted[0], quoted[1]) else " "
    p = first.passage
    citation = Citation(
        number=p.rank,
        doc_id=p.doc_id,
        title=p.title,
        url=p.url,
        date=p.date,
        chunk_id=p.chunk_id,
        text=p.text,
        sentence=first.sentence.text,
        sentence_start=first.sentence.start,
        sentence_end=first.sentence.end,
        support=round(support(headline or first.sentence.text, first.sentence.text, language), 3),
    )
    quote = f"> « {gap.join(c.sentence.text for c in quoted)} » [{p.rank}]"
    return (f"{headline}\n\n{quote}" if headline else quote), [citation]


def _adjacent(a: Candidate, b: Candidate) -> bool:
    return not a.passage.text[a.sentence.end : b.sentence.start].strip()


def abstention_text(lang: str, passages: list[Passage]) -> str:
    text = render("abstain", lang)
    closest = list(
        dict.fromkeys((p.title or p.doc_id) + (f" ({p.date})" if p.date else "") for p in passages)
    )[:3]
    if closest:
        head = "Passages les plus proches :" if lang == "fr" else "Closest passages:"
        text += "\n\n" + head + "\n" + "\n".join(f"- {c}" for c in closest)
    return text


# ---- module-level API: one QA per index and models, reused across calls

# Settings that make a different QA (loaded index and models); the others are read per call.
QA_KEY = (
    "index_dir",
    "embed_model",
    "embed_backend",
    "cache_dir",
    "llm",
    "llm_model_name",
    "n_ctx",
    "n_threads",
)
_instances: dict[tuple, QA] = {}
_instances_lock = threading.Lock()


def get_qa(settings: Settings) -> QA:
    key = tuple(getattr(settings, k) for k in QA_KEY)
    with _instances_lock:
        qa = _instances.get(key)
        if qa is None:
            qa = _instances[key] = QA(settings)
        return qa


def _settings(index_dir: str | Path | None, settings: Settings | None, **overrides) -> Settings:
    """A copy: the caller's settings (shared by a web server's sessions) stay untouched."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    if index_dir is not None:
        changes["index_dir"] = str(Path(index_dir).expanduser())
    return replace(settings or Settings.from_env(), **changes)


def ask_stream(
    question: str,
    *,
    index_dir: str | Path | None = None,
    history: list | None = None,
    top_k: int | None = None,
    filters: Filters | None = None,
    settings: Settings | None = None,
    llm: str | None = None,
    temperature: float | None = None,
) -> Iterator[str | Answer]:
    """Yield text pieces as they are produced, then the final ``Answer``."""
    s = _settings(index_dir, settings, llm=llm, temperature=temperature)
    yield from get_qa(s).stream(question, history=history, top_k=top_k, filters=filters, settings=s)


def ask(
    question: str,
    *,
    index_dir: str | Path | None = None,
    history: list | None = None,
    top_k: int | None = None,
    filters: Filters | None = None,
    settings: Settings | None = None,
    llm: str | None = None,
    temperature: float | None = None,
    stream: bool = False,
):
    """Answer ``question`` from the index. ``stream=True`` returns the iterator of
    ``ask_stream`` instead of the Answer."""
    parts = ask_stream(
        question,
        index_dir=index_dir,
        history=history,
        top_k=top_k,
        filters=filters,
        settings=settings,
        llm=llm,
        temperature=temperature,
    )
    if stream:
        return parts
    answer = None
    for part in parts:
        if isinstance(part, Answer):
            answer = part
    assert answer is not None
    return answer
