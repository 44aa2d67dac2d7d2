"""Short answers: answer typing, candidate spans, the learned scorers, the anaphor rule, and
abstention when the only article that answered is gone. Fast: fakes for the index side;
spaCy's small French model (installed with ancre) for the parsed candidates."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from ancre.index import build
from ancre.qa import ask
from ancre.qa.compose import compose
from ancre.qa.learned import Model, from_dict
from ancre.qa.reading.nlp import parse
from ancre.qa.reading.qtype import answer_type, fits_type
from ancre.qa.reading.sentences import (
    Candidate,
    other_years_last,
    sentences,
    starts_with_anaphor,
)
from ancre.qa.reading.shortanswer import best_span
from ancre.qa.reading.spans import MAX_WORDS, candidates, rule_candidates
from ancre.qa.retrieval.rerank import passage_features, rerank
from ancre.samples import ARTICLES
from conftest import HashEmbedder, ScriptedGenerator, make_passage, rank_for

BRIDGE = (
    "Le pont suspendu de Montclar-sur-Vienne a rouvert le 4 octobre 2025. "
    "Sa rénovation, dirigée par l'ingénieure Claire Dumas, a coûté 8,6 millions d'euros. "
    "Les travaux avaient commencé en 2023."
)


@pytest.mark.parametrize(
    ("question", "kind", "focus"),
    [
        ("Qui a écrit De l'esprit géométrique ?", "person", ""),
        ("De qui Lasègue était-il le suppléant ?", "person", ""),
        ("Où meurt Seydi Ali Reis ?", "place", ""),
        ("Quand la ligne C ouvrira-t-elle ?", "date", ""),
        ("En quelle année Louis XV gouverne-t-il seul ?", "date", "annee"),
        ("Combien de villages sont situés sur la côte ?", "number", ""),
        ("Combien a coûté la rénovation du pont ?", "amount", ""),
        ("Quel pape a proposé une analyse de la parabole ?", "person", "pape"),
        ("Dans quelle ville siège la commission ?", "place", "ville"),
        ("Quel est le nom du roi qui succède à Louis XIV ?", "person", "roi"),
        ("Quelles sont les deux nouvelles professions d'Amanda Lear ?", "thing", "professions"),
        ("Comment s'appelle l'église de la tradition éthiopienne ?", "thing", ""),
        ("Pourquoi le projet Vulcania est-il arrêté ?", "reason", ""),
        ("Que fait l'homme qui parle ?", "other", ""),
        ("Who wrote the report?", "person", ""),
        ("How many people live there?", "number", ""),
        ("When did the bridge reopen?", "date", ""),
    ],
)
def test_answer_type_follows_the_question_word_and_its_noun(question, kind, focus):
    t = answer_type(question)
    assert (t.kind, t.focus) == (kind, focus)


def test_rule_candidates_find_dates_quantities_and_names():
    sentence = sentences(BRIDGE)[1].text
    found = {c.text: c.kinds for c in rule_candidates(sentence).values()}
    assert "quantity" in found["8,6 millions d'euros"]
    assert "name" in found["Claire Dumas"]
    first = sentences(BRIDGE)[0].text
    dates = [c.text for c in rule_candidates(first).values() if "date" in c.kinds]
    assert any("4 octobre 2025" in d for d in dates)


def test_quantities_and_names_keep_a_typographic_apostrophe():
    found = {
        c.text: c.kinds
        for c in rule_candidates(
            "Les travaux ont coûté 8,6 millions d’euros, selon Jeanne d’Arc Martin."
        ).values()
    }
    assert "quantity" in found["8,6 millions d’euros"]
    assert "name" in found["Jeanne d’Arc Martin"]


def test_parsed_candidates_add_entities_chunks_and_subtrees():
    sentence = sentences(BRIDGE)[1].text
    found = candidates(sentence, parse([sentence])[0])
    kinds = {k for c in found for k in c.kinds}
    assert any(k.startswith("ent_") for k in kinds)
    assert "chunk" in kinds and any(k.startswith("sub_") for k in kinds)
    for c in found:  # every span is a clean slice of the sentence, within the length limit
        assert sentence[c.start : c.end] == c.text == c.text.strip(" ,;:.")
        assert 0 < len(c.text.split()) <= MAX_WORDS


def _ranked(text: str) -> list[Candidate]:
    passage = make_passage(text)
    return [
        Candidate(passage, s, score=1.0 - i / 10, coverage=0.5)
        for i, s in enumerate(sentences(text))
    ]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Combien a coûté la rénovation dirigée par Claire Dumas ?", "8,6 millions"),
        ("Quand le pont suspendu de Montclar-sur-Vienne a-t-il rouvert ?", "4 octobre 2025"),
        ("Qui a dirigé la rénovation, qui a coûté 8,6 millions ?", "Claire Dumas"),
    ],
)
def test_span_scorer_picks_the_span_that_answers(question, expected):
    ranked, idf = rank_for(question, [make_passage(BRIDGE)])
    short = best_span(question, ranked, idf, "french")
    assert short is not None and expected in short.text
    assert len(short.text.split()) <= MAX_WORDS and short.text in short.sentence.sentence.text
    assert 0.0 < short.score <= 1.0


def test_learned_models_round_trip_and_trees_follow_their_splits():
    logistic = from_dict(
        {
            "name": "x",
            "kind": "logistic",
            "features": ["a", "b"],
            "mean": [0.0, 1.0],
            "scale": [1.0, 2.0],
            "weights": [2.0, -1.0],
            "bias": 0.5,
        }
    )
    rows = [{"a": 1.0, "b": 3.0}, {"a": -1.0}]
    assert np.allclose(logistic.margin(rows), [0.5 + 2.0 - 1.0, 0.5 - 2.0 + 0.5])
    assert np.allclose(from_dict(logistic.to_dict()).score(rows), logistic.score(rows))
    # one tree: a <= 0.5 -> (b <= 2 -> 1.0 | 2.0) | -1.0
    nodes = {
        "feature": [0, 1, -1, -1, -1],
        "threshold": [0.5, 2.0, 0, 0, 0],
        "left": [1, 2, -1, -1, -1],
        "right": [4, 3, -1, -1, -1],
        "value": [0, 0, 1.0, 2.0, -1.0],
    }
    trees = from_dict(
        {
            "name": "t",
            "kind": "trees",
            "features": ["a", "b"],
            "nodes": nodes,
            "roots": [0, 0],
            "bias": 0.25,
        }
    )
    rows = [{"a": 0.0, "b": 1.0}, {"a": 0.0, "b": 5.0}, {"a": 1.0}]
    assert np.allclose(trees.margin(rows), [2.25, 4.25, -1.75])
    assert np.allclose(from_dict(trees.to_dict()).margin(rows), trees.margin(rows))


def test_reranker_reorders_by_its_model_and_renumbers():
    question = "Combien a coûté la rénovation du pont ?"
    passages = [
        make_passage("Le maire a inauguré la médiathèque.", rank=1, score=2.0),
        make_passage(BRIDGE, rank=2, score=1.0),
    ]
    idf = {"pont": 2.0, "renov": 2.0, "cout": 1.0}
    rows = passage_features(question, passages, idf, "french")
    assert rows[1]["sentence_coverage"] > rows[0]["sentence_coverage"]
    by_coverage = Model(
        "t", "logistic", ("sentence_coverage",), np.zeros(1), np.ones(1), np.array([5.0]), 0.0
    )
    out = rerank(question, passages, idf, "french", model=by_coverage)
    assert [p.text for p in out] == [BRIDGE, passages[0].text]
    assert [p.rank for p in out] == [1, 2] and out[0].score > out[1].score


DECLARATION = (
    "La France, ses partenaires européens et le Canada ont confirmé le retrait du Mali. "
    "Dans une déclaration conjointe, ces pays ont indiqué que les conditions ne sont plus réunies. "
    "Le retrait prendra plusieurs mois."
)


def test_a_sentence_opening_with_an_anaphor_is_quoted_with_the_one_before():
    assert starts_with_anaphor("Dans une déclaration conjointe, ces pays ont indiqué que...")
    assert starts_with_anaphor("Il fut élu en 1990.")
    assert not starts_with_anaphor("La France a confirmé le retrait.")
    ranked = _ranked(DECLARATION)
    text, citations = compose("ces pays", ranked[1], [ranked[1]], "french")
    assert text.startswith("ces pays [1]")
    assert "La France, ses partenaires européens et le Canada" in text
    assert text.index("La France") < text.index("Dans une déclaration")
    assert citations[0].sentence == ranked[1].sentence.text
    plain, _ = compose("plusieurs mois", ranked[2], [ranked[2]], "french")
    assert "La France" not in plain and "ces pays" not in plain


def test_a_heading_quoted_with_the_sentence_after_it_is_not_glued_to_it():
    text = "Un bassin nordique\n\nLe bassin mesure 50 mètres. Il est chauffé à 27 degrés."
    ranked = _ranked(text)
    answer, _ = compose("50 mètres", ranked[1], [ranked[1], ranked[0]], "french")
    assert "« Un bassin nordique — Le bassin mesure 50 mètres. »" in answer
    answer, _ = compose("27 degrés", ranked[2], [ranked[2], ranked[1]], "french")
    assert "« Le bassin mesure 50 mètres. Il est chauffé à 27 degrés. »" in answer


def test_every_answer_states_a_short_answer_first(tiny_index):
    question = (
        "Combien a coûté la remise en état du site piraté de la mairie de Vernay-sur-Sarthe ?"
    )
    answer = ask(question, index_dir=tiny_index, embedder=HashEmbedder(), llm="none")
    assert not answer.abstained and answer.short_answer
    n = answer.citations[0].number
    assert answer.text.startswith(f"{answer.short_answer} [{n}]")
    assert answer.short_answer in answer.citations[0].text


def test_without_the_only_article_that_answers_ancre_abstains(tmp_path):
    """The review case: the tramway question answered from its article; once that article is
    removed, the question must abstain rather than quote an unrelated article."""
    question = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"
    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    with_it = ask(
        question,
        index_dir=_index(articles, tmp_path / "a"),
        embedder=HashEmbedder(),
        generator=ScriptedGenerator(""),
    )
    assert not with_it.abstained and "13 septembre 2025" in with_it.text
    (articles / "tramway-ligne-c-bellerive.md").unlink()
    without = ask(
        question,
        index_dir=_index(articles, tmp_path / "b"),
        embedder=HashEmbedder(),
        generator=ScriptedGenerator(""),
    )
    assert without.abstained and not without.citations and not without.short_answer


def _index(articles, index_dir):
    build([articles], index_dir=index_dir, embedder=HashEmbedder())
    return index_dir


@pytest.mark.parametrize(
    ("question", "span", "wrong"),
    [
        ("Qui a remporté l'élection ?", "dimanche 23 mars 2025", True),
        ("Qui a remporté l'élection ?", "52,4 %", True),
        ("Où se trouve le pont ?", "en 1868", True),
        ("Qui a remporté l'élection ?", "Gilles Fabre", False),
        ("Qui a marqué ?", "Mathis Le Goff, à la 88e minute", False),
        ("Qui a marqué ?", "2 à 1 lors de l'avant-dernière journée", True),
        ("Quand le pont a-t-il rouvert ?", "samedi 15 mars 2025", False),
        ("Combien a coûté le pont ?", "samedi 15 mars 2025 à 10 heures", True),
        ("Combien a coûté le pont ?", "8,6 millions d’euros", False),
        ("Combien a coûté le pont ?", "27 500 €", False),
        ("Combien de stations desservira la ligne ?", "le long de la Loire", True),
        ("Combien de stations desservira la ligne ?", "21 stations", False),
        ("Et combien de stations ?", "circuleront le samedi 13 septembre 2025", True),
        ("Combien de temps dure la coupe ?", "créée en 1900", True),
        ("Combien de soldats ?", "1500 soldats", False),
        ("Quelle est la longueur de la ligne ?", "2025", True),
        ("Quelle est la longueur de la ligne ?", "11,4 kilomètres", False),
        ("Combien mesure la coudée ?", "une coudée et demie", False),
        ("Qui a marqué le but ?", "a ainsi validé sa montée en National 3", True),
        ("Quelle est la nourriture du léopard de mer ?", "est avant tout un animal sauvage", True),
        ("Pourquoi le pont était-il fermé ?", "a été jugé dangereux", False),
    ],
)
def test_a_short_answer_that_cannot_be_of_the_asked_type_is_passed_over(question, span, wrong):
    assert fits_type(answer_type(question), span) is not wrong


def test_how_much_is_answered_from_the_next_passage_when_the_best_has_no_amount():
    opening = make_passage(
        "Le pont suspendu de Montclar-sur-Vienne a rouvert à la circulation ce samedi 15 mars "
        "2025 après sa rénovation complète.",
        rank=1,
    )
    cost = make_passage(
        "Les travaux, menés par le conseil départemental, ont coûté 8,6 millions d’euros.",
        rank=2,
        score=0.5,
    )
    question = "Combien a coûté la rénovation du pont suspendu de Montclar-sur-Vienne ?"
    ranked, idf = rank_for(question, [opening, cost])
    assert ranked[0].passage.rank == 1  # the opening covers more of the question
    short = best_span(question, ranked, idf, "french")
    assert short is not None and "8,6 millions d’euros" in short.text
    assert short.sentence.passage.rank == 2  # cited from the passage it comes from
    # what is not a count keeps to the best passage
    when = "Quand le pont suspendu de Montclar-sur-Vienne a-t-il rouvert après sa rénovation ?"
    ranked, idf = rank_for(when, [opening, cost])
    short = best_span(when, ranked, idf, "french")
    assert short is not None and short.sentence.passage.rank == 1


def test_a_sentence_about_another_year_is_not_the_answer_for_the_year_asked():
    later = make_passage(
        "Gilles Fabre a remporté dimanche 23 mars 2025 le second tour de l’élection municipale "
        "de Saint-Aubin-des-Prés, un an après l’élection annulée.",
        rank=1,
    )
    then = make_passage(
        "Martine Leroux a remporté l’élection municipale de Saint-Aubin-des-Prés le 24 mars, "
        "avec 52,4 % des voix.",
        rank=2,
        score=0.6,
    )
    question = "Qui a remporté l’élection municipale de Saint-Aubin-des-Prés en 2024 ?"
    ranked, _ = rank_for(question, [later, then])
    assert ranked[0].passage.rank == 1  # the 2025 sentence covers the question's words best
    ordered = other_years_last({"2024"}, ranked)
    assert ordered[0].passage.rank == 2 and sorted(map(id, ordered)) == sorted(map(id, ranked))
    assert other_years_last({"2025"}, ranked) == ranked
    assert other_years_last(set(), ranked) == ranked
    # when every sentence names another year, the order stays
    assert other_years_last({"1999"}, ranked[:1]) == ranked[:1]


def test_who_is_answered_with_the_name_a_description_stands_for():
    text = (
        "Un an après sa défaite, Gilles Fabre a pris sa revanche. Le chef d’entreprise de 62 ans "
        "a remporté dimanche le second tour de l’élection municipale de Saint-Aubin-des-Prés."
    )
    question = "Qui a remporté le second tour de l’élection municipale de Saint-Aubin-des-Prés ?"
    ranked, idf = rank_for(question, [make_passage(text)])
    short = best_span(question, ranked, idf, "french")
    assert short is not None and short.text == "Gilles Fabre"
    assert short.sentence.sentence.text.startswith("Un an après")  # the sentence that names him
    answer, _ = compose(short.text, short.sentence, ranked, "french")
    assert answer.startswith("Gilles Fabre [1]") and "Le chef d’entreprise" in answer
    # a description that is not at the head of its sentence, or a question that is not 'qui',
    # keeps the span
    what = "Quel tour de l’élection municipale de Saint-Aubin-des-Prés a-t-il remporté ?"
    ranked, idf = rank_for(what, [make_passage(text)])
    short = best_span(what, ranked, idf, "french")
    assert short is not None and "Gilles Fabre" not in short.text
