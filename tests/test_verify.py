from ancre.qa.extract import answer_type_bonus, rank_sentences, sentences
from ancre.qa.records import Passage
from ancre.qa.verify import check_generated, is_repetitive, support


def passage(rank, text, doc="d"):
    return Passage(
        rank=rank,
        chunk_id=rank,
        doc_id=f"{doc}{rank}",
        title="",
        url="",
        date="",
        text=text,
        start=0,
        end=len(text),
        score=1.0 / rank,
    )


def test_sentences_keep_offsets_and_abbreviations():
    text = "M. Dupont est arrivé à 9 h. Il a parlé.\nPuis il est parti ! Fin"
    spans = sentences(text)
    assert [s.text for s in spans] == [
        "M. Dupont est arrivé à 9 h.",
        "Il a parlé.",
        "Puis il est parti !",
        "Fin",
    ]
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_support_is_lexical_and_checks_numbers():
    evidence = "La médiathèque a coûté 12 millions d'euros en 2023."
    assert support("La médiathèque a coûté 12 millions", evidence) == 1.0
    assert support("La médiathèque a coûté 15 millions", evidence) == 0.0
    assert support("Le stade a été rénové", evidence) < 0.5


def test_check_generated_drops_bad_citations_and_unsupported_claims():
    passages = {
        1: passage(1, "Le tramway ouvrira le 13 septembre 2025."),
        2: passage(2, "La ligne a coûté 410 millions d'euros."),
    }
    checked = check_generated("Le 13 septembre 2025 [7]. Elle a coûté 999 euros [2].", passages)
    assert checked.text == "Le 13 septembre 2025 [1]."
    assert checked.dropped == ["Elle a coûté 999 euros."]
    uncited = check_generated("Elle a coûté 410 millions d'euros.", passages)
    assert uncited.text == "Elle a coûté 410 millions d'euros [2]."


def test_repetition_detector():
    assert is_repetitive("le le le le le le le le le le")
    assert is_repetitive("en 2013 en 2013 en 2013 en 2013 en 2013")
    assert not is_repetitive("La ligne C ouvrira le samedi 13 septembre 2025 à Bellerive.")


def test_answer_type_prefers_dates_for_when_questions():
    assert answer_type_bonus("Quand a-t-il ouvert ?", "Il a ouvert en 2013.") == 1.0
    assert answer_type_bonus("Quand a-t-il ouvert ?", "Il a ouvert tard.") == 0.0
    assert answer_type_bonus("Combien de lignes ?", "Il y a sept lignes.") == 1.0


def test_rank_sentences_finds_the_answering_sentence():
    p = passage(1, "Le maire est content. Le pont a coûté 8,6 millions d'euros. Il pleut.")
    best = rank_sentences("Combien a coûté le pont ?", [p], idf={})
    assert best[0].sentence.text == "Le pont a coûté 8,6 millions d'euros."


def test_numbers_must_keep_their_unit():
    from ancre.qa.verify import numbers_backed

    evidence = "Il a fait 41,7 °C le 12 août 2025 ; 74 500 festivaliers ; 8,6 millions d’euros."
    assert numbers_backed("41,7 °C", evidence)
    assert numbers_backed("8,6 millions d'euros", evidence)
    assert numbers_backed("74 500 festivaliers", evidence)
    assert not numbers_backed("12 °C", evidence)  # 12 is a date there
    assert not numbers_backed("21 000 festivaliers", evidence)  # 21 000 is not 21 or 000
