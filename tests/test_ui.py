"""The web page's pure parts: rendering (escaping, answer first, chips, cards, thread),
the page's texts, and uploads. No gradio, no browser."""

from __future__ import annotations

import re
import string

import pytest

from ancre.qa import Answer, Citation, Passage
from ancre.qa.reading.sentences import Sentence
from ancre.ui import i18n
from ancre.ui.render import (
    TurnView,
    highlight,
    plain_text,
    render_answer,
    render_thread,
    safe_url,
    sources_of,
    summary_line,
)
from ancre.ui.uploads import (
    UploadRefused,
    reason_key,
    sanitize_filename,
    store_upload,
    uploads_dir,
)

QUESTION = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"
SENTENCE = "Les premières rames de la ligne C circuleront le samedi 13 septembre 2025."
PASSAGE = f"La métropole a fixé la date. {SENTENCE} Longue de 11,4 km, 21 stations."
TITLE = "Bellerive-sur-Loire : la ligne C du tramway ouvrira le 13 septembre 2025"
URL = "https://www.lecho-de-loire.example/bellerive/tramway"
EVIL = '<script>window.pwned=1</script><img src=x onerror="alert(1)"> ${7*7} {{x}}'


def passage(rank=1, text=PASSAGE, title=TITLE, url=URL, doc_id=None) -> Passage:
    return Passage(
        rank=rank,
        chunk_id=rank,
        doc_id=doc_id or f"doc-{rank}.md",
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
    return Citation.of(p, Sentence(start, start + len(sentence), sentence), 1.0)


def answer(
    text=None, short="Le samedi 13 septembre 2025", p=None, mode="stated", confidence=0.83
) -> Answer:
    p = p or passage()
    return Answer(
        text=text or f"{short} [1].\n\n> « {SENTENCE} » [1]",
        citations=[citation(p)],
        passages=[p],
        abstained=False,
        mode=mode,
        short_answer=short,
        likely_answer=short or "samedi 13 septembre 2025",
        confidence=confidence,
        generated=True,
        question=QUESTION,
        models={"llm": "gemma-3-270m-Q4_K_M.gguf"},
        timings={"total": 2.6},
    )


def abstention(passages: list[Passage]) -> Answer:
    return Answer(
        text="Les articles indexés ne répondent pas à cette question.\n\n- a\n- b",
        citations=[],
        passages=passages,
        abstained=True,
        mode="abstained",
        timings={"total": 0.1},
    )


def visible_text(html: str) -> str:
    """The text a reader sees (tags dropped, hidden passages and attributes ignored)."""
    html = re.sub(r'<div class="ancre-passages" hidden>.*?</section></div>', "", html, flags=re.S)
    return re.sub(r"<[^>]+>", "", html)


# ---------------------------------------------------------------- answer first


def test_the_short_answer_comes_first_in_bold_and_the_quote_is_folded():
    html = render_answer(answer(), 0, "fr")
    assert html.index("<strong>Le samedi 13 septembre 2025</strong>") < html.index("<details")
    folded = html[html.index("<details") : html.index("</details>")]
    assert SENTENCE in folded and "Voir l’extrait cité" in folded
    assert 'data-src="0-1"' in html  # a chip and a card open source 1 of turn 0
    assert html.count('class="ancre-chip"') == 2 and html.count('class="ancre-card"') == 1
    assert "Réponse · sûre à 83 % · 2,6 s" in html  # how sure ancre is
    assert 'title="Rédigée par gemma-3-270m-Q4_K_M.gguf' in html  # the model in a tooltip


def test_without_a_short_answer_the_quote_is_the_answer_and_shown():
    a = answer(text=f"> « {SENTENCE} » [1]", short="", mode="evidence", confidence=0.31)
    html = render_answer(a, 2, "fr")
    assert "<details" not in html and "<strong>" not in html
    assert '<blockquote class="ancre-quote">« Les premières rames' in html
    # the likely answer is marked in the quote, not stated
    assert '<mark class="ancre-likely">samedi 13 septembre 2025</mark>' in html
    assert "Passage le plus proche, à lire · 2,6 s" in html and 'data-src="2-1"' in html
    assert "confiance 31 %" in html  # the tooltip says how unsure


def test_chips_preview_the_supporting_sentence_and_the_sheet_has_the_passage():
    html = render_answer(answer(), 0, "fr")
    tip = re.search(r'<span class="ancre-tip" role="tooltip">(.*?)</span></button>', html).group(1)
    assert TITLE in tip and SENTENCE in tip
    panel = re.search(r'<section class="ancre-source" id="ancre-src-0-1">.*?</section>', html)
    assert panel and f"<mark>{SENTENCE}</mark>" in panel.group(0)
    assert f'href="{URL}"' in panel.group(
        0
    ) and 'rel="noopener noreferrer nofollow"' in panel.group(0)
    assert "18 juin 2025" in panel.group(0)


def test_abstention_lists_three_closest_articles_as_cards():
    passages = [passage(1), passage(2, doc_id="doc-1.md"), passage(3), passage(4), passage(5)]
    html = render_answer(abstention(passages), 1, "fr")
    assert html.startswith('<div class="ancre-bot ancre-abstained">')
    assert "⚠️ Les articles indexés ne répondent pas" in html
    assert "Passages les plus proches" in html and "- a" not in html
    assert [s.number for s in sources_of(abstention(passages))] == [1, 3, 4]  # one per doc
    assert html.count('class="ancre-card"') == 3 and "<mark>" not in html


def test_a_follow_up_to_ask_in_full_is_not_labelled_as_no_answer():
    a = Answer(
        text="Cette question semble faire suite à une autre, que je n’ai pas : posez-la en entier.",
        citations=[],
        passages=[],
        abstained=True,
        mode="incomplete",
        timings={"total": 0.01},
    )
    html = render_answer(a, 0, "fr")
    assert "Question à reformuler en entier" in html and "posez-la en entier" in html
    assert "Pas de réponse dans les articles" not in html and 'class="ancre-card"' not in html
    assert "Question to ask in full" in render_answer(a, 0, "en")
    assert "Pas de réponse dans les articles" in render_answer(abstention([]), 0, "fr")


def test_markers_without_a_source_stay_text():
    a = answer(text="Voir [1] et [7].", short="")
    html = render_answer(a, 3, "fr")
    assert 'data-src="3-1"' in html and "[7]" in html and "3-7" not in html


def test_english_page():
    html = render_answer(answer(), 0, "en")
    assert "Answer · 83% sure · 2.6 s" in html and "Show the quoted excerpt" in html
    assert "June 18, 2025" in html


def test_copy_gives_the_answer_and_its_sources_as_plain_text():
    text = plain_text(answer(), "fr")
    assert text.splitlines()[0] == "Le samedi 13 septembre 2025"
    assert f"« {SENTENCE} » [1]" in text
    assert f"[1] {TITLE} (2025-06-18 — {URL})" in text


# ---------------------------------------------------------------- escaping


def test_answers_and_documents_are_escaped_everywhere():
    p = passage(text=f"Avant {EVIL}. {SENTENCE} {EVIL} après.", title=f"Titre {EVIL}")
    p.url = "javascript:alert(1)"
    a = answer(
        text=f"Réponse {EVIL} [1].\n\n> « {SENTENCE} {EVIL} » [1]", short=f"Court {EVIL}", p=p
    )
    a.models["llm"] = '"><img src=x onerror=alert(2)>'
    html = render_answer(a, 0, "fr")
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert 'onerror="' not in html and "onerror=&quot;alert(1)&quot;" in html
    assert "href=" not in html.replace(f'href="{URL}"', "")  # no javascript: link
    assert "javascript:alert(1)" in html  # shown as text in the sheet
    assert "${7*7}" in html  # inserted as data, never evaluated as a template
    assert f"<mark>{SENTENCE}</mark>" in html


def test_questions_and_examples_are_escaped():
    html = render_thread([TurnView(0, EVIL, None, "pending")], "fr", [])
    assert "<script" not in html and "&lt;script&gt;" in html
    html = render_thread([], "fr", [f'a" onclick="x {EVIL}'])
    assert "<script" not in html and 'data-question="a&quot; onclick=&quot;x' in html


def test_safe_url():
    assert safe_url(URL) == URL
    for bad in (
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///etc/passwd",
        'https://x/"a',
        "",
    ):
        assert safe_url(bad) == ""


def test_highlight_with_bad_offsets_escapes_everything():
    assert highlight("<b>texte</b>", 5, 500) == "&lt;b&gt;texte&lt;/b&gt;"
    assert highlight("a\nb c", 2, 3) == "a<br><mark>b</mark> c"


def test_no_server_path_is_shown():
    p = passage(doc_id="/home/alice/corpus/2025/article.md", url="")
    html = render_answer(answer(p=p), 0, "fr")
    assert "/home/alice" not in html and "article.md" in html


# ---------------------------------------------------------------- the thread


def test_the_thread_shows_stages_pending_questions_and_retry():
    views = [
        TurnView(0, "Q1 ?", answer()),
        TurnView(1, "Q2 ?", None, "stopped"),
        TurnView(2, "Q3 ?", None, "failed", "error_no_index"),
        TurnView(3, "Q4 ?", None, "working", "drafting"),
        TurnView(4, "Q5 ?", None, "pending"),
    ]
    html = render_thread(views, "fr", ["exemple ?"])
    text = visible_text(html)
    assert 'data-turns="5"' in html and "exemple" not in html
    assert "Interrompu." in text and "Pas encore d’index" in text
    assert html.count("ancre-regen") == 3  # Regenerate, and Retry twice
    assert "Rédaction de la réponse…" in text and 'class="ancre-now">Rédaction' in html
    assert 'class="ancre-done">Recherche' in html
    assert "En attente" in text and "ancre-pending" in html


def test_an_empty_thread_offers_the_examples():
    html = render_thread([], "fr", ["Quand ?", "Où ?"])
    assert html.count('class="ancre-example"') == 2 and 'data-question="Où ?"' in html


def test_the_summary_line_says_what_is_indexed():
    assert "14 articles indexés · mis à jour le 18 juin 2025" in summary_line(
        14, 45, "2025-06-18T10:00:00+0000", "fr"
    )
    assert "1 article indexed · updated June 18, 2025" in summary_line(1, 3, "2025-06-18", "en")
    assert "Documents" in summary_line(0, 0, "", "fr")


# ---------------------------------------------------------------- texts


def test_both_languages_have_the_same_texts_and_placeholders():
    fr, en = i18n.table("fr"), i18n.table("en")
    assert fr.keys() == en.keys()
    for key in fr:
        names = [{f for _, f, _, _ in string.Formatter().parse(t[key]) if f} for t in (fr, en)]
        assert names[0] == names[1], key


def test_texts_are_filled_strictly():
    assert i18n.t("fr", "source_n", n=2) == "Source 2"
    with pytest.raises(KeyError):
        i18n.t("fr", "source_n")
    with pytest.raises(KeyError):
        i18n.t("fr", "stopped", n=1)


@pytest.mark.parametrize(
    ("cookie", "accept", "lang"),
    [
        (None, "en-US,en;q=0.9,fr;q=0.8", "en"),
        (None, "de-DE,fr;q=0.7,en;q=0.5", "fr"),
        (None, "de-DE", "fr"),
        (None, "", "fr"),
        ("en", "fr-FR", "en"),
        ("xx", "en-GB", "en"),
    ],
)
def test_the_page_language(cookie, accept, lang):
    assert i18n.choose(cookie, accept) == lang


def test_numbers_and_dates_in_each_language():
    assert i18n.number(2.64, "fr") == "2,6" and i18n.number(2.64, "en") == "2.6"
    assert i18n.count(12000, "fr") == "12\u202f000" and i18n.count(12000, "en") == "12,000"
    assert i18n.date("2025-03-01", "fr") == "1 mars 2025"
    assert i18n.date("2025-03-01", "en") == "March 1, 2025"
    assert i18n.date("printemps", "fr") == "printemps"


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
        ("notes.markdown", "notes.markdown"),
        ("a b;rm -rf ~.jsonl", "a-b-rm-rf.jsonl"),
        ("x" * 150 + ".pdf", "x" * 96 + ".pdf"),
    ],
)
def test_sanitize_filename(name, expected):
    assert sanitize_filename(name) == expected


@pytest.mark.parametrize(
    "name", ["virus.exe", "page.php", "noext", "archive.tar.gz", "x.md.sh", ""]
)
def test_bad_extensions_are_refused_with_a_text_key(name):
    with pytest.raises(UploadRefused) as refused:
        sanitize_filename(name)
    assert refused.value.key == "reason_extension" and ".txt" in refused.value.values["extensions"]


def test_store_upload_stays_in_uploads_and_never_replaces_another_file(tmp_path):
    index_dir = tmp_path / "index"
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    first = incoming / "a.md"
    first.write_text("# Titre\n\nTexte.", encoding="utf-8")
    target = store_upload(first, index_dir, original_name="../../../evil name.md")
    assert target == (index_dir / "uploads" / "evil-name.md").resolve()
    assert store_upload(first, index_dir, original_name="evil name.md") == target  # same file
    other = incoming / "b.md"
    other.write_text("# Autre\n\nAutre texte.", encoding="utf-8")
    beside = store_upload(other, index_dir, original_name="evil name.md")
    assert beside.name == "evil-name-2.md" and target.read_text(encoding="utf-8").startswith(
        "# Titre"
    )
    assert sorted(p.name for p in uploads_dir(index_dir).iterdir()) == [
        "evil-name-2.md",
        "evil-name.md",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["incoming", "index"]


def test_oversize_and_empty_uploads_are_refused(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (2 * 1024 * 1024 + 1))
    with pytest.raises(UploadRefused) as refused:
        store_upload(big, tmp_path / "index", max_mb=2)
    assert refused.value.key == "reason_too_big" and refused.value.values["max"] == "2"
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(UploadRefused, match="reason_empty"):
        store_upload(empty, tmp_path / "index")
    assert not uploads_dir(tmp_path / "index").exists()


@pytest.mark.parametrize(
    ("reason", "key"),
    [
        ("binary content (NUL bytes), not text", "reason_binary"),
        ("cannot detect the text encoding (binary file?)", "reason_encoding"),
        ("empty file", "reason_empty"),
        ("invalid JSON at line 3: Expecting value", "reason_format"),
        ("exact duplicate of already indexed 'x.md'", "reason_duplicate"),
        ("/srv/secret/x.txt: something new", "reason_unreadable"),
    ],
)
def test_loader_reasons_become_texts_without_paths(reason, key):
    assert reason_key(reason)[0] == key
    assert "/" not in i18n.t("fr", key, **reason_key(reason)[1]).replace("/20", "")
