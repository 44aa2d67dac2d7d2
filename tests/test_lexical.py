from ancre.index.lexical import analyze, fold, fts_query


def test_fold():
    assert fold("Élysée À ÇA") == "elysee a ca"


def test_elisions_accents_and_stemming():
    assert analyze("L'avion d'Air France") == analyze("avions air france")
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
