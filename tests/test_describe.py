"""'Qui est X ?' is answered with how the articles describe X."""

from __future__ import annotations

import pytest

from ancre.qa.reading.describe import describe
from ancre.qa.reading.qtype import who_is
from ancre.qa.reading.sentences import Candidate, sentences
from ancre.qa.reading.shortanswer import best_span
from conftest import make_passage, rank_for

TEXT = (
    "« Certains fils étaient rompus : il n’était plus possible d’attendre », explique Sophie "
    "Lemaire, ingénieure responsable des ouvrages d’art au département. « C'est l'aboutissement "
    "», a réagi l'entraîneur Frédéric Alvarez, arrivé au club en 2021. Le président du club, "
    "Jean-Claude Mercier, prévoit un budget plus élevé. C'est finalement le défenseur central "
    "Mathis Le Goff qui a offert la victoire. Le score est de 50,9 % contre 49,1 % pour la maire "
    "sortante, Martine Leroux. Jane Doe, a lawyer from Ohio, said so. L'AS a battu l'Entente "
    "Sud-Loire. Le club a recruté Jean Dupont. Il a annoncé la retraite de Ian Thorpe. Sur le "
    "circuit, Maria Kirilenko a gagné. Le 29 janvier 1844, Louis Auguste est né."
)


def _ranked(text: str) -> list[Candidate]:
    passage = make_passage(text)
    return [Candidate(passage, s, 1.0, 0.5) for s in sentences(text)]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Qui est Sophie Lemaire ?", "ingénieure responsable des ouvrages d’art au département"),
        ("Qui est Frédéric Alvarez ?", "l'entraîneur"),
        ("Qui est Jean-Claude Mercier ?", "Le président du club"),
        ("Qui est Mathis Le Goff ?", "le défenseur central"),
        ("Qui était Martine Leroux ?", "la maire sortante"),
        ("Who is Jane Doe?", "a lawyer from Ohio"),
        # a name, a clause, a preposition's object, an opening phrase, a date: no description
        ("Qui est Sud-Loire ?", None),
        ("Qui est Jean Dupont ?", None),
        ("Qui est Ian Thorpe ?", None),
        ("Qui est Maria Kirilenko ?", None),
        ("Qui est Louis Auguste ?", None),
    ],
)
def test_a_person_is_described_by_the_phrase_before_or_after_their_name(question, expected):
    name = who_is(question)
    assert name
    found = describe(name, _ranked(TEXT), parsed=True)
    assert (found.text if found else None) == expected
    if found is not None:
        assert found.sentence.sentence.text[found.start : found.end] == expected


@pytest.mark.parametrize(
    "question",
    ["Qui est le maire de Montclar ?", "Qui a marqué le but ?", "Où est Sophie Lemaire ?"],
)
def test_only_who_is_a_name_asks_for_a_description(question):
    assert who_is(question) == ""


def test_the_short_answer_to_who_is_is_the_description():
    question = "Qui est Sophie Lemaire ?"
    ranked, idf = rank_for(question, [make_passage(TEXT)])
    short = best_span(question, ranked, idf, "french")
    assert short is not None
    assert short.text == "ingénieure responsable des ouvrages d’art au département"
    assert "Sophie Lemaire" in short.sentence.sentence.text


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who is Jane Porter?", "a retired teacher"),
        ("Who is Sophie Lamar?", "the county's chief bridge engineer"),
        ("Who is Giles Farmer?", None),  # 'took 47.6%' is what he did, not who he is
    ],
)
def test_without_a_parser_an_apposition_opens_on_a_determiner(question, expected):
    text = (
        "Jane Porter, a retired teacher, won the election. Her opponent, businessman Giles "
        'Farmer, took 47.6%. "It held", said Sophie Lamar, the county\'s chief bridge engineer.'
    )
    found = describe(who_is(question), _ranked(text), parsed=False)
    assert (found.text if found else None) == expected
