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
        if name_terms else 1.0,
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
        headline, headline_cites, first = "", [], None
        llm = self.llm
        if llm is not None:
            models["llm"] = llm.model_id
            draft = []
            for piece in llm.generate(build_prompt(question, context, lang),
                                      s.max_tokens, s.temperature,
                                      stop=["\n", "Question"]):
                if first is None:
                    first = time.perf_counter() - t0
                draft.append(piece)
                yield piece
            headline, headline_cites = self._verify(question, "".join(draft), context)
            yield "\n\n"
        answer.mode = "generated" if headline else "extractive"
        answer.text, answer.citations = compose(headline, headline_cites, evidence.candidates,
                                                self.retriever.language)
        timings["first_token"] = first if first is not None else time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t0
        answer.timings = timings
        if llm is None:
            yield answer.text
        yield answer

    def _verify(self, question: str, draft: str, context: list[Candidate]
                ) -> tuple[str, list[Candidate]]:
        """The draft with its citations checked against the sentences the model saw, and
        the candidates it cites; ("", []) when nothing of it stands."""
        text = draft.strip()
        language = self.retriever.language
        if not text or is_repetitive(text):
            return "", []
        seen = {}  # what the model saw under each passage number: its sentences only
        for c in context:
            n = c.passage.rank
            shown = seen[n].text + " " + c.sentence.text if n in seen else c.sentence.text
            seen[n] = replace(c.passage, text=shown)
        checked = check_generated(text, seen, language)
        said = set(analyze(checked.text, language)) - set(analyze(question, language))
        if not checked.text or not said:  # nothing beyond the question's own words
            return "", []
        cited = []
        for _, n, _ in checked.claims:
            c = max((c for c in context if c.passage.rank == n), key=lambda c: c.score)
            cited.append(c)
        return checked.text, cited


def choose_context(question: str, candidates: list[Candidate]) -> list[Candidate]:
    """The best sentences for the model, one of which has the expected type of answer (an
    amount for 'combien a coûté', a date for 'quand'...) when the best ones lack it."""
    context = candidates[:CONTEXT_SENTENCES]
    if all(answer_type_bonus(question, c.sentence.text) < 1.0 for c in context):
        typed = next((c for c in candidates[CONTEXT_SENTENCES:]
                      if answer_type_bonus(question, c.sentence.text) == 1.0), None)
        if typed is not None:
            context = [*context[:-1], typed]
    return context


def build_prompt(question: str, best: list[Candidate], lang: str) -> str:
    parts = [
        render("passage", lang, number=c.passage.rank, text=c.sentence.text).strip() for c in best
    ]
    return render("answer", lang, passages="\n".join(parts), question=question)


def compose(headline: str, headline_cites: list[Candidate], candidates: list[Candidate],
            language: str) -> tuple[str, list[Citation]]:
    """The answer text and its citations: the verified headline, then the evidence quoted
    from one passage: the best sentence, and the passage's next best one, in text order.
    (Quoting a second passage added answers but halved their citation precision on PIAF.)"""
    best = candidates[0]
    quoted = [best, *[c for c in candidates[1:] if c.passage.rank == best.passage.rank][:1]]
    quoted.sort(key=lambda c: c.sentence.start)
    citations: dict[int, Citation] = {}

    def cite(c: Candidate, claim: str) -> None:
        if c.passage.rank not in citations:
            p = c.passage
            citations[p.rank] = Citation(
                number=p.rank, doc_id=p.doc_id, title=p.title, url=p.url, date=p.date,
                chunk_id=p.chunk_id, text=p.text, sentence=c.sentence.text,
                sentence_start=c.sentence.start, sentence_end=c.sentence.end,
                support=round(support(claim, c.sentence.text, language), 3),
            )

    lines = []
    if headline:
        lines.append(headline)
        for c in headline_cites:
            cite(c, headline)
    gap = " … " if len(quoted) > 1 and not _adjacent(quoted[0], quoted[1]) else " "
    quote = gap.join(c.sentence.text for c in quoted)
    lines.append(f"> « {quote} » [{best.passage.rank}]")
    cite(best, best.sentence.text)
    return "\n\n".join(lines), sorted(citations.values(), key=lambda c: c.number)


def _adjacent(a: Candidate, b: Candidate) -> bool:
    return not a.passage.text[a.sentence.end : b.sentence.start].strip()


def abstention_text(lang: str, passages: list[Passage]) -> str:
    text = render("abstain", lang)
    closest = list(dict.fromkeys(
        (p.title or p.doc_id) + (f" ({p.date})" if p.date else "") for p in passages))[:3]
    if closest:
        head = "Passages les plus proches :" if lang == "fr" else "Closest passages:"
        text += "\n\n" + head + "\n" + "\n".join(f"- {c}" for c in closest)
    return text


# ---- module-level API: one QA per index and models, reused across calls

# Settings that make a different QA (loaded index and models); the others are read per call.
QA_KEY = ("index_dir", "embed_model", "embed_backend", "cache_dir", "llm", "llm_model_name",
          "n_ctx", "n_threads")
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
    yield from get_qa(s).stream(question, history=history, top_k=top_k, filters=filters,
                                settings=s)


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
