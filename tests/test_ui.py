"""The web chat's logic with a stub answerer: no models, no browser."""

from __future__ import annotations

import re

import pytest

from ancre.index import IndexSettings
from ancre.qa import (
    Answer,
    Answerer,
    AnswerSettings,
    AnswerStream,
    Citation,
    Event,
    Passage,
    Retriever,
)
from ancre.ui import render as ui_app
from ancre.ui.chat import WebChat, generator_choices
from ancre.ui.render import escape_md, render_answer, render_sources, safe_url
from ancre.ui.uploads import UploadRefused, sanitize_filename, store_upload
from conftest import HashEmbedder, ScriptedGenerator

QUESTION = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"
SENTENCE = "Les premières rames de la ligne C circuleront le samedi 13 septembre 2025."
PASSAGE = f"La métropole a fixé la date. {SENTENCE} Longue de 11,4 km, 21 stations."
TITLE = "Bellerive-sur-Loire : la ligne C du tramway ouvrira le 13 septembre 2025"
URL = "https://www.lecho-de-loire.example/bellerive/tramway"
EVIL = '<script>window.pwned=1</script><img src=x onerror="alert(1)">'


def passage(rank=1, text=PASSAGE, title=TITLE, url=URL) -> Passage:
    return Passage(
        rank=rank,
        chunk_id=rank,
        doc_id=f"doc-{rank}.md",
        title=title,
        url=url,
        date="2025-06-18",
        text=text,
        start=0,
        end=len(text),
        score=1.0,
    )


def citation(p: Passage, sentence: str = SENTENCE) -> Citation:
    start = p.text.index(sentence)
    return Citation(
        number=p.rank,
        doc_id=p.doc_id,
        title=p.title,
        url=p.url,
        date=p.date,
        chunk_id=p.chunk_id,
        text=p.text,
        sentence=sentence,
        sentence_start=start,
        sentence_end=start + len(sentence),
        support=1.0,
    )


def answer_for(
    question: str, p: Passage | None = None, *, abstained: bool = False, text: str | None = None
) -> Answer:
    p = p or passage()
    if abstained:
        return Answer(
            text="Les articles indexés ne répondent pas à cette question.",
            citations=[],
            passages=[p, passage(2)],
            abstained=True,
            mode="abstained",
            question=question,
            models={"llm": "stub"},
            timings={"total": 0.1},
        )
    return Answer(
        text=text or f"Le samedi 13 septembre 2025 [1].\n\n> « {SENTENCE} » [1]",
        citations=[citation(p)],
        passages=[p],
        abstained=False,
        mode="generated",
        question=question,
        models={"llm": "stub-llm"},
        timings={"total": 1.5},
    )


class StubAnswerer:
    """An Answerer's interface with a scripted stream: stages, draft pieces, the Answer.
    Records each call."""

    def __init__(self, pieces=("Le samedi ", "13 septembre", " [1]"), answer=None, error=None):
        self.pieces = pieces
        self.answer = answer
        self.error = error
        self.calls: list[dict] = []

    def stream(self, question, *, history=None, filters=None, options=None):
        self.calls.append({"question": question, "history": history, "options": options})
        if self.error is not None:
            raise self.error
        events = [Event("stage", "retrieving"), *(Event("draft", p) for p in self.pieces)]
        answer = self.answer or answer_for(question)
        return AnswerStream([*events, Event("answer", answer.text), answer])


def make_web(tmp_path, stub=None, llm="gemma", **kwargs) -> WebChat:
    stub = stub or StubAnswerer()
    web = WebChat(
        lambda options: stub,
        AnswerSettings(llm=llm),
        IndexSettings(index_dir=str(tmp_path / "index")),
        **kwargs,
    )
    web.stub = stub
    return web


@pytest.fixture
def web(tmp_path) -> WebChat:
    return make_web(tmp_path)


def run(web: WebChat, message: str, chat=None, history=None, turns=None, **kw) -> list[tuple]:
    return list(
        web.respond(
            message,
            chat or [],
            history or [],
            turns or [],
            kw.get("top_k", 5),
            kw.get("llm", "gemma"),
            kw.get("temperature", 0.0),
        )
    )


def test_create_app_builds(tmp_path):
    import gradio as gr

    from ancre.ui.app import create_app

    demo = create_app(make_web(tmp_path))
    assert isinstance(demo, gr.Blocks)
    chatbots = [b for b in demo.blocks.values() if isinstance(b, gr.Chatbot)]
    assert len(chatbots) == 1
    bot = chatbots[0]
    assert bot.sanitize_html is True and bot.render_markdown is True
    assert bot.latex_delimiters == []
    assert not (tmp_path / "index").exists(), "building the page must not write the index"


def test_streams_then_shows_final_answer_with_links_and_sources(web):
    outs = run(web, "  " + QUESTION + "  ")
    assert len(outs) >= 4
    # first: the question and a waiting message; the text box is emptied
    box, chat, history, _turns, panel = outs[0]
    assert box == "" and chat[0]["role"] == "user" and "Recherche" in chat[1]["content"]
    # then the draft grows, marked as a draft in progress
    drafts = [o[1][-1]["content"] for o in outs[1:-1]]
    assert drafts[-1].startswith(ui_app.DRAFT) and "13 septembre" in drafts[-1]
    assert drafts[-1].endswith("▌")
    # finally the verified answer replaces the draft
    box, chat, history, _turns, panel = outs[-1]
    final = chat[-1]["content"]
    assert ui_app.DRAFT not in final and "▌" not in final
    assert "Le samedi 13 septembre 2025" in final
    assert "[\\[1\\]](#ancre-src-0-1" in final, final
    assert "générée" in final and "stub" in final  # the mode is visible
    assert len(chat) == 2
    # the sources panel: anchor, title, date, link, passage with the sentence marked
    assert 'id="ancre-src-0-1"' in panel
    assert "Bellerive-sur-Loire : la ligne C" in panel and "2025-06-18" in panel
    assert f'href="{URL}"' in panel and 'rel="noopener noreferrer nofollow"' in panel
    assert f"<mark>{SENTENCE}</mark>" in panel
    assert "La métropole a fixé la date." in panel
    # the answerer got the question, no history, and this question's options
    call = web.stub.calls[0]
    assert call["question"] == QUESTION and call["history"] == []
    assert call["options"].top_k == 5 and call["options"].llm == "gemma"
    assert history == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": answer_for(QUESTION).text},
    ]


def test_follow_up_gets_history_and_keeps_earlier_sources(web):
    *_, (_, chat, history, turns, _) = run(web, QUESTION)
    *_, (_, chat, history, turns, panel) = run(
        web, "Et combien de stations ?", chat, history, turns
    )
    second = web.stub.calls[1]
    assert second["history"] == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": answer_for(QUESTION).text},
    ]
    assert len(chat) == 4 and len(history) == 4 and len(turns) == 2
    assert "#ancre-src-1-1" in chat[-1]["content"]
    # newest turn first and open, the earlier one folded but still linkable
    assert panel.index('id="ancre-src-1-1"') < panel.index('id="ancre-src-0-1"')
    assert panel.count("<details") == 2 and panel.count(" open>") == 1


def test_settings_are_passed_per_question_without_mutating_shared_settings(web):
    run(web, QUESTION, top_k=3, llm="none", temperature=0.7)
    call = web.stub.calls[0]
    assert call["options"].top_k == 3
    assert call["options"].llm == "none" and call["options"].temperature == 0.7
    assert web.settings.llm == "gemma" and web.settings.temperature == 0.0


def test_extractive_mode_has_no_draft_label(tmp_path):
    a = answer_for(QUESTION)
    a.mode = "extractive"
    web = make_web(tmp_path, StubAnswerer(pieces=(), answer=a), llm="none")
    outs = run(web, QUESTION, llm="none")
    assert all(ui_app.DRAFT not in o[1][-1]["content"] for o in outs)
    assert "extractive" in outs[-1][1][-1]["content"]


def test_abstention_is_shown_with_closest_passages(tmp_path):
    web = make_web(tmp_path, StubAnswerer(pieces=(), answer=answer_for(QUESTION, abstained=True)))
    *_, (_, chat, _history, _turns, panel) = run(web, "Combien coûte un ticket ?")
    final = chat[-1]["content"]
    assert final.startswith("⚠️") and "Abstention" in final
    assert "ne répondent pas" in final
    assert "Aucune réponse dans les articles" in panel
    assert 'id="ancre-src-0-1"' in panel and 'id="ancre-src-0-2"' in panel
    assert "<mark>" not in panel


def test_errors_are_shown_in_the_chat(tmp_path):
    web = make_web(
        tmp_path, StubAnswerer(error=ValueError("the question is 5000 characters long <b>"))
    )
    *_, (_, chat, history, turns, _) = run(web, QUESTION)
    assert "5000 characters" in chat[-1]["content"] and "<b>" not in chat[-1]["content"]
    assert history == [] and turns == []


def test_empty_message_does_nothing(web):
    outs = run(web, "   ")
    assert outs == [("", [], [], [], ui_app.NO_SOURCES)]
    assert web.stub.calls == []


def test_sessions_have_their_own_history(web):
    """Two browser tabs: each keeps its own conversation (nothing shared in the app)."""
    *_, (_, chat_a, hist_a, turns_a, _) = run(web, "Question de l'onglet A ?")
    *_, (_, chat_b, hist_b, turns_b, _) = run(web, "Question de l'onglet B ?")
    run(web, "Et ensuite A ?", chat_a, hist_a, turns_a)
    run(web, "Et ensuite B ?", chat_b, hist_b, turns_b)
    calls = web.stub.calls
    assert calls[1]["history"] == []  # B's first question does not see A's
    assert calls[2]["history"][0]["content"] == "Question de l'onglet A ?"
    assert calls[3]["history"][0]["content"] == "Question de l'onglet B ?"
    assert len(calls[3]["history"]) == 2
    # the inputs were not modified in place (Gradio keeps them per session)
    assert len(hist_a) == 2 and len(chat_a) == 2 and len(turns_a) == 1


def test_session_state_is_gradio_state(tmp_path):
    import gradio as gr

    from ancre.ui.app import create_app

    demo = create_app(make_web(tmp_path))
    states = [b for b in demo.blocks.values() if isinstance(b, gr.State)]
    assert len(states) >= 2


# ---------------------------------------------------------------- escaping


def test_answer_and_passages_are_escaped():
    p = passage(
        text=f"Avant {EVIL}. {SENTENCE} {EVIL} après.",
        title=f"Titre {EVIL}",
        url="javascript:alert(1)",
    )
    a = answer_for(QUESTION, p, text=f"Réponse {EVIL} [1].\n\n> « {SENTENCE} {EVIL} » [1]")
    a.models["llm"] = "<img src=x onerror=alert(2)>"
    md = render_answer(a, 0)
    assert "<script" not in md and "<img" not in md
    assert "&lt;script&gt;" not in md  # only '<' needs escaping in Markdown
    assert "&lt;script>" in md and "&lt;img src=x onerror" in md
    html_ = render_sources(a, 0)
    assert "<script" not in html_ and "<img" not in html_
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html_
    assert "onerror=&quot;alert(1)&quot;" in html_
    assert 'href="javascript' not in html_ and "javascript:alert(1)" in html_  # as text
    assert f"<mark>{SENTENCE}</mark>" in html_


def test_draft_is_escaped(tmp_path):
    web = make_web(
        tmp_path, StubAnswerer(pieces=(EVIL, " **gras** ![x](http://evil.example/x.png)"))
    )
    outs = run(web, f"Une question {EVIL}")
    for _, chat, *_ in outs:
        for message in chat:
            assert "<script" not in message["content"] and "<img" not in message["content"]
    draft = outs[-2][1][-1]["content"]
    assert "\\*\\*gras\\*\\*" in draft and "!\\[x\\]" in draft


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a *b* _c_ `d` ~~e~~ $$f$$", "a \\*b\\* \\_c\\_ \\`d\\` \\~\\~e\\~\\~ \\$\\$f\\$\\$"),
        ("[lien](javascript:alert(1))", "\\[lien\\](javascript:alert(1))"),
        ("# Titre", "\\# Titre"),
        ("1. premier", "1\\. premier"),
        ("---", "\\---"),
        ("    code", "code"),
        ("AT&T &amp; co", "AT&T &amp;amp; co"),
        ("> « cité » et 3 > 2", "> « cité » et 3 > 2"),
        ("- item", "- item"),
        ("a <b>c</b>", "a &lt;b>c&lt;/b>"),
    ],
)
def test_escape_md(text, expected):
    assert escape_md(text) == expected


def test_citation_markers_without_citation_stay_text():
    a = answer_for(QUESTION, text="Voir [1] et [7].")
    md = render_answer(a, 3)
    assert "(#ancre-src-3-1" in md and "\\[7\\]" in md and "src-3-7" not in md


def test_safe_url():
    assert safe_url(URL) == URL
    for bad in (
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///etc/passwd",
        'https://x.example/"onmouseover=alert(1)',
        "",
    ):
        assert safe_url(bad) == ""


def test_highlight_bad_offsets_escape_everything():
    p = passage(text="<b>texte</b>")
    c = citation(p, "texte")
    c.sentence_start, c.sentence_end = 5, 500
    a = answer_for(QUESTION, text="x [1]")
    a.citations, a.passages = [c], [p]
    out = render_sources(a, 0)
    assert "<mark>" not in out and "&lt;b&gt;texte&lt;/b&gt;" in out


# ---------------------------------------------------------------- uploads


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("article.md", "article.md"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\Windows\\evil.HTML", "evil.html"),
        ("Élection à Saint-Aubin (2024).md", "Election-a-Saint-Aubin-2024.md"),
        (".hidden.txt", "hidden.txt"),
        ("..md", "document.md"),
        ("a b;rm -rf ~.jsonl", "a-b-rm-rf.jsonl"),
        ("x" * 150 + ".pdf", "x" * 96 + ".pdf"),
    ],
)
def test_sanitize_filename(name, expected):
    assert sanitize_filename(name) == expected


@pytest.mark.parametrize(
    "name", ["virus.exe", "page.php", "noext", "archive.tar.gz", "x.md.sh", ""]
)
def test_bad_extensions_are_refused(name):
    with pytest.raises(UploadRefused):
        sanitize_filename(name)


def test_store_upload_stays_in_uploads(tmp_path):
    index_dir = tmp_path / "index"
    src = tmp_path / "incoming" / "..%2F..%2Fevil name.md"
    src.parent.mkdir()
    src.write_text("# Titre\n\nTexte.", encoding="utf-8")
    target = store_upload(src, index_dir, original_name="../../../evil name.md")
    assert target == (index_dir / "uploads" / "evil-name.md").resolve()
    assert target.read_text(encoding="utf-8") == "# Titre\n\nTexte."
    assert sorted(p.name for p in (index_dir / "uploads").iterdir()) == ["evil-name.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["incoming", "index"]


def test_oversize_and_empty_uploads_are_refused(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (2 * 1024 * 1024 + 1))
    with pytest.raises(UploadRefused, match="limite de 2 Mo"):
        store_upload(big, tmp_path / "index", max_mb=2)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(UploadRefused, match="vide"):
        store_upload(empty, tmp_path / "index")
    assert not (tmp_path / "index" / "uploads").exists() or not any(
        (tmp_path / "index" / "uploads").iterdir()
    )


def test_store_uploads_reports_refusals(tmp_path):
    web = make_web(tmp_path, max_upload_mb=1)
    good = tmp_path / "bon article.txt"
    good.write_text("Titre\nTexte de l'article.", encoding="utf-8")
    bad = tmp_path / "script.sh"
    bad.write_text("echo", encoding="utf-8")
    big = tmp_path / "gros.md"
    big.write_bytes(b"a" * (1024 * 1024 + 10))
    stored, refused = web.store_uploads([str(good), str(bad), str(big)])
    assert [p.name for p in stored] == ["bon-article.txt"]
    assert len(refused) == 2
    assert any("script.sh" in r and ".sh" in r for r in refused)
    assert any("gros.md" in r and "Mo" in r for r in refused)


def test_build_refuses_server_folder_when_paths_are_not_allowed(tmp_path):
    web = make_web(tmp_path, allow_paths=False)
    report = web.build(None, str(tmp_path))
    assert "désactivée" in report and "Rien à indexer" in report
    assert not (tmp_path / "index").exists()


def test_stats_without_index(tmp_path):
    web = make_web(tmp_path)
    assert "Pas encore d’index" in web.stats_markdown()
    assert web.document_choices() == []


def test_no_index_error_is_explained(tmp_path):
    from ancre.index import StoreError

    web = make_web(tmp_path, StubAnswerer(error=StoreError("no index in /tmp/x: build one")))
    *_, (_, chat, *_rest) = run(web, QUESTION)
    assert "onglet Index" in chat[-1]["content"]


def test_generator_choices_keep_the_configured_one():
    assert generator_choices("/models/x.gguf")[0] == "/models/x.gguf"
    assert "none" in generator_choices("gemma")


def test_cli_help_does_not_import_gradio():
    import subprocess
    import sys

    code = (
        "import sys, ancre.ui.cli\n"
        "try:\n    ancre.ui.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'gradio' not in sys.modules and 'ancre.qa.answer' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert re.search(r"\bchat\b", out.stdout)


def test_index_tab_builds_and_removes_uploads(tmp_path):
    """A real index (hashing embedder): upload, build incrementally, remove."""
    index_dir = tmp_path / "index"
    web = make_web(tmp_path, embedder=HashEmbedder())
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    one = incoming / "Article un.md"
    one.write_text(
        "# Le pont rouvre\ndate: 2025-05-01\n\nLe pont de Zorglub rouvre lundi.", encoding="utf-8"
    )
    feed = incoming / "depeches.jsonl"
    feed.write_text(
        '{"id": "d1", "title": "Dépêche 1", "text": "Premier texte de dépêche."}\n'
        '{"id": "d2", "title": "Dépêche 2", "text": "Second texte de dépêche."}\n',
        encoding="utf-8",
    )
    steps = []
    report = web.build(
        [str(one), str(feed), str(incoming / "nope.exe")],
        None,
        progress=lambda f, desc="": steps.append(f),
    )
    assert "3 ajouté" in report and "refusé" in report and "nope.exe" in report
    assert steps[0] == 0.0 and steps[-1] == 1.0
    stats = web.stats_markdown()
    assert "**Documents** : 3" in stats
    assert sorted(v for _, v in web.document_choices()) == ["Article-un.md", "d1", "d2"]
    # a second build with nothing new is incremental
    assert "0 ajouté(s), 0 mis à jour, 3 inchangé(s)" in web.build(None, None)
    # removing one of the file's documents keeps the file; removing all deletes it
    assert "1 document(s) retiré(s)" in web.remove(["d1"])
    assert (index_dir / "uploads" / "depeches.jsonl").exists()
    assert "2 document(s) retiré(s)" in web.remove(["d2", "Article-un.md"])
    assert sorted(p.name for p in (index_dir / "uploads").iterdir()) == []
    assert [v for _, v in web.document_choices()] == []
    assert "Introuvables" in web.remove(["ghost"])


def test_stop_drops_an_unfinished_answer(web):
    outs = run(web, QUESTION)
    draft_chat = outs[-2][1]
    assert draft_chat[-1]["content"].endswith("▌")
    # Gradio hands the chat back as content blocks
    as_blocks = [
        {"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in draft_chat
    ]
    stopped = WebChat.stopped(as_blocks)
    assert stopped[-1]["content"] == ui_app.STOPPED and stopped[0] == as_blocks[0]
    final_chat = outs[-1][1]
    assert WebChat.stopped(final_chat) == final_chat  # a finished answer stays
    assert WebChat.stopped([]) == []


def test_next_question_cleans_an_answer_left_unfinished(web):
    """Gradio can deliver a cancelled answer's last draft after Stop: the next question
    replaces it."""
    stale = [
        {"role": "user", "content": "Avant ?"},
        {"role": "assistant", "content": [{"type": "text", "text": "brouillon ▌"}]},
    ]
    *_, (_, chat, *_rest) = run(web, QUESTION, chat=stale)
    assert chat[1]["content"] == ui_app.STOPPED and len(chat) == 4


def test_answers_through_a_real_answerer_over_fakes(tiny_index, tmp_path):
    """The controller with ancre's Answerer (hashing embedder, scripted generator) over the
    sample articles: the factory gets each question's options."""
    generator = ScriptedGenerator("Le samedi 13 septembre 2025 [1].")
    retriever = Retriever.open(tiny_index, embedder=HashEmbedder())
    asked: list[AnswerSettings] = []

    def answerers(options: AnswerSettings) -> Answerer:
        asked.append(options)
        return Answerer(retriever, generator, options)

    web = WebChat(
        answerers, AnswerSettings(llm="scripted"), IndexSettings(index_dir=str(tiny_index))
    )
    *_, (_, chat, history, _turns, panel) = run(web, QUESTION, top_k=4, llm="scripted")
    assert asked[0].top_k == 4 and asked[0].llm == "scripted"
    assert "13 septembre 2025" in chat[-1]["content"]
    assert "tramway" in panel.lower() and "<mark>" in panel
    assert len(history) == 2 and generator.prompts
