import pytest

from ancre.index.lexical import analyze, fold, fts_query


def test_fold():
    assert fold("Élysée À ÇA") == "elysee a ca"


def test_elisions_accents_and_stemming():
    assert analyze("L'avion d'Air France") == analyze("avions air france")
    assert analyze("L’avion d‘Air France, aujourdʼhui") == analyze(
        "L'avion d'Air France, aujourd'hui"
    )
    assert analyze("les élections présidentielles") == analyze("election presidentielle")
    assert "qu" not in analyze("qu'il jusqu'à lorsqu'elle")


def test_stopwords_removed_numbers_kept():
    tokens = analyze("Quand la ligne C ouvrira-t-elle en 2025 ?")
    assert "2025" in tokens
    assert "la" not in tokens and "quand" not in tokens


def test_any_language_without_stemmer():
    assert analyze("Москва столица", "none") == ["москва", "столица"]


def test_fts_query_quotes_and_dedups():
    assert fts_query(["a1", "b", "a1"]) == '"a1" OR "b"'
    assert fts_query([]) == ""


def test_how_much_and_how_many_leave_only_what_is_asked_about():
    # 'much' and 'many' are no word of the articles: counted as unseen, they made the
    # evidence abstain on 'How much did the bridge repairs cost?'
    assert analyze("How much did the repairs cost?", "english") == ["repair", "cost"]
    assert analyze("How many people came?", "english") == ["peopl", "came"]


@pytest.mark.parametrize(
    "text",
    [
        "M. Dupont arrive. Il part à 3.5 km d'ici ! Puis, l’avion décolle ?\nJ. Martin rit",
        "Le 1er janvier 2024, à 10 h. 30, l'ONU s'est réunie... Qu'a-t-elle dit ? Rien.",
        "Titre sans point\n\nUn paragraphe. Un autre — avec « guillemets ».",
    ],
)
def test_a_text_analyses_as_its_sentences_in_order(text):
    """The reranker analyses a chunk once, by sentence (``rerank._analysed``): that holds
    only while sentences split between words."""
    from ancre.qa.reading.sentences import sentences

    by_sentence = [t for s in sentences(text) for t in analyze(s.text, "french")]
    assert by_sentence == analyze(text, "french") != []
