"""The conversation side of the web chat in a real browser, what users of the best chats
expect (issue 23): feedback on an answer, edit a question and keep the earlier answers,
conversations dated, grouped, searchable and exported, follow-up questions that ancre can
answer, the model at the top, and no state that flashes or control that does nothing.

Same server and browser as ``test_browser.py`` (hashing embedder, scripted generator).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from chatserver import BAKERY, TRAMWAY
from test_browser import WAIT_MS, Tab, browser, open_sidebar, server  # noqa: F401

pytestmark = pytest.mark.browser


def test_feedback_with_a_correction_is_kept_and_exported_for_eval(server, browser, tmp_path):  # noqa: F811
    from ancre.qa.measure.questions import read_questions
    from ancre.ui.cli import main

    tab = Tab(browser, server.url)
    page = tab.page
    tab.ask(TRAMWAY)
    page.click("#ancre-chat .ancre-rate[data-rating=down]")
    fix = page.wait_for_selector("#ancre-chat .ancre-fix:not([hidden]) textarea", timeout=WAIT_MS)
    fix.fill("Le samedi 13 septembre 2025 à 10 heures")
    fix.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#ancre-chat .ancre-rated')?.innerText.includes('10 heures')"
    )
    page.reload()
    page.wait_for_selector("#ancre-chat .ancre-rated", timeout=WAIT_MS)
    down = page.locator("#ancre-chat .ancre-rate[data-rating=down]")
    assert down.get_attribute("aria-pressed") == "true"
    assert down.get_attribute("aria-label") == "Réponse fausse"
    out = tmp_path / "rated.jsonl"
    assert main(["eval", "--feedback-out", str(out), "--index-dir", str(server.index_dir)]) == 0
    [asked] = [
        q
        for q in read_questions(out)[0]
        if q.answers == ["Le samedi 13 septembre 2025 à 10 heures"]
    ]
    assert asked.question == TRAMWAY and asked.answerable
    page.click("#ancre-chat .ancre-rate[data-rating=up]")
    page.wait_for_function(
        "() => document.querySelector('#ancre-chat .ancre-rate[data-rating=up]')"
        ".getAttribute('aria-pressed') === 'true'"
    )
    assert down.get_attribute("aria-pressed") == "false"
    tab.close()


def test_an_edited_question_is_answered_again_and_the_first_answer_kept(server, browser):  # noqa: F811
    tab = Tab(browser, server.url)
    page = tab.page
    tab.ask(TRAMWAY)
    page.click("#ancre-chat .ancre-edit")
    area = page.locator("#ancre-chat .ancre-edit-form:not([hidden]) textarea")
    assert area.input_value() == TRAMWAY
    area.fill(BAKERY)
    page.wait_for_selector("#ancre-chat .ancre-follow-up", timeout=WAIT_MS)  # a redraw
    assert area.is_visible() and area.input_value() == BAKERY  # the edit goes on
    area.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#ancre-chat .ancre-version:not([hidden]) .ancre-mode')",
        timeout=WAIT_MS,
    )
    tab.wait_answers(1)
    assert tab.questions() == [BAKERY]
    visible = "#ancre-chat .ancre-version:not([hidden])"
    assert "Fournil" in page.inner_text(visible)
    assert page.inner_text(f"{visible} .ancre-versions [aria-hidden]") == "2/2"
    page.click(f"{visible} .ancre-version-prev")
    assert tab.questions() == [TRAMWAY] and "13 septembre 2025" in page.inner_text(visible)
    assert page.evaluate("document.activeElement.className").endswith("ancre-version-next")
    assert page.inner_text(f"{visible} .ancre-versions [aria-hidden]") == "1/2"
    page.click(f"{visible} .ancre-version-next")
    assert tab.questions() == [BAKERY]
    tab.close()


def test_conversations_are_dated_grouped_searchable_and_exported(server, browser):  # noqa: F811
    tab = Tab(browser, server.url, width=1366, height=900)
    page = tab.page
    tab.ask(TRAMWAY)
    page.click("#ancre-new")
    page.wait_for_selector("#ancre-chat .ancre-empty", timeout=WAIT_MS)
    tab.ask(BAKERY)
    with sqlite3.connect(server.index_dir / "conversations.sqlite") as db:  # 3 days ago
        db.execute(
            "UPDATE conversations SET updated = ?, created = ? WHERE title = ?",
            (time.time() - 3 * 86400, time.time() - 3 * 86400, TRAMWAY),
        )
    page.reload()
    page.wait_for_selector("#ancre-conversations .ancre-conv", timeout=WAIT_MS)
    open_sidebar(page)
    mine = page.locator("#ancre-conversations .ancre-history-group")
    heads = [mine.nth(i).locator("h3").inner_text().lower() for i in range(mine.count())]
    assert heads[:2] == ["aujourd’hui", "cette semaine"]
    assert BAKERY[:20] in mine.nth(0).inner_text() and TRAMWAY[:20] in mine.nth(1).inner_text()
    assert page.locator("#ancre-conversations .ancre-conv time").first.inner_text().count(":") == 1
    search = page.locator("#ancre-history-search textarea, #ancre-history-search input").first
    search.focus()
    page.keyboard.insert_text("STATIONS boulangerie")  # a paste; no conversation says both
    page.wait_for_selector("#ancre-conversations .ancre-history-none:not([hidden])")
    search.fill("")
    search.press_sequentially("tramway", delay=20)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#ancre-conversations li')]"
        ".filter(li => !li.hidden).length === 1"
    )
    page.locator("#ancre-conversations li:not([hidden]) .ancre-conv").click()
    page.wait_for_function(
        "(q) => document.querySelector('#ancre-chat').innerText.includes(q)", arg=TRAMWAY
    )
    with page.expect_download() as done:
        page.click("#ancre-export")
    text = Path(done.value.path()).read_text(encoding="utf-8")
    assert done.value.suggested_filename.endswith(".md")
    assert text.startswith(f"# {TRAMWAY}\n") and f"## Question 1 : {TRAMWAY}" in text
    assert "**Le samedi 13 septembre 2025" in text and "Sources :" in text
    assert "Bellerive-sur-Loire : la ligne C" in text and "https://" in text
    tab.close()


def test_follow_up_questions_are_answerable_and_asked_with_a_click(server, browser):  # noqa: F811
    tab = Tab(browser, server.url)
    page = tab.page
    tab.ask(TRAMWAY)
    follow = page.wait_for_selector("#ancre-chat .ancre-follow-up", timeout=WAIT_MS)
    question = follow.get_attribute("data-question")
    assert question and question != TRAMWAY
    follow.click()
    tab.wait_answers(2)
    assert tab.questions() == [TRAMWAY, question]
    assert "Réponse · sûre à" in page.locator("#ancre-chat .ancre-turn").last.inner_text()
    tab.close()


@pytest.mark.parametrize("size", [(1366, 900), (390, 844)])
def test_the_model_is_named_at_the_top_and_switchable(server, browser, size):  # noqa: F811
    tab = Tab(browser, server.url, width=size[0], height=size[1])
    page = tab.page
    picker = page.locator("#ancre-llm").bounding_box()
    thread = page.locator("#ancre-chat").bounding_box()
    assert picker["y"] >= 0 and picker["y"] + picker["height"] <= thread["y"], (picker, thread)
    assert picker["x"] + picker["width"] <= size[0]
    # within the top row and its wrapper, which clips it (it lost its right 21 px at 1366)
    top = page.locator("#ancre-top").bounding_box()
    wrapper = page.evaluate(
        "() => document.querySelector('#ancre-llm').parentElement.getBoundingClientRect().right"
    )
    right = picker["x"] + picker["width"]
    assert right <= min(top["x"] + top["width"], wrapper) + 1, (picker, top, wrapper)
    assert "Gemma" in page.locator("#ancre-llm input").input_value()
    tab.ask(TRAMWAY)
    assert "Rédigée par" in page.get_attribute("#ancre-chat .ancre-mode", "title")
    page.locator("#ancre-llm input").click()
    page.get_by_role("option", name="Aucun (extraits cités seulement)").click()
    tab.ask(BAKERY)
    last = page.locator("#ancre-chat .ancre-turn").last.locator(".ancre-mode")
    assert "Rédigée par" not in (last.get_attribute("title") or "")
    tab.close()


SEEN = """() => {
  window.__seen = new Set();
  const look = () => {
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      if (!n.parentElement.checkVisibility()) continue;  // (transparent text is still read out)
      for (const word of ['En attente', 'Chargement du modèle', 'queue', 'processing']) {
        if (n.textContent.includes(word)) window.__seen.add(word);
      }
    }
    requestAnimationFrame(look);
  };
  look();
}"""


def test_no_state_flashes_when_nothing_waits_and_no_model_loads(server, browser):  # noqa: F811
    tab = Tab(browser, server.url)
    page = tab.page
    tab.ask(TRAMWAY)  # the first answer of the server's life is behind us
    page.evaluate(SEEN)
    tab.ask(BAKERY)
    page.wait_for_timeout(300)
    assert page.evaluate("[...window.__seen]") == []
    tab.close()


def test_the_sidebar_leaves_the_main_column_alone_and_waits_for_a_conversation(
    server,  # noqa: F811
    browser,  # noqa: F811
):
    tab = Tab(browser, server.url, width=1366, height=900)
    page = tab.page
    page.wait_for_function(
        "() => document.querySelector('#ancre-sidebar').classList.contains('open')"
    )
    page.wait_for_timeout(800)  # its slide-in, and the page measured again
    side = page.locator("#ancre-sidebar").bounding_box()
    for part in ("#ancre-top", "#ancre-inputbar", "#ancre-chat"):
        assert side["x"] + side["width"] <= page.locator(part).bounding_box()["x"], part
    for control in ("#ancre-rename", "#ancre-delete", "#ancre-rename-box textarea"):
        assert page.locator(control).is_disabled(), control
    tab.ask(TRAMWAY)
    for control in ("#ancre-rename", "#ancre-delete", "#ancre-rename-box textarea"):
        assert page.locator(control).is_enabled(), control
    tab.close()


def test_settings_are_in_a_menu_and_there_is_no_temperature(server, browser):  # noqa: F811
    tab = Tab(browser, server.url, width=1366, height=900)
    page = tab.page
    assert page.locator("#ancre-sidebar #ancre-settings").count() == 1
    assert page.get_by_text("Température").count() == 0
    box = page.locator("#ancre-inputbar").bounding_box()
    below = page.evaluate(
        """(y) => [...document.querySelectorAll('#ancre-tabs .block')]
            .filter(b => b.offsetParent && !b.closest('#ancre-sidebar')
                    && b.getBoundingClientRect().top > y).map(b => b.id || b.className)""",
        box["y"] + box["height"],
    )
    assert below == []
    tab.close()
