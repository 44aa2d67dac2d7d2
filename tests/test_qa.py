"""End to end with the real default models (the fast read-path tests are test_answer.py)."""

from __future__ import annotations

import threading

import pytest

from ancre.qa import Answer, Event, ask

pytestmark = pytest.mark.slow

TRAM = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"
SCAM = "Quel est le préjudice total des arnaques aux faux assistants virtuels autour de Bellerive ?"
HACK = "Combien a coûté la remise en état du site piraté de la mairie de Vernay-sur-Sarthe ?"
HEAT = "Quelle température record a été relevée à Port-Joubert pendant la canicule d’août 2025 ?"
OFF_TOPIC = "Quel est le cours de l’once d’or à la Bourse de Tokyo aujourd’hui ?"


def test_known_question_gets_a_correct_cited_answer(sample_index):
    answer = ask(TRAM, index_dir=sample_index)
    assert not answer.abstained and answer.mode in ("stated", "evidence")
    assert "13 septembre 2025" in answer.text
    assert any(c.doc_id.endswith("/tramway-ligne-c-bellerive.md") for c in answer.citations)
    assert answer.models["embedding"] == "all-MiniLM-L6-v2"
    assert answer.timings["total"] >= answer.timings["retrieval"] > 0


def test_off_topic_question_abstains(sample_index):
    assert ask(OFF_TOPIC, index_dir=sample_index).abstained


def test_streaming_gives_events_then_the_answer(sample_index):
    stream = ask(TRAM, index_dir=sample_index, stream=True)
    events = list(stream)
    assert events and all(isinstance(e, Event) for e in events)
    assert events[-1].kind == "answer"
    assert isinstance(stream.answer(), Answer) and stream.answer().text == events[-1].text


def test_prompt_injection_in_an_article_changes_nothing(sample_index):
    answer = ask(SCAM, index_dir=sample_index)
    assert "186 000" in answer.text
    assert "PIRAT" not in answer.text.split("\n")[0].upper()


def test_concurrent_asks_get_their_own_answers(sample_index):
    questions = {TRAM: "13 septembre 2025", HACK: "27 500", HEAT: "41,7"}
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def worker(q: str) -> None:
        try:
            results[q] = ask(q, index_dir=sample_index).text
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(q,)) for q in questions for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for q, expected in questions.items():
        assert expected in results[q], (q, results[q])


EXPECTED_SHORT = {
    1: "13 septembre 2025",
    2: "Martine Leroux",
    3: "Gilles Fabre",
    4: "Fournil des Tanneurs",
    5: "186 000",
    6: "68 000",
    7: "27 500",
    8: "8,6 millions",
    9: "74 500",
    10: "5,82",
    11: "41,7",
    12: "Mathis Le Goff",
}
"""The key of each expected answer of samples/QUESTIONS.md (question 3 follows question 2)."""


def test_sample_questions_get_short_answers_from_their_passages(sample_index):
    from ancre.qa.measure.questions import read_question_table
    from ancre.samples import ARTICLES

    asked = read_question_table(ARTICLES.parent / "QUESTIONS.md")
    assert len(asked) == len(EXPECTED_SHORT)
    right, stated, history = [], [], []
    for n, question in enumerate(asked, 1):
        answer = ask(question, index_dir=sample_index, llm="none", history=history[-2:])
        history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer.text},
        ]
        assert not answer.abstained and answer.likely_answer, question
        cited = answer.citations[0]
        likely = answer.likely_answer
        assert likely in cited.text and len(likely.split()) <= 15
        if answer.short_answer:
            assert answer.text.startswith(f"{answer.short_answer} [{cited.number}]")
            stated.append(EXPECTED_SHORT[n] in answer.short_answer)
        right.append(EXPECTED_SHORT[n] in likely)
    # the likely answer holds the expected one for most questions (the span model is right
    # for about a quarter of PIAF questions, more on these plainly written news articles:
    # 11 of 12 here, question 12's scorer is named two sentences after the goal's minute);
    # what is stated in bold is right
    assert sum(right) >= 10, right
    assert all(stated), stated
