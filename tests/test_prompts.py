import pytest

from ancre.qa.prompting import detect_language, render, template


def test_templates_exist_in_french_and_english():
    for name in ("answer", "passage", "abstain"):
        assert template(name, "fr") and template(name, "en")


def test_render_is_strict():
    assert render("passage", "fr", number=2, text="{x}") == "Passage [2] : {x}"
    with pytest.raises(KeyError, match="missing"):
        render("passage", "fr", number=2)
    with pytest.raises(KeyError, match="unexpected"):
        render("passage", "fr", number=2, text="t", extra=1)


def test_unknown_language_falls_back_to_english():
    assert template("abstain", "de") == template("abstain", "en")


def test_language_detection():
    assert detect_language("Quand la ligne C ouvrira-t-elle ?") == "fr"
    assert detect_language("When will the new line open?") == "en"
    assert detect_language("Qui a gagné ?") == "fr"
