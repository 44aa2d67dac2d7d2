import pytest

from ancre.index import detect_language
from ancre.qa.templates import render, template


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


def test_the_answer_prompt_carries_the_same_request_as_chat_messages():
    from ancre.qa.generation.prompting import Prompt, build_prompt
    from conftest import make_passage, rank_for

    question = "Combien a coûté le pont ?"
    ranked, _ = rank_for(question, [make_passage("Le pont a coûté 8,6 millions d'euros.")])
    prompt = build_prompt(question, ranked[:1], "fr")
    assert isinstance(prompt, Prompt) and prompt.endswith(
        "Question : Combien a coûté le pont ?\nRéponse :"
    )
    roles = [m["role"] for m in prompt.messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert prompt.messages[0]["content"] == template("chat_system", "fr")
    assert prompt.messages[2]["content"] == "12 millions d'euros [2]."
    last = prompt.messages[-1]["content"]
    passage = "Passage [1] : Le pont a coûté 8,6 millions d'euros."
    assert last == passage + "\nQuestion : Combien a coûté le pont ?"
    for name in ("chat_system", "chat_example", "chat_example_answer", "chat_user"):
        assert template(name, "fr") and template(name, "en")
