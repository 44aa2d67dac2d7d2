"""The typed records at the read path's boundaries: conversation turns and citations."""

import warnings

import pytest

from ancre.index import IndexSettings
from ancre.qa import AnswerSettings, Citation, Turn, ask, open_answerer
from ancre.qa.reading.sentences import sentences
from ancre.qa.records import turns
from conftest import HashEmbedder, make_passage


@pytest.mark.parametrize(
    ("given", "turn"),
    [
        ({"role": "user", "content": "Qui a gagné ?"}, Turn("user", "Qui a gagné ?")),
        ({"role": "assistant", "content": "Gilles Fabre."}, Turn("assistant", "Gilles Fabre.")),
        ({"role": "system", "content": "Sois bref."}, Turn("", "Sois bref.")),
        ({"role": "user", "content": ["a", "b"]}, Turn("user", "['a', 'b']")),
        (("Qui a gagné ?", "Gilles Fabre."), Turn("user", "Qui a gagné ?")),
        ("Qui a gagné ?", Turn("", "Qui a gagné ?")),
        (Turn("user", "Qui a gagné ?"), Turn("user", "Qui a gagné ?")),
    ],
)
def test_every_shape_of_history_a_caller_gives_becomes_a_turn(given, turn):
    assert Turn.of(given) == turn
    assert turns([given]) == [turn] and turns(None) == []


def test_a_follow_up_is_searched_with_the_question_before_it_given_as_turns(tiny_index):
    before = "Qui a remporté l’élection municipale de Saint-Aubin-des-Prés en 2024 ?"
    as_dicts = [{"role": "user", "content": before}, {"role": "assistant", "content": "X [1]."}]
    as_turns = [Turn("user", before), Turn("assistant", "X [1].")]
    answers = [
        ask(
            "Et en 2025 ?",
            index_dir=tiny_index,
            embedder=HashEmbedder(),
            llm="none",
            history=history,
        )
        for history in (as_dicts, as_turns)
    ]
    assert answers[0].text == answers[1].text and not answers[0].abstained
    assert answers[0].citations[0].doc_id == "dep-2025-0324-saint-aubin"


def test_a_citation_quotes_its_passage_at_its_sentences_offsets():
    passage = make_passage("Le pont a rouvert. Il a coûté 8 millions d’euros.", rank=3)
    second = sentences(passage.text)[1]
    cited = Citation.of(passage, second, 0.5)
    assert (cited.number, cited.doc_id, cited.chunk_id, cited.support) == (3, "doc-3", 3, 0.5)
    assert passage.text[cited.sentence_start : cited.sentence_end] == cited.sentence
    assert cited.sentence == "Il a coûté 8 millions d’euros."


def test_the_old_name_of_open_answerer_still_works_and_says_it_is_deprecated(tiny_index):
    xs = IndexSettings(index_dir=str(tiny_index))
    embedder = HashEmbedder()
    from ancre.qa import answerer

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = answerer(AnswerSettings(llm="none"), xs, embedder=embedder)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    new = open_answerer(AnswerSettings(llm="none"), xs, embedder=embedder)
    assert old.retriever is new.retriever
