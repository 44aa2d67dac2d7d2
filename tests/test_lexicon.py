"""The language data and the patterns compiled from it (``qa/reading/lexicon``)."""

import pytest

from ancre.qa.reading import lexicon
from ancre.qa.reading.lexicon import en, fr


def test_every_language_s_months_and_days_are_calendar_words_but_may():
    assert {"fevrier", "aout", "decembre", "dimanche", "march", "sunday"} <= lexicon.CALENDAR
    assert "may" not in lexicon.CALENDAR and "mai" in lexicon.CALENDAR
    assert len(fr.MONTHS) == len(en.MONTHS) == 12 and len(fr.DAYS) == len(en.DAYS) == 7


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("selon Charles de Gaulle hier", "Charles de Gaulle"),
        ("en Afrique du Sud", "Afrique du Sud"),
        ("un tableau de Vincent van Gogh", "Vincent van Gogh"),
        ("la Banque d’Angleterre", "Banque d’Angleterre"),
        ("le port d’Øresund", "Øresund"),
    ],
)
def test_a_name_is_read_whole_across_its_particles(text, name):
    assert lexicon.NAME.search(text).group() == name


@pytest.mark.parametrize("word", ["février", "fevrier", "août", "aout", "Décembre"])
def test_a_month_is_recognised_with_or_without_its_accents(word):
    import re

    assert re.fullmatch(lexicon.MONTHS, word, re.I)


def test_a_capital_that_opens_a_sentence_is_no_name():
    assert lexicon.NAME_IN_SENTENCE.findall("Hier, le maire a vu Martine Leroux. Elle part.") == [
        "Martine",
        "Leroux",
    ]
