"""``ancre ask -i``: a conversation on the command line, each line a question asked with
the ones before it (fast: the hashing embedder, no language model)."""

import json

import pytest

from ancre.index import IndexSettings
from ancre.qa import AnswerSettings, open_answerer
from ancre.ui.cli import cmd_conversation, main
from ancre.ui.flags import parser
from conftest import HashEmbedder


@pytest.fixture
def qa(tiny_index):
    settings = AnswerSettings.from_env(llm="none")
    return open_answerer(settings, IndexSettings().at(tiny_index), embedder=HashEmbedder())


def converse(qa, argv, lines, capsys):
    args = parser().parse_args(["ask", *argv])
    assert cmd_conversation(args, IndexSettings(), qa.settings, lines=lines, qa=qa) == 0
    return capsys.readouterr().out


def test_a_follow_up_is_asked_with_the_question_before_it(qa, capsys):
    lines = [
        "Qui a été élu maire de Saint-Aubin-des-Prés en 2024 ?\n",
        "\n",
        "Et en 2025 ?\n",
    ]
    out = converse(qa, ["-i", "--json"], lines, capsys)
    first, second = (json.loads(x) for x in out.splitlines())
    assert first["question"] == lines[0].strip() and second["question"] == "Et en 2025 ?"
    assert "2025" in second["citations"][0]["date"]
    assert "Gilles Fabre" in json.dumps(second, ensure_ascii=False)
    alone = qa.ask("Et en 2025 ?")  # without the conversation: asked to say it in full
    assert alone.citations == [] and "Gilles Fabre" not in alone.text


def test_the_question_given_is_the_first_and_answers_are_printed_as_by_ask(qa, capsys):
    out = converse(
        qa, ["-i", "Combien de festivaliers Rives & Rythmes a-t-il accueillis ?"], [], capsys
    )
    assert "74 500" in out and out.count("[1] ") == 1


def test_no_question_and_no_conversation_is_a_clear_error(capsys):
    assert main(["ask", "--index-dir", "/nonexistent"]) == 1
    assert "give a question, or -i" in capsys.readouterr().err
