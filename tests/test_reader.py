"""The draft as a reader's vote among the spans (``qa/reader.py``), the span model's
runners-up, and spans from more than one passage. Fast: hand-made spans and models; spaCy's
small French model for the parsed candidates."""

from __future__ import annotations

import numpy as np
import pytest

from ancre.index import IndexSettings, analyze
from ancre.qa import AnswerSettings, ask, open_retriever
from ancre.qa.evidence import weigh_evidence
from ancre.qa.extract import Candidate, Sentence, rank_sentences
from ancre.qa.learned import Model
from ancre.qa.reader import CANDIDATES, MODEL, agreement, margin, reader_features, reread
from ancre.qa.shortanswer import RUNNERS_UP, ShortAnswer, best_span
from ancre.qa.spans import SpanCandidate
from conftest import HashEmbedder, ScriptedGenerator, make_passage

ADAPTATION = (
    "La première adaptation radiophonique de la pièce est réalisée par Alby James pour BBC "
    "Radio en 1990. Elle est rediffusée en 1994."
)


def _short(texts_scores: list[tuple[str, float]]) -> ShortAnswer:
    passage = make_passage(ADAPTATION)
    sentence = Sentence(0, len(ADAPTATION), ADAPTATION)
    cand = Candidate(passage, sentence, 1.0, 1.0)
    found = []
    for text, score in texts_scores:
        start = ADAPTATION.index(text)
        span = SpanCandidate(start, start + len(text), text)
        found.append(ShortAnswer(text, cand, span, score))
    found[0].runners_up = found[1:]
    return found[0]


def _model(margin_weight: float, agreement_weight: float) -> Model:
    return Model(
        name=MODEL,
        kind="logistic",
        features=("span_margin", "draft_agreement"),
        mean=np.zeros(2),
        scale=np.ones(2),
        weights=np.array([margin_weight, agreement_weight]),
        bias=0.0,
    )


def test_agreement_is_the_token_f1_of_folded_words_without_citation_marks():
    assert agreement("Alby James [2].", "Alby James") == 1.0
    assert agreement("Alby James, pour la BBC", "BBC Radio") == pytest.approx(2 * 0.5 * 0.2 / 0.7)
    assert agreement("Élodie", "elodie") == 1.0
    assert agreement("en 1990", "BBC Radio") == 0.0
    assert agreement("", "BBC Radio") == 0.0


def test_margin_undoes_the_squashed_score():
    assert margin(0.5) == pytest.approx(0.0)
    assert margin(1 / (1 + np.exp(-2.0))) == pytest.approx(2.0)
    assert np.isfinite(margin(1.0)) and np.isfinite(margin(0.0))


def test_the_draft_points_at_a_runner_up_when_agreement_outweighs_the_margin():
    short = _short([("BBC Radio", 0.6), ("Alby James", 0.5), ("en 1990", 0.4)])
    chosen = reread(short, "Alby James, pour la BBC [1].", _model(1.0, 5.0))
    assert chosen.text == "Alby James"
    # the one stated keeps the others as its runners-up, best first, nothing lost
    assert [s.text for s in chosen.runners_up] == ["BBC Radio", "en 1990"]
    assert [s.text for s in short.runners_up] == ["Alby James", "en 1990"]  # not mutated
    # a model that trusts the span model's margin alone keeps its best span
    assert reread(short, "Alby James, pour la BBC [1].", _model(1.0, 0.0)) is short


def test_without_a_draft_or_runners_up_the_best_span_stays():
    short = _short([("BBC Radio", 0.6), ("Alby James", 0.5)])
    assert reread(short, "", _model(1.0, 5.0)) is short
    alone = _short([("BBC Radio", 0.6)])
    assert reread(alone, "Alby James", _model(1.0, 5.0)) is alone


def test_only_the_best_candidates_are_weighed():
    texts = ["BBC Radio", "en 1990", "1990", "pièce", "la pièce", "Alby James"]
    short = _short([(t, 0.9 - 0.1 * i) for i, t in enumerate(texts)])
    assert len(texts) > CANDIDATES
    assert reread(short, "Alby James", _model(1.0, 50.0)).text == texts[0]


def test_the_shipped_reader_prefers_the_span_the_draft_names():
    short = _short([("BBC Radio", 0.55), ("Alby James", 0.5)])
    assert reread(short, "Alby James").text == "Alby James"
    f = reader_features(short, "Alby James")
    assert f == {"span_margin": pytest.approx(margin(0.55)), "draft_agreement": 0.0}


def test_best_span_keeps_its_runners_up_best_first():
    question = "Qui a réalisé la première adaptation radiophonique de la pièce ?"
    passage = make_passage(ADAPTATION)
    terms = list(dict.fromkeys(analyze(question, "french")))
    idf = dict.fromkeys(terms, 1.0)
    ranked = rank_sentences(question, [passage], idf, "french")
    short = best_span(question, ranked, idf, "french")
    assert short is not None and 0 < len(short.runners_up) <= RUNNERS_UP
    scores = [short.score] + [s.score for s in short.runners_up]
    assert scores == sorted(scores, reverse=True)
    spans = [(s.span.start, s.span.end) for s in [short, *short.runners_up]]
    assert len(set(spans)) == len(spans)


TRAM = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"


def test_a_rejected_draft_still_points_the_answerer_at_its_span(tiny_index):
    retriever = open_retriever(IndexSettings().at(tiny_index), embedder=HashEmbedder())
    evidence = weigh_evidence(TRAM, retriever.search(TRAM, 5), retriever, asked=TRAM)
    assert evidence.short is not None and len(evidence.short.runners_up) == RUNNERS_UP
    pointed = evidence.short.runners_up[1].text
    assert agreement(pointed, evidence.short.text) < 0.5

    # a name the sentence does not give: verification rejects the draft, its words still count
    drafted = ask(
        TRAM,
        index_dir=tiny_index,
        embedder=HashEmbedder(),
        generator=ScriptedGenerator(f"{pointed} selon Zorglub [1]."),
        settings=AnswerSettings(span_first_above=1.01),  # always ask the generator
    )
    assert drafted.mode == "extractive" and drafted.short_answer == pointed
    assert "Zorglub" not in drafted.text
    alone = ask(TRAM, index_dir=tiny_index, embedder=HashEmbedder(), llm="none")
    assert alone.short_answer == evidence.short.text
