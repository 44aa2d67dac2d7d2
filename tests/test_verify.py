from ancre.qa.reading.qtype import answer_type_bonus
from ancre.qa.reading.sentences import rank_sentences, sentences
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


GULF = (
    "Le patrouilleur a surveillé le golfe de Guinée et les côtes d'Afrique de l'Ouest "
    "pendant trois mois, a indiqué la Marine nationale."
)


def test_a_claim_that_changes_a_place_is_not_verified():
    """Issue 12: 'd'Afrique du Sud' shares most words with 'd'Afrique de l'Ouest'."""
    claim = "Le patrouilleur a surveillé le golfe de Guinée et d'Afrique du Sud"
    assert support(claim, GULF) == 0.0
    checked = check_generated(claim + " [1].", {1: passage(1, GULF)})
    assert checked.text == "" and checked.dropped == [claim + "."]
    kept = check_generated("Le golfe de Guinée et d'Afrique de l'Ouest [1].", {1: passage(1, GULF)})
    assert kept.text == "Le golfe de Guinée et d'Afrique de l'Ouest [1]."


def test_names_numbers_and_dates_must_be_in_the_cited_sentence():
    from ancre.qa.reading.sentences import Candidate, Sentence
    from ancre.qa.verify import names_backed, naming_words, verify_draft

    assert naming_words("Le maire de Lyon a reçu la SNCF en mars.") == {"lyon", "sncf", "mars"}
    assert not names_backed("Il viendra en avril.", "Il viendra en mars.")
    assert not names_backed("Elle a rencontré Jean Dupont.", "Elle a rencontré Jean Durand.")
    # the whole passage holds both names, but the sentence the answer rests on holds one
    first = "Le patrouilleur a surveillé le golfe de Guinée pendant trois mois."
    second = "Un autre navire est parti vers l'Afrique du Sud."
    p = passage(1, f"{first} {second}")
    context = [
        Candidate(p, Sentence(0, len(first), first), 1.0, 1.0),
        Candidate(p, Sentence(len(first) + 1, len(p.text), second), 0.2, 0.2),
    ]
    question = "Qu'a surveillé le patrouilleur ?"
    draft = "Le patrouilleur a surveillé le golfe de Guinée pendant trois mois [1]."
    assert verify_draft(question, draft, context, "french")[1] is context[0]
    mixed = "Le patrouilleur a surveillé le golfe de Guinée et l'Afrique du Sud pendant trois mois."
    assert verify_draft(question, mixed, context, "french") == ("", None)
