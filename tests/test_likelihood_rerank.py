"""Zero-shot reranking by the question's likelihood (``rerank.rerank_by_likelihood``) with a
fake token scorer: which passages are scored, how they are reordered, and that the
evidence model reuses the gains."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ancre.index import IndexSettings
from ancre.qa import open_retriever
from ancre.qa.learned import Model
from ancre.qa.reading.evidence import weigh_evidence
from ancre.qa.reading.likelihood import question_gains
from ancre.qa.retrieval.rerank import (
    LLM_FEATURES,
    likelihood_rows,
    rerank_by_likelihood,
    reranker_unsure,
)
from conftest import HashEmbedder, make_passage

QUESTION = "Quand le tramway ouvrira-t-il ?"


class KeywordScorer:
    """Each question token gets ``given`` when the context holds ``keyword``, else -5;
    remembers the contexts it scored."""

    def __init__(self, keyword: str = "tramway", given: float = -1.0):
        self.keyword, self.given = keyword, given
        self.contexts: list[str] = []

    def token_logprobs(self, context: str, text: str) -> list[float]:
        self.contexts.append(context)
        return [self.given if self.keyword in context else -5.0] * len(text.split())


def by_gain(weight: float = 1.0) -> Model:
    """A ``rerank-llm`` model that weighs the reranker's log-odds 1 and the gain gap
    ``weight``."""
    n = len(LLM_FEATURES)
    weights = np.array([1.0 if f == "rerank_logit" else weight for f in LLM_FEATURES])
    return Model("rerank-llm", "logistic", LLM_FEATURES, np.zeros(n), np.ones(n), weights, 0.0)


def passages(*scores: float, answering: int = 2) -> list:
    """Passages ranked by the reranker with ``scores``; the one at 0-based index
    ``answering`` is about the tramway."""
    texts = ["La mairie a voté le budget.", "Le marché ouvre le dimanche.", "Le pont est fermé."]
    texts += [f"Autre passage {i}." for i in range(len(scores))]
    texts[answering] = "Le tramway ouvrira en septembre."
    return [
        make_passage(texts[i], rank=i + 1, score=s, chunk_id=100 + i) for i, s in enumerate(scores)
    ]


def test_the_question_alone_is_scored_once_for_all_passages():
    scorer = KeywordScorer()
    found = passages(0.5, 0.4, 0.3)
    gains = question_gains(scorer, QUESTION, found)
    words = len(QUESTION.split())
    assert gains == pytest.approx([0.0, 0.0, 4.0 * words])
    assert len(scorer.contexts) == 1 + len(found)
    assert sum(c == "Question :" for c in scorer.contexts) == 1
    assert question_gains(scorer, QUESTION, []) == []


def test_rows_compare_each_gain_with_the_best_of_the_question():
    found = passages(0.5, 0.5, 0.5)
    rows = likelihood_rows(found, [3.0, 5.0, -1.0])
    assert [r["gain_gap"] for r in rows] == [-2.0, 0.0, -6.0]
    assert all(r["rerank_logit"] == pytest.approx(0.0) for r in rows)


def test_an_unsure_reranker_is_reordered_by_the_likelihood():
    scorer = KeywordScorer()
    found = passages(0.5, 0.45, 0.4, 0.1)
    ranked, gains = rerank_by_likelihood(QUESTION, found, scorer, model=by_gain())
    assert [p.chunk_id for p in ranked] == [102, 100, 101, 103]
    assert [p.rank for p in ranked] == [1, 2, 3, 4]
    combined = [p.score for p in ranked[:3]]
    assert combined == sorted(combined, reverse=True) and ranked[3].score == 0.1
    assert set(gains) == {100, 101, 102}  # the fourth passage is not scored
    assert len(scorer.contexts) == 3  # the order needs no pass of the question alone


def test_the_question_alone_is_scored_once_when_a_gain_is_read():
    scorer = KeywordScorer()
    found = passages(0.5, 0.45, 0.4)
    _, gains = rerank_by_likelihood(QUESTION, found, scorer, model=by_gain())
    assert "Question :" not in scorer.contexts
    words = len(QUESTION.split())
    assert gains[102] == pytest.approx(4.0 * words) and gains[100] == pytest.approx(0.0)
    assert scorer.contexts.count("Question :") == 1  # once for all the gains read
    eager = question_gains(scorer, QUESTION, found)
    assert [gains[p.chunk_id] for p in found] == pytest.approx(eager)


def test_the_reranker_keeps_its_order_when_its_weight_dominates():
    ranked, gains = rerank_by_likelihood(
        QUESTION, passages(0.5, 0.45, 0.4), KeywordScorer(), model=by_gain(0.0)
    )
    assert [p.chunk_id for p in ranked] == [100, 101, 102] and len(gains) == 3


def test_a_sure_reranker_is_not_second_guessed():
    scorer = KeywordScorer()
    found = passages(0.95, 0.1, 0.05)
    assert not reranker_unsure(found) and reranker_unsure(passages(0.5, 0.45, 0.4))
    ranked, gains = rerank_by_likelihood(QUESTION, found, scorer, model=by_gain())
    assert ranked == found and gains == {} and not scorer.contexts
    one = passages(0.5, answering=0)
    assert rerank_by_likelihood(QUESTION, one, scorer, model=by_gain()) == (one, {})


def test_the_evidence_model_reuses_the_gain_already_computed(tiny_index):
    class Refuses:
        def token_logprobs(self, context: str, text: str) -> list[float]:
            raise AssertionError("the gain was known")

    retriever = open_retriever(IndexSettings(index_dir=str(tiny_index)), embedder=HashEmbedder())
    question = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"
    found = retriever.search(question, 5)
    unsure = Model("evidence", "logistic", (), np.zeros(0), np.zeros(0), np.zeros(0), 0.0)
    gains = {found[0].chunk_id: 7.5}
    ev = weigh_evidence(question, found, retriever, unsure, scorer=Refuses(), gains=gains)
    assert ev.features["question_gain"] == 7.5


def test_fitting_learns_to_follow_the_likelihood_where_it_finds_the_answer(tiny_index, tmp_path):
    from ancre.qa import AnswerSettings, Retriever
    from ancre.qa.learned import from_dict
    from ancre.qa.measure import train
    from ancre.qa.measure.questions import Question, read_question_table
    from ancre.samples import ARTICLES

    retriever = Retriever.open(tiny_index, embedder=HashEmbedder())
    questions, second = [], {}
    for i, text in enumerate(read_question_table(ARTICLES.parent / "QUESTIONS.md")):
        found = retriever.search(text, 5)
        gold = found[1]  # the answer is in the reranker's second passage
        words = " ".join(gold.text.split()[:8])
        questions.append(Question(f"q{i}", text, [words], gold.doc_id, True))
        second[text] = gold.text

    class FindsTheSecond:
        def token_logprobs(self, context: str, text: str) -> list[float]:
            return [-1.0 if second[text.strip()] in context else -4.0] * len(text.split())

    path = train.fit_likelihood_rerank(
        questions, retriever, AnswerSettings(), FindsTheSecond(), tmp_path, margin=1.0
    )
    model = from_dict(json.loads(path.read_text(encoding="utf-8")))
    assert path.name == "rerank-llm.json" and model.features == LLM_FEATURES
    gap = dict(zip(model.features, model.weights, strict=True))["gain_gap"]
    assert gap > 0
    with pytest.raises(ValueError, match="unsure questions"):
        train.fit_likelihood_rerank(
            questions, retriever, AnswerSettings(), FindsTheSecond(), tmp_path, margin=0.0
        )


def test_the_answer_cites_the_passage_the_language_model_prefers(tiny_index):
    from ancre.qa import ask
    from conftest import ScriptedGenerator

    question = "Qui a remporté l’élection municipale de Saint-Aubin-des-Prés en 2024 ?"

    class Prefers(ScriptedGenerator):
        """Question tokens are likelier after a passage holding ``words``."""

        def __init__(self, words: str):
            super().__init__("")
            self.words = words

        def token_logprobs(self, context: str, text: str) -> list[float]:
            return [-1.0 if self.words in context else -5.0] * len(text.split())

    def cited(words: str) -> tuple[str, dict]:
        got = ask(question, index_dir=tiny_index, embedder=HashEmbedder(), generator=Prefers(words))
        return got.passages[0].doc_id, got.timings

    plain = ask(question, index_dir=tiny_index, embedder=HashEmbedder(), llm="none")
    first, second = plain.passages[0].doc_id, plain.passages[1].doc_id
    assert first != second and reranker_unsure(plain.passages)
    assert "likelihood" not in plain.timings
    second_text = plain.passages[1].text.split(".")[0]
    moved, timings = cited(second_text)
    assert moved == second and timings["likelihood"] >= 0.0
    kept, _ = cited("un texte qu’aucun passage ne contient")
    assert kept == first


@pytest.mark.slow
def test_gemma_keeps_or_improves_the_first_passage_of_the_sample_questions(sample_index):
    from test_qa import EXPECTED_SHORT

    from ancre.qa import AnswerSettings
    from ancre.qa.generation.llm import load_generator
    from ancre.qa.measure.questions import read_question_table
    from ancre.samples import ARTICLES

    retriever = open_retriever(IndexSettings(index_dir=sample_index))
    gemma = load_generator("gemma", AnswerSettings())
    before, after, rescored = 0, 0, 0
    for n, question in enumerate(read_question_table(ARTICLES.parent / "QUESTIONS.md"), 1):
        if n == 3:  # a follow-up: "Et en 2025 ?"
            continue
        found = retriever.search(question, 5)
        ranked, gains = rerank_by_likelihood(question, found, gemma)
        assert sorted(p.chunk_id for p in ranked) == sorted(p.chunk_id for p in found)
        assert [p.rank for p in ranked] == list(range(1, len(found) + 1))
        rescored += bool(gains)
        before += EXPECTED_SHORT[n] in found[0].text
        after += EXPECTED_SHORT[n] in ranked[0].text
    assert rescored and after >= before >= 8, (before, after, rescored)


def test_the_passages_are_not_reread_where_the_evidence_is_too_weak_to_ask(tiny_index):
    from ancre.qa import ask
    from ancre.qa.reading.evidence import UNSURE, weigh_evidence
    from conftest import ScriptedGenerator

    class Recording(ScriptedGenerator):
        def __init__(self):
            super().__init__("")
            self.contexts: list[str] = []

        def token_logprobs(self, context: str, text: str) -> list[float]:
            self.contexts.append(context)
            return [-1.0] * len(text.split())

    retriever = open_retriever(IndexSettings(index_dir=str(tiny_index)), embedder=HashEmbedder())
    for question, reread in [
        ("Combien coûte un ticket de cinéma à Bellerive ?", False),
        ("Quand la piscine rouvrira-t-elle ?", True),
    ]:
        found = retriever.search(question, 5)
        plain = weigh_evidence(question, found, retriever).score
        assert reranker_unsure(found) and (plain >= UNSURE[0]) == reread
        scorer = Recording()
        got = ask(question, index_dir=tiny_index, embedder=HashEmbedder(), generator=scorer)
        assert bool(scorer.contexts) == reread == ("likelihood" in got.timings)


@pytest.mark.slow
def test_gemma_orders_the_passages_as_its_gains_would(sample_index):
    from ancre.qa import AnswerSettings
    from ancre.qa.generation.llm import load_generator
    from ancre.qa.learned import load_model
    from ancre.qa.measure.questions import read_question_table
    from ancre.samples import ARTICLES

    retriever = open_retriever(IndexSettings(index_dir=sample_index))
    gemma = load_generator("gemma", AnswerSettings())
    checked = 0
    for question in read_question_table(ARTICLES.parent / "QUESTIONS.md")[:6]:
        found = retriever.search(question, 5)
        ranked, gains = rerank_by_likelihood(question, found, gemma, margin=1.0)
        head = found[: len(gains)]
        eager = question_gains(gemma, question, head)
        assert [gains[p.chunk_id] for p in head] == pytest.approx(eager, abs=1e-6)
        scores = load_model("rerank-llm").score(likelihood_rows(head, eager))
        by_gain = [head[i].chunk_id for i in sorted(range(len(head)), key=lambda i: -scores[i])]
        assert [p.chunk_id for p in ranked[: len(head)]] == by_gain
        checked += 1
    assert checked == 6
