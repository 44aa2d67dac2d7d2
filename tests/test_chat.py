"""The chat controller and the conversations store, with ancre's Answerer over the tiny
index (hashing embedder, scripted generator): queue, stages, Stop, persistence."""

from __future__ import annotations

import json
import re
import threading

import pytest

from ancre.index import StoreError
from ancre.qa import Answerer, AnswerSettings, Retriever
from ancre.ui.chat import Viewer, WebChat
from ancre.ui.conversations import ConversationStore, Turn, title_for
from conftest import HashEmbedder, ScriptedGenerator

TRAMWAY = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"
BAKERY = "Quelle boulangerie a remporté le Grand Prix départemental de la baguette de tradition ?"
STATIONS = "Et combien de stations desservira-t-elle ?"


def reply(prompt: str) -> str:
    if "13 septembre 2025" in prompt and "ouvrira" in prompt:
        return "Le samedi 13 septembre 2025 [1]."
    return "10,5 millions d'euros [2]."  # unverifiable: never shown


class Spy:
    """Records the options and histories the controller asks with."""

    def __init__(self, retriever: Retriever, generator: ScriptedGenerator):
        self.retriever, self.generator = retriever, generator
        self.options: list[AnswerSettings] = []
        self.histories: list[list] = []

    def __call__(self, options: AnswerSettings) -> Answerer:
        self.options.append(options)
        spy = self

        class Recording(Answerer):
            def stream(self, question, **kwargs):
                spy.histories.append(list(kwargs.get("history") or []))
                return super().stream(question, **kwargs)

        generator = None if options.llm == "none" else self.generator
        return Recording(self.retriever, generator, options)


@pytest.fixture(scope="module")
def retriever(tiny_index):
    return Retriever.open(tiny_index, embedder=HashEmbedder())


@pytest.fixture
def spy(retriever):
    return Spy(retriever, ScriptedGenerator(reply))


@pytest.fixture
def chat(spy, tmp_path):
    return WebChat(
        spy,
        AnswerSettings(
            llm="scripted", max_question_chars=200, span_first_above=1.01, state_above=0.0
        ),
        store(tmp_path),
    )


def store(tmp_path) -> ConversationStore:
    return ConversationStore(tmp_path / "conversations.sqlite")


ALICE = Viewer("browser:alice", "fr", "page-1")


def ask(chat: WebChat, viewer: Viewer, question: str) -> list[str]:
    result = chat.submit(viewer, question, chat.options())
    assert result.accepted, result.message
    return list(chat.drain(viewer))


def test_an_answer_shows_stages_never_the_draft_and_is_stored(chat):
    views = ask(chat, ALICE, TRAMWAY)
    order = [
        s
        for v in views
        for s in ("Chargement", "Recherche", "Rédaction", "Vérification")
        if f'ancre-stage">{s}' in v
    ]
    assert order == ["Recherche", "Rédaction", "Vérification"]  # opened at once: no loading
    assert "<strong>Le samedi 13 septembre 2025" in views[-1]
    views = ask(chat, ALICE, STATIONS)  # the model drafts "10,5 millions": dropped
    assert not [v for v in views if "10,5" in v]
    assert "21 stations" in views[-1] and "Chargement" not in "".join(views)
    turns = chat.store.turns(ALICE.owner, chat.current(ALICE))
    assert [t.question for t in turns] == [TRAMWAY, STATIONS]
    assert turns[0].answer.short_answer.startswith("Le samedi 13 septembre 2025")


def test_loading_is_said_only_when_opening_the_answerer_takes_time(spy, tmp_path):
    import time

    def slow(options):
        time.sleep(0.6)
        return spy(options)

    chat = WebChat(slow, AnswerSettings(llm="scripted", state_above=0.0), store(tmp_path))
    views = ask(chat, ALICE, TRAMWAY)
    assert 'ancre-stage">Chargement' in views[0] and "13 septembre 2025" in views[-1]


def test_the_next_question_of_an_idle_page_is_not_shown_as_waiting(chat):
    chat.submit(ALICE, TRAMWAY, chat.options())
    shown = chat.view(ALICE)
    assert "ancre-working" in shown and "ancre-pending" not in shown
    chat.submit(ALICE, BAKERY, chat.options())  # behind the first: this one waits
    shown = chat.view(ALICE)
    assert shown.count("ancre-working") == 1 and shown.count("ancre-pending-label") == 1


def test_a_question_sent_during_an_answer_waits_and_is_answered_next(chat):
    chat.submit(ALICE, TRAMWAY, chat.options())
    running = chat.drain(ALICE)
    first = next(running)
    assert "ancre-working" in first
    second = chat.submit(ALICE, BAKERY, chat.options())
    assert second.accepted and "attente" in second.message
    assert list(chat.drain(ALICE)) == []  # the running answer takes it
    assert "ancre-pending" in chat.view(ALICE) and BAKERY in chat.view(ALICE)
    views = [first, *running]
    assert "Fournil" in views[-1] and "ancre-pending" not in views[-1]
    turns = chat.store.turns(ALICE.owner, chat.current(ALICE))
    assert [t.question for t in turns] == [TRAMWAY, BAKERY]


def test_refused_questions_say_why_and_create_nothing(chat):
    empty = chat.submit(ALICE, "   ", chat.options())
    long = chat.submit(ALICE, "x" * 201, chat.options())
    assert not empty.accepted and "question" in empty.message
    assert (
        not long.accepted and long.message == "Question trop longue : 201 caractères, 200 au plus."
    )
    assert chat.conversations(ALICE) == [] and not chat.store.path.exists()


def test_stop_keeps_the_question_hands_back_the_waiting_ones_and_frees_the_model(chat):
    chat.submit(ALICE, TRAMWAY, chat.options())
    running = chat.drain(ALICE)
    while 'ancre-now">Rédaction' not in next(running):
        pass
    chat.submit(ALICE, BAKERY, chat.options())
    assert chat.stop(ALICE) == [BAKERY]
    assert list(running) == []  # the stopped answer ends, shows nothing more
    turns = chat.store.turns(ALICE.owner, chat.current(ALICE))
    assert [(t.question, t.status) for t in turns] == [(TRAMWAY, "stopped")]
    assert "Interrompu." in chat.view(ALICE) and "Réessayer" in chat.view(ALICE)
    done: list[str] = []
    worker = threading.Thread(target=lambda: done.extend(ask(chat, ALICE, BAKERY)))
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "the stopped answer kept the generator"
    assert "Fournil" in done[-1]


def test_regenerate_answers_again_in_place_with_the_history_before_it(chat, spy):
    ask(chat, ALICE, TRAMWAY)
    ask(chat, ALICE, STATIONS)
    assert spy.histories[1][0] == {"role": "user", "content": TRAMWAY}
    assert chat.regenerate(ALICE, 0, chat.options(top_k=3)).accepted
    views = list(chat.drain(ALICE))
    assert "ancre-working" in views[0]
    assert spy.histories[-1] == [] and spy.options[-1].top_k == 3
    turns = chat.store.turns(ALICE.owner, chat.current(ALICE))
    assert [t.question for t in turns] == [TRAMWAY, STATIONS]
    assert not chat.regenerate(ALICE, 7, chat.options()).accepted


def test_each_question_has_its_options_and_the_shared_settings_stay(chat, spy):
    chat.submit(ALICE, TRAMWAY, chat.options(top_k=4, llm="none", temperature=0.7))
    list(chat.drain(ALICE))
    assert (spy.options[0].top_k, spy.options[0].llm, spy.options[0].temperature) == (
        4,
        "none",
        0.7,
    )
    assert chat.settings.llm == "scripted" and chat.settings.top_k == 5


def test_conversations_belong_to_their_owner_and_survive_a_reload(chat):
    ask(chat, ALICE, TRAMWAY)
    conv = chat.current(ALICE)
    bob = Viewer("browser:bob", "fr", "page-2")
    assert chat.conversations(bob) == []
    chat.open(bob, conv)  # someone else's id: a new, empty conversation
    assert chat.current(bob) is None and TRAMWAY not in chat.view(bob)
    reloaded = Viewer("browser:alice", "en", "page-3")  # the same browser, a new page
    chat.open(reloaded, conv)
    view = chat.view(reloaded)
    assert TRAMWAY in view and 'class="ancre-card"' in view and "sure" in view


def test_new_open_rename_and_delete(chat):
    ask(chat, ALICE, TRAMWAY)
    first = chat.current(ALICE)
    chat.open(ALICE, None)
    ask(chat, ALICE, BAKERY)
    assert [c.title for c in chat.conversations(ALICE)] == [title_for(BAKERY), TRAMWAY]
    chat.open(ALICE, first)
    assert TRAMWAY in chat.view(ALICE) and BAKERY not in chat.view(ALICE)
    assert chat.rename(ALICE, "  Le   tramway ")
    assert chat.conversations(ALICE)[-1].title == "Le tramway"
    chat.delete(ALICE)
    assert [c.title for c in chat.conversations(ALICE)] == [title_for(BAKERY)]
    assert chat.current(ALICE) is None and "ancre-empty" in chat.view(ALICE)


def test_a_failure_is_shown_stored_and_can_be_retried(tmp_path, spy):
    calls = []

    def broken(options):
        calls.append(options)
        if len(calls) == 1:
            raise StoreError("no index in /srv/secret/index")
        return spy(options)

    chat = WebChat(broken, AnswerSettings(llm="scripted", span_first_above=1.01), store(tmp_path))
    views = ask(chat, ALICE, TRAMWAY)
    assert "Pas encore d’index" in views[-1] and "/srv/secret" not in views[-1]
    assert chat.store.turns(ALICE.owner, chat.current(ALICE))[0].status == "failed"
    chat.regenerate(ALICE, 0, chat.options())
    assert "13 septembre 2025" in list(chat.drain(ALICE))[-1]


def test_the_api_answers_without_storing(chat):
    answer = chat.ask(TRAMWAY, chat.options(llm="none"))
    assert not answer.generated and "13 septembre 2025" in answer.text
    assert not chat.store.path.exists()
    with pytest.raises(ValueError, match="too long"):
        chat.ask("x" * 500, chat.options())


def test_the_store_round_trips_answers_and_checks_owners(tmp_path, chat):
    ask(chat, ALICE, TRAMWAY)
    saved = chat.store.turns(ALICE.owner, chat.current(ALICE))[0].answer
    again = ConversationStore(chat.store.path).turns(ALICE.owner, chat.current(ALICE))[0].answer
    assert again == saved and again.citations[0].sentence_start >= 0
    conv = chat.current(ALICE)
    assert not chat.store.rename("browser:bob", conv, "volé")
    assert not chat.store.delete("browser:bob", conv)
    assert chat.store.save_turn("browser:bob", conv, Turn(0, "?", None)) is None
    assert len(chat.store.turns(ALICE.owner, conv)) == 1
    empty = ConversationStore(tmp_path / "none" / "c.sqlite")
    assert empty.list("x") == [] and empty.turns("x", "y") == []
    assert not (tmp_path / "none").exists()


def test_another_user_with_the_same_session_hash_reaches_nothing(chat):
    """Gradio's session hash is chosen by the client: it is no key to another's page."""
    chat.submit(ALICE, TRAMWAY, chat.options())
    chat.submit(ALICE, BAKERY, chat.options())
    mallory = Viewer("user:mallory", "fr", ALICE.page)
    assert chat.stop(mallory) == [] and not chat.busy(mallory)
    assert TRAMWAY not in chat.view(mallory)
    assert chat.busy(ALICE) and chat.stop(ALICE) == [TRAMWAY, BAKERY]


def test_the_generators_offered_are_the_only_ones_taken(chat):
    assert chat.generators()[0] == "scripted" and "none" in chat.generators()
    assert chat.options(llm="none").llm == "none"
    for spec in ("openai:http://127.0.0.1:9/v1", "hf:owner/repo/m.gguf", "/etc/passwd"):
        with pytest.raises(ValueError, match="unknown generator"):
            chat.options(llm=spec)


class GatedGenerator(ScriptedGenerator):
    """Writes nothing until ``gate`` is set: the test says when an answer may end."""

    def __init__(self, gate: threading.Event):
        super().__init__(reply)
        self.gate = gate

    def generate(self, *args, **kwargs):
        self.gate.wait(30)
        yield from super().generate(*args, **kwargs)


def test_a_page_reloaded_during_an_answer_shows_it_and_follows_it(chat, spy):
    """The page closes mid-answer (a reload): the answer goes on, and the owner's new page
    on the same conversation shows the question in progress, then the answer."""
    gate = threading.Event()
    spy.generator = GatedGenerator(gate)
    chat.submit(ALICE, TRAMWAY, chat.options())
    running = chat.drain(ALICE)
    assert "ancre-working" in next(running)
    chat.close(Viewer("", "fr", ALICE.page))  # as the page's unload says it
    again = Viewer(ALICE.owner, "fr", "page-2")
    chat.open(again, chat.conversations(ALICE)[0].id)
    shown = chat.view(again)
    assert TRAMWAY in shown and "ancre-working" in shown
    assert chat.view(Viewer("browser:bob", "fr", "page-3")).count(TRAMWAY) == 0
    follower = chat.follow(again, every=0.01)
    assert "ancre-working" in next(follower)
    gate.set()
    list(running)  # the closed page's own run stops there
    views = list(follower)
    assert "13 septembre 2025" in views[-1] and "ancre-working" not in views[-1]
    assert views[-1].count(f'ancre-bubble">{TRAMWAY}') == 1
    assert chat.elsewhere(again) == [] and list(chat.follow(again)) == []


def test_an_edited_question_is_asked_again_and_the_earlier_version_kept(chat, spy):
    ask(chat, ALICE, TRAMWAY)
    ask(chat, ALICE, STATIONS)
    refused = chat.regenerate(ALICE, 1, chat.options(), question="   ")
    assert not refused.accepted and "question" in refused.message
    assert chat.regenerate(ALICE, 1, chat.options(), question=BAKERY).accepted
    shown = list(chat.drain(ALICE))[-1]
    assert spy.histories[-1][0]["content"] == TRAMWAY  # the turns before it, as history
    turns = chat.store.turns(ALICE.owner, chat.current(ALICE))
    assert [t.question for t in turns] == [TRAMWAY, BAKERY]
    assert [t.question for t in turns[1].earlier] == [STATIONS]
    assert "21 stations" in turns[1].earlier[0].answer.text
    assert 'data-versions="2"' in shown and "2/2" in shown and "Fournil" in shown
    chat.regenerate(ALICE, 1, chat.options())
    list(chat.drain(ALICE))
    again = chat.store.turns(ALICE.owner, chat.current(ALICE))[1]
    assert again.question == BAKERY and len(again.earlier) == 2


def test_feedback_is_kept_on_the_turn_and_a_new_version_starts_without(chat):
    ask(chat, ALICE, TRAMWAY)
    assert chat.rate(ALICE, 0, "down", "  le 13 septembre\n2025 ")
    assert not chat.rate(Viewer("browser:bob", "fr", "page-1"), 0, "up")  # not Bob's
    with pytest.raises(ValueError):
        chat.rate(ALICE, 0, "meh")
    turn = chat.store.turns(ALICE.owner, chat.current(ALICE))[0]
    assert (turn.rating, turn.comment) == ("down", "le 13 septembre 2025")
    shown = chat.view(ALICE)
    assert 'data-rating="down" aria-pressed="true"' in shown and "le 13 septembre 2025" in shown
    [(conv, rated)] = chat.store.rated()
    assert conv == chat.current(ALICE) and rated.question == TRAMWAY
    chat.regenerate(ALICE, 0, chat.options())
    list(chat.drain(ALICE))
    turn = chat.store.turns(ALICE.owner, chat.current(ALICE))[0]
    assert turn.rating == "" and turn.earlier[0].rating == "down"


def test_an_older_conversations_file_gains_the_new_columns(tmp_path):
    import sqlite3

    path = tmp_path / "conversations.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE conversations (id TEXT PRIMARY KEY, owner TEXT NOT NULL, "
            "title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);"
            "CREATE TABLE turns (conversation TEXT NOT NULL, seq INTEGER NOT NULL, "
            "question TEXT NOT NULL, answer TEXT, status TEXT NOT NULL, note TEXT NOT NULL "
            "DEFAULT '', created REAL NOT NULL, PRIMARY KEY (conversation, seq));"
            "INSERT INTO conversations VALUES ('c1', 'o', 'T', 1, 1);"
            "INSERT INTO turns VALUES ('c1', 0, 'Q ?', NULL, 'stopped', '', 1);"
        )
    kept = ConversationStore(path)
    assert kept.rate("o", "c1", 0, "up")
    [turn] = kept.turns("o", "c1")
    assert (turn.question, turn.rating, turn.suggestions, turn.earlier) == ("Q ?", "up", [], [])
    assert kept.list("o")[0].text == "Q ?"


def test_rated_answers_are_exported_as_a_question_set_that_eval_reads(chat, tmp_path, capsys):
    from ancre.qa.measure.questions import read_questions
    from ancre.ui.cli import main

    ask(chat, ALICE, TRAMWAY)  # stated, marked right
    ask(chat, ALICE, BAKERY)  # marked wrong, corrected
    ask(chat, ALICE, STATIONS)  # marked wrong, no correction
    ask(chat, ALICE, "Quel est le cours de l'or à la Bourse de Tokyo ?")  # not rated
    chat.rate(ALICE, 0, "up")
    chat.rate(ALICE, 1, "down", "Le Fournil de Margaux")
    chat.rate(ALICE, 2, "down")
    out = tmp_path / "feedback" / "rated.jsonl"
    index_dir = chat.store.path.parent
    assert main(["eval", "--feedback-out", str(out), "--index-dir", str(index_dir)]) == 0
    assert "1 answers marked right, 2 marked wrong" in capsys.readouterr().out
    questions, corpus = read_questions(out)
    assert corpus == [] and [q.question for q in questions] == [TRAMWAY, BAKERY, STATIONS]
    right, corrected, wrong = questions
    assert right.answers[0].startswith("Le samedi 13 septembre 2025") and right.doc_id
    assert right.answerable and corrected.answers == ["Le Fournil de Margaux"]
    assert wrong.answerable and wrong.answers == []
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["rating"] for r in rows] == ["up", "down", "down"] and rows[2]["given"]


def shown(html: str) -> int:
    return int(re.search(r'class="ancre-thread[^"]*"[^>]*data-shown="(\d+)"', html).group(1))


def test_a_thread_drawn_before_leaving_a_conversation_is_stamped_older(chat):
    ask(chat, ALICE, TRAMWAY)
    drawn = chat.view(ALICE)  # drawn, then the user starts a new conversation
    assert shown(chat.view(ALICE)) == shown(drawn)  # nothing changed: the same stamp
    chat.open(ALICE, None)
    new = chat.view(ALICE)
    assert "ancre-empty" in new and shown(new) > shown(drawn)
    chat.stop(ALICE)
    assert shown(chat.view(ALICE)) > shown(new)
    other = Viewer("browser:bob", "fr", "page-2")
    assert shown(chat.view(other)) > shown(new)  # a page made later: above them all
