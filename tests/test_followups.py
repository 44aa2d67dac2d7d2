"""Suggested follow-up questions: made from the cited articles' other sentences, and shown
only when ancre (without a generator) states the fact they were made from."""

from __future__ import annotations

import pytest

from ancre.qa import Answerer, AnswerSettings, Retriever
from ancre.ui.followups import FollowUps, candidates
from conftest import HashEmbedder

TRAMWAY = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"


def test_a_sentence_becomes_questions_where_it_stands():
    made = dict(candidates("Le festival aura lieu le 3 mars 2031 sur la place du marché.", "fr"))
    assert made == {"Le festival aura lieu quand sur la place du marché ?": "3 mars 2031"}
    made = dict(candidates("Le préjudice total atteint 186 000 euros, selon la gendarmerie.", "fr"))
    assert made == {"Le préjudice total atteint combien d’euros, selon la gendarmerie ?": "186 000"}
    made = dict(
        candidates(
            "Martine Leroux siégera dans l’opposition avec ses colistiers.",
            "fr",
            ["Martine Leroux"],
        )
    )
    assert made == {"Qui siégera dans l’opposition avec ses colistiers ?": "Martine Leroux"}
    made = dict(candidates("The bridge reopened on June 3, 2025 after eight months.", "en"))
    assert made == {"The bridge reopened when after eight months?": "June 3, 2025"}
    for unusable in (
        "Elle comptera 21 stations sur la ligne.",  # who is « elle » ?
        "« Nous ouvrirons le 13 septembre 2025 », a dit le maire.",  # a quotation
        "Fini le 3 mars.",  # too short to say what is asked
        "Ce texte n’a ni date ni nombre à demander.",
        "Le roi mourut à l’aube du 11 mai 1760, près de la mer.",  # « l’aube du quand »
        "La reprise est rapide : en 1700 la ville comptait à peine moitié moins.",
        "La première saison s’est déroulée en 2001-2002 avec huit clubs du sud.",
    ):
        assert list(candidates(unusable, "fr")) == []
    assert list(candidates("Le pont a rouvert le 3 mars 2031 après les travaux.", "de")) == []


@pytest.fixture(scope="module")
def answerers(tiny_index):
    retriever = Retriever.open(tiny_index, embedder=HashEmbedder())
    return lambda options: Answerer(retriever, None, options)


def test_only_questions_ancre_answers_from_the_same_article_are_suggested(answerers):
    settings = AnswerSettings(llm="none", state_above=0.0)
    answer = answerers(settings).ask(TRAMWAY)
    suggested = FollowUps(answerers, settings).suggest(TRAMWAY, answer)
    assert 1 <= len(suggested) <= 3
    cited = {c.doc_id for c in answer.citations}
    for question in suggested:
        again = answerers(settings).ask(question)
        assert again.mode == "stated" and {c.doc_id for c in again.citations} & cited
        assert question != TRAMWAY and "13 septembre" not in question


def test_no_suggestions_past_the_budget_or_for_an_abstention(answerers):
    settings = AnswerSettings(llm="none", state_above=0.0)
    answer = answerers(settings).ask(TRAMWAY)
    assert FollowUps(answerers, settings, budget_s=0.0).suggest(TRAMWAY, answer) == []
    nothing = answerers(settings).ask("Quel est le cours de l'or à la Bourse de Tokyo ?")
    assert nothing.abstained
    assert FollowUps(answerers, settings).suggest(nothing.question, nothing) == []


def test_the_chat_stores_and_shows_the_suggestions_under_the_last_answer(answerers, tmp_path):
    from ancre.ui.chat import Viewer, WebChat
    from ancre.ui.conversations import ConversationStore

    settings = AnswerSettings(llm="none", state_above=0.0)
    chat = WebChat(
        answerers,
        settings,
        ConversationStore(tmp_path / "c.sqlite"),
        suggester=FollowUps(answerers, settings),
    )
    viewer = Viewer("browser:a", "fr", "p")
    chat.submit(viewer, TRAMWAY, chat.options())
    views = list(chat.drain(viewer))
    [turn] = chat.store.turns(viewer.owner, chat.current(viewer))
    assert turn.suggestions and 'class="ancre-follow-ups"' in views[-1]
    answered = next(v for v in views if "ancre-mode" in v)
    assert "ancre-follow-ups" not in answered  # the answer first, the suggestions after
    chat.submit(viewer, turn.suggestions[0], chat.options())
    shown = list(chat.drain(viewer))[-1]
    assert shown.count('class="ancre-follow-ups"') <= 1  # under the last answer only
