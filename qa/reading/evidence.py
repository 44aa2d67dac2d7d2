"""Does any retrieved passage bear on the question? A logistic model over evidence features
decides, before any generation, whether ancre answers or abstains.

Features: how much of the question (idf-weighted) the best sentence, the top passage and the
top three cover; the cosine; question words the index has never seen; the rarest question
word missing from the passages; the question's names found in them; the reranker's
probability for the top passage; the short-answer model's score for its best span; and,
when the generator can score tokens (llama.cpp), how much likelier the top passage makes the
question (``likelihood.question_gain``). The weights (``qa/weights/evidence.json``, and
``evidence-llm.json`` with the likelihood) are fitted on PIAF dev's training articles
(answerable questions against unanswerable.jsonl) by ``ancre.qa.measure.calibrate``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from ancre.index import analyze, fold

from ..learned import Model, load_model
from ..records import Passage
from .lexicon import CAPITAL, NAME_IN_SENTENCE, NAME_WORD, YEAR, name_pattern
from .likelihood import TokenScorer, reused_gain
from .qtype import AnswerType, question_type
from .sentences import Candidate, other_years_last, rank_sentences
from .shortanswer import ShortAnswer, best_span


class TermStats(Protocol):
    """What the evidence reads of the index: its language and the statistics of terms
    (a ``Retriever`` is one)."""

    @property
    def language(self) -> str: ...

    def term_stats(self, terms: list[str]) -> tuple[dict[str, float], dict[str, int]]:
        """(idf, chunk frequency) of analysed terms."""
        ...


@dataclass
class Evidence:
    features: dict[str, float]
    score: float
    """Probability that the passages answer the question (0..1)."""
    candidates: list[Candidate] = field(default_factory=list)
    """The passages' sentences, best answer first."""
    short: ShortAnswer | None = None
    """The best answer span of those sentences."""
    q_type: AnswerType = field(default_factory=lambda: AnswerType("other"))
    """The type of answer asked for (``qtype.question_type``)."""
    absent: str = ""
    """A name of several words that the question asks about and that no passage mentions
    ('Tour de France'): the passages cannot answer, so ancre abstains and says so."""


def key_names(question: str) -> list[str]:
    """The names and numbers the question is about ('Lasègue', 'Bellerive-sur-Loire', '2024')."""
    names = [m.group() for m in NAME_IN_SENTENCE.finditer(question)]
    names += [w for w in question.split() if any(c.isdigit() for c in w)]
    return names


CAPITALISED = rf"[{CAPITAL}][\w’'-]*[a-zß-öø-ÿ][\w’'-]*"
"""A capitalised word that is not all capitals (a question typed in capitals names nothing)."""
LONG_NAME = re.compile(name_pattern(CAPITALISED))


def absent_name(question: str, passages: list[Passage]) -> str:
    """The first name of two words or more in ``question`` ('Tour de France', 'Jeffery
    Armherst') none of whose capitalised words the passages write with a capital, or ''.

    Why: a question about something the articles never mention got a quote about something
    else that shared its other words ('Qui a gagné l'étape du Tour de France arrivée à
    Port-Joubert ?' quoted the town's football club); the evidence model weighs words, and
    'tour' and 'France' are common enough elsewhere. Names of one word are left to the
    evidence model: as a rule they cost more answerable questions than they saved (a misspelt
    or differently written name; docs/benchmarks.md, "Evidence and abstention")."""
    seen = {  # 'Tite-Live' is seen for 'Tite Live'
        fold(part)
        for p in passages
        for w in re.findall(NAME_WORD, p.title + " " + p.text)
        for part in (w, *w.split("-"))
    }
    for m in LONG_NAME.finditer(question):
        words = [
            part
            for w in re.findall(CAPITALISED, m.group())
            for part in w.split("-")
            if len(part) >= 3
        ]
        if m.start() == 0:  # a capital that opens the question names nothing by itself
            words = words[1:]
        if len(words) >= 2 and not any(fold(w) in seen for w in words):
            return m.group().split(None, 1)[1] if m.start() == 0 else m.group()
    return ""


def evidence_features(
    question: str,
    passages: list[Passage],
    terms: list[str],
    idf: dict[str, float],
    df: dict[str, int],
    candidates: list[Candidate],
    short: ShortAnswer | None,
    language: str,
) -> dict[str, float]:
    total = sum(idf.values()) or 1.0
    max_idf = max(idf.values()) or 1.0
    top_terms = set(analyze(passages[0].text + " " + passages[0].title, language))
    top3_terms = set(analyze(" ".join(p.text + " " + p.title for p in passages[:3]), language))
    all_terms = set(analyze(" ".join(p.text + " " + p.title for p in passages), language))
    names = [t for n in key_names(question) for t in analyze(n, language)[:1]]
    missing = [idf[t] for t in terms if t not in top3_terms]
    missing_all = [idf[t] for t in terms if t not in all_terms]
    return {
        "sentence_coverage": candidates[0].coverage if candidates else 0.0,
        "passage_coverage": sum(idf[t] for t in terms if t in top_terms) / total,
        "top3_coverage": sum(idf[t] for t in terms if t in top3_terms) / total,
        "dense": max(p.dense_score for p in passages[:3]),
        "unseen": sum(idf[t] for t in terms if df.get(t, 0) == 0) / total,
        "missing_rare": max(missing, default=0.0) / max_idf,
        "missing_rare_all": max(missing_all, default=0.0) / max_idf,
        "names_found": (sum(t in top_terms for t in names) / len(names)) if names else 1.0,
        "names_missing_all": (sum(t not in all_terms for t in names) / len(names))
        if names
        else 0.0,
        "n_terms": min(len(terms), 10) / 10,
        "top_score": passages[0].score,
        "span_score": short.score if short else 0.0,
    }


OWN_WORDS = 2.0
"""A follow-up's own words weigh at least this many times the words of the questions it
follows, all together."""


def follow_up_weights(
    asked: str, searched: str, idf: dict[str, float], language: str
) -> dict[str, float]:
    """The word weights that pick a follow-up's answer: its own words outweigh those of the
    questions before it (``OWN_WORDS``), which only complete its subject ('Et qui a marqué
    l'essai décisif ?' after a question about the score is about the scorer)."""
    if not asked or asked == searched:
        return idf
    own = set(analyze(asked, language))
    mine = sum(w for t, w in idf.items() if t in own)
    theirs = sum(w for t, w in idf.items() if t not in own)
    if not mine or not theirs:
        return idf
    factor = max(1.0, OWN_WORDS * theirs / mine)
    return {t: w * (factor if t in own else 1.0) for t, w in idf.items()}


UNSURE = (0.1, 0.7)
"""The plain model's scores for which the question's likelihood is weighed too. Why: it
costs a pass of the language model over the top passage (about as long as the answer's own
prompt); outside this band the plain model decided as the model with the likelihood did
(docs/benchmarks.md, "Evidence and abstention")."""


def weigh_evidence(
    question: str,
    passages: list[Passage],
    index: TermStats,
    model: Model | None = None,
    *,
    asked: str = "",
    scorer: TokenScorer | None = None,
    gains: Mapping[int, float] | None = None,
) -> Evidence:
    """The evidence the passages give for ``question`` (the searched text: a follow-up with
    the question before it): its sentences ranked, its best span, and the probability that
    they answer it (``model``, else the shipped ``evidence`` model). ``asked``, the question
    as asked, says what type of answer to state. With a ``scorer``, when that probability is
    in ``UNSURE``, the question's likelihood given the top passage is added and the model
    fitted with it (``evidence-llm``) decides; ``gains``, the gains already computed by
    chunk_id (``rerank.rerank_by_likelihood``), are reused."""
    language = index.language
    terms = list(dict.fromkeys(analyze(question, language)))
    q_type = question_type(asked or question, question)
    if not passages or not terms:
        return Evidence({}, 0.0, q_type=q_type)
    # the question as asked: a follow-up is searched with the question before it, whose
    # names need not be in the passages found for this one
    absent = absent_name(asked or question, passages)
    if absent:
        return Evidence({}, 0.0, q_type=q_type, absent=absent)
    idf, df = index.term_stats(terms)
    ranking = follow_up_weights(asked, question, idf, language)
    candidates = rank_sentences(question, passages, ranking, language, asked=asked)
    candidates = other_years_last(
        set(YEAR.findall(asked)) or set(YEAR.findall(question)), candidates
    )
    short = (
        best_span(question, candidates, ranking, language, q_type=q_type) if candidates else None
    )
    features = evidence_features(question, passages, terms, idf, df, candidates, short, language)
    score = float((model or load_model("evidence")).score([features])[0])
    evidence = Evidence(features, score, candidates, short, q_type)
    if scorer is not None and UNSURE[0] <= score < UNSURE[1]:
        return with_likelihood(evidence, question, passages, scorer, gains)
    return evidence


def with_likelihood(
    evidence: Evidence,
    question: str,
    passages: list[Passage],
    scorer: TokenScorer,
    gains: Mapping[int, float] | None = None,
) -> Evidence:
    """``evidence`` scored again by the model fitted with the question's likelihood given
    the top passage (``evidence-llm``), for a plain score in ``UNSURE``; ``gains`` as in
    ``weigh_evidence``."""
    features = {**evidence.features}
    features["question_gain"] = reused_gain(scorer, question, passages[0], gains)
    score = float(load_model("evidence-llm").score([features])[0])
    return replace(evidence, features=features, score=score)
