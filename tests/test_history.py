"""The sidebar's list of conversations (dated, grouped, searchable) and the Markdown export."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from ancre.qa import Answer, Citation
from ancre.ui.conversations import Conversation, Turn
from ancre.ui.history import group_of, markdown, render_history

NOW = datetime(2026, 12, 6, 15, 30).timestamp()


def ago(**delta) -> float:
    return (datetime.fromtimestamp(NOW) - timedelta(**delta)).timestamp()


def test_conversations_are_grouped_by_today_this_week_and_older():
    assert group_of(ago(hours=15), NOW) == "today"  # 00:30 the same day
    assert group_of(ago(hours=16), NOW) == "week"  # 23:30 the day before
    assert group_of(ago(days=6), NOW) == "week"
    assert group_of(ago(days=7), NOW) == "older"


def test_the_list_names_the_groups_dates_entries_and_escapes_titles():
    convs = [
        Conversation("a", "Le <b>tramway</b>", ago(hours=1), ago(hours=1), "Quand ?\nEt alors ?"),
        Conversation("b", "La boulangerie", ago(days=2), ago(days=2), "Qui ?"),
        Conversation("c", "Le pont", ago(days=40), ago(days=40), "Combien ?"),
    ]
    html = render_history(convs, "b", "fr", now=NOW)
    assert [h for h in ("Aujourd’hui", "Cette semaine", "Plus ancien") if h in html] == [
        "Aujourd’hui",
        "Cette semaine",
        "Plus ancien",
    ]
    assert html.index("tramway") < html.index("boulangerie") < html.index("Le pont")
    assert "<b>" not in html and "Le &lt;b&gt;tramway&lt;/b&gt;" in html
    assert 'data-id="b" aria-current="true"' in html and html.count("aria-current") == 1
    assert ">14:30</time>" in html and "4 décembre 2026</time>" in html
    assert 'data-text="Le &lt;b&gt;tramway&lt;/b&gt;\nQuand ?\nEt alors ?"' in html
    assert "Aucune conversation enregistrée" in render_history([], None, "fr")
    assert ">Today</h3>" in render_history(convs, None, "en", now=NOW)


def test_a_conversation_as_markdown_with_its_sources():
    cited = Citation(
        number=1,
        chunk_id=3,
        doc_id="articles/tram.md",
        title="La ligne C ouvrira le 13 septembre",
        url="https://www.example.org/tram",
        date="2025-06-18",
        text="La ligne C ouvrira le samedi 13 septembre 2025.",
        sentence="La ligne C ouvrira le samedi 13 septembre 2025.",
        sentence_start=0,
        sentence_end=47,
    )
    answer = Answer(
        text="Le samedi 13 septembre 2025 [1].\n\n> « La ligne C ouvrira le samedi 13 septembre "
        "2025. » [1]",
        citations=[cited],
        passages=[],
        abstained=False,
        mode="stated",
        short_answer="Le samedi 13 septembre 2025",
    )
    conv = Conversation("a", "Le tramway", time.time(), time.time())
    text = markdown(
        conv, [Turn(0, "Quand ouvre la ligne C ?", answer), Turn(1, "Et ?", None, "stopped")], "fr"
    )
    assert text.startswith("# Le tramway\n")
    assert "## Question 1 : Quand ouvre la ligne C ?\n\n**Le samedi 13 septembre 2025**" in text
    assert "> « La ligne C ouvrira le samedi 13 septembre 2025. » [1]" in text
    assert (
        "Sources :\n\n1. La ligne C ouvrira le 13 septembre (18 juin 2025 · https://www.example.org/tram)"
        in text
    )
    assert "## Question 2 : Et ?\n\nInterrompu." in text
