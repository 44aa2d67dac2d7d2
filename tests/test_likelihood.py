"""The question-likelihood feature of the evidence model (``qa/reading/likelihood.py``): a fake
token scorer for the fast tests, the bundled Gemma for the slow one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ancre.index import IndexSettings
from ancre.qa import AnswerSettings, ask, open_retriever
from ancre.qa.learned import Model
from ancre.qa.reading.evidence import UNSURE, weigh_evidence
from ancre.qa.reading.likelihood import TokenScorer, question_gain
from conftest import HashEmbedder, ScriptedGenerator, make_passage

TRAM = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"


class ScoringGenerator(ScriptedGenerator):
    """A scripted generator that also scores tokens: each word of the text gets
    ``given`` when the context holds a passage (it is longer than the bare question
    prefix), else ``alone``; remembers the contexts it was given."""

    def __init__(self, given: float, alone: float = -5.0, reply: str = ""):
        super().__init__(reply)
        self.given, self.alone = given, alone
        self.contexts: list[str] = []

    def token_logprobs(self, context: str, text: str) -> list[float]:
        self.contexts.append(context)
        value = self.given if len(context) > len("Question :") else self.alone
        return [value] * len(text.split())


def test_the_gain_is_the_log_probability_gain_of_the_question_tokens():
    scorer = ScoringGenerator(given=-2.0, alone=-5.0)
    passage = make_passage("Le tramway ouvrira en septembre.", title="Tramway")
    assert isinstance(scorer, TokenScorer)
    gain = question_gain(scorer, "Quand le tramway ouvrira-t-il ?", passage)
    assert gain == pytest.approx(3.0 * 5)  # five words, 3 nats each
    alone, given = sorted(scorer.contexts, key=len)
    assert alone == "Question :"
    assert given == "Tramway\nLe tramway ouvrira en septembre.\n\nQuestion :"


def test_a_scorer_that_scores_nothing_gives_no_gain():
    class Empty(ScoringGenerator):
        def token_logprobs(self, context: str, text: str) -> list[float]:
            return []

    assert question_gain(Empty(0.0), "Quoi ?", make_passage("Texte.")) == 0.0


def test_plain_generators_and_servers_are_not_scorers():
    from ancre.qa.generation.llm import OpenAIServer

    assert not isinstance(ScriptedGenerator(), TokenScorer)
    assert not isinstance(OpenAIServer("http://127.0.0.1:9/v1"), TokenScorer)


def constant(probability: float) -> Model:
    """A plain evidence model that gives every question ``probability``."""
    bias = math.log(probability / (1.0 - probability))
    empty = np.zeros(0)
    return Model("evidence", "logistic", (), empty, empty, empty, bias)


def test_the_likelihood_is_weighed_only_where_the_plain_model_is_unsure(tiny_index):
    retriever = open_retriever(IndexSettings(index_dir=str(tiny_index)), embedder=HashEmbedder())
    passages = retriever.search(TRAM, 5)
    plain = weigh_evidence(TRAM, passages, retriever)
    assert "question_gain" not in plain.features
    words = len(TRAM.split())
    scores = []
    for gain in (-1.0, 0.0, 1.0, 3.0):
        scorer = ScoringGenerator(-5.0 + gain)
        ev = weigh_evidence(TRAM, passages, retriever, constant(0.5), scorer=scorer)
        assert ev.features["question_gain"] == pytest.approx(gain * words)
        scores.append(ev.score)
    assert scores == sorted(scores) and scores[0] < scores[-1]
    for sure in (UNSURE[0] / 2, (1.0 + UNSURE[1]) / 2):
        scorer = ScoringGenerator(0.0)
        ev = weigh_evidence(TRAM, passages, retriever, constant(sure), scorer=scorer)
        assert ev.score == pytest.approx(sure) and "question_gain" not in ev.features
        assert not scorer.contexts


def test_the_answerer_abstains_when_the_passage_does_not_explain_the_question(tiny_index):
    def answer(question: str, given: float) -> tuple[bool, list[str]]:
        generator = ScoringGenerator(given)
        got = ask(question, index_dir=tiny_index, embedder=HashEmbedder(), generator=generator)
        return got.abstained, generator.contexts

    vague = "Qui arrive troisième ?"  # some sample article matches it, unsure
    explained, contexts = answer(vague, given=-1.0)
    assert not explained and contexts
    unexplained, _ = answer(vague, given=-9.0)
    assert unexplained
    sure, contexts = answer(TRAM, given=-9.0)  # the plain model is sure: no LM pass
    assert not sure and not contexts


@pytest.mark.slow
def test_gemma_finds_a_question_likelier_after_the_passage_that_answers_it():
    from ancre.qa.generation.llm import load_generator

    llm = load_generator("gemma", AnswerSettings())
    assert isinstance(llm, TokenScorer)
    text = " Comment s'appelle le chat de Marie ?"
    alone = llm.token_logprobs("Question :", text)
    given = llm.token_logprobs("Le chat de Marie s'appelle Félix.\n\nQuestion :", text)
    other = llm.token_logprobs("La Bourse de Tokyo a fermé en baisse.\n\nQuestion :", text)
    assert len(alone) == len(given) == len(other) == llm.count_tokens(text)
    assert all(v <= 0.0 for v in alone + given + other)
    assert sum(given) > sum(other) and sum(given) > sum(alone)
    # the KV cache is left empty: generation still works after scoring
    assert "".join(llm.generate("La capitale de la France est", max_tokens=4)).strip()


def test_calibrate_with_a_scorer_fits_the_model_that_weighs_the_gain(tiny_index):
    from ancre.qa import Retriever
    from ancre.qa.measure import calibrate
    from ancre.qa.measure.questions import Question, read_question_table
    from ancre.samples import ARTICLES

    asked = read_question_table(ARTICLES.parent / "QUESTIONS.md")
    off_topic = [
        "Quel est le cours de l’once d’or à la Bourse de Tokyo aujourd’hui ?",
        "Qui a gagné l’étape du Tour de France arrivée à Port-Joubert ?",
        "Quelle est la capitale de l’Australie ?",
        "Combien de joueurs compte une équipe de rugby à XV ?",
    ]
    questions = [Question(f"a{i}", q, [], "", True) for i, q in enumerate(asked)]
    questions += [Question(f"u{i}", q, [], "", False) for i, q in enumerate(off_topic)]

    class ByTopic(ScoringGenerator):
        """The passages explain the sample articles' questions, not the off-topic ones."""

        def token_logprobs(self, context: str, text: str) -> list[float]:
            explained = text.strip() in asked and len(context) > len("Question :")
            return [-1.0 if explained else -5.0] * len(text.split())

    retriever = Retriever.open(tiny_index, embedder=HashEmbedder())
    fit = calibrate.calibrate(questions, retriever, AnswerSettings(), scorer=ByTopic(0.0))
    assert fit.model.name == "evidence-llm" and "question_gain" in fit.weights
    assert fit.weights["question_gain"] > 0
    assert "evidence-llm weights = {" in calibrate.format_calibration(fit)
    plain = calibrate.calibrate(questions, retriever, AnswerSettings())
    assert plain.model.name == "evidence" and "question_gain" not in plain.weights
