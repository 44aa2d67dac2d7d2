"""The web chat in a real browser: `ancre chat` on the sample corpus, driven by Playwright
with Debian's Chromium. Uses the real models (first run builds the sample index).

Set ANCRE_SCREENSHOT=path/to.png to also save the chat screenshot there
(docs/screenshot-chat.png is made this way).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
START_TIMEOUT_S = 600  # first run: build the sample index (embedding model on CPU)
ANSWER_TIMEOUT_S = 300  # first answer: load the LLM
TRAMWAY = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"
FINAL = (
    "Réponse générée",
    "Réponse extractive",
    "Abstention",
    "Answer generated",
    "Extractive answer",
    "Abstained",
    "Erreur",
    "Pas d’index",
    "Pas de réponse",
)
EVIL_ARTICLE = """# Le festival <img src=x onerror="window.__xss=1"> de Zorglubville
date: 2025-01-01
source: javascript:window.__xss=4

Le festival de Zorglubville <script>window.__xss=2</script> aura lieu le 3 mars 2031 \
<img src=x onerror="window.__xss=3"> sur la place du marché, avec **gras**, \
[un lien](javascript:window.__xss=5) et ![image](http://evil.example/x.png).

Les organisateurs de Zorglubville attendent 12 000 visiteurs pour cette première édition.
"""


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (required when CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright_browser():
    if not Path(CHROMIUM).exists():
        _skip_or_fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("playwright is missing: pip install playwright")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`ancre chat` on a fresh index directory: the first run indexes the sample articles."""
    if not Path(CHROMIUM).exists():
        _skip_or_fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    tmp = tmp_path_factory.mktemp("chat")
    port = _free_port()
    log_path = tmp / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ancre.ui",
                "--index-dir",
                str(tmp / "index"),
                "--port",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"`ancre chat` exited with {proc.returncode}:\n"
                    + log_path.read_text(errors="replace")[-5000:]
                )
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    "`ancre chat` did not answer in time:\n"
                    + log_path.read_text(errors="replace")[-5000:]
                )
            time.sleep(1)
        yield {"url": url, "index_dir": tmp / "index", "log": log_path, "proc": proc}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


class Page:
    """A browser tab on the chat, recording what must not happen (page errors, dialogs,
    requests leaving the machine)."""

    def __init__(self, browser, url: str, width: int = 1280, height: int = 860):
        self.context = browser.new_context(
            viewport={"width": width, "height": height}, locale="fr-FR"
        )
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on(
            "dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss())
        )
        self.page.on("request", self._request)
        self.page.goto(url)
        self.page.wait_for_selector("#ancre-question textarea", timeout=60_000)

    def _request(self, request) -> None:
        if not request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
            self.problems.append(f"request outside: {request.url}")

    def ask(self, question: str) -> str:
        """Ask and wait until the streamed answer is final; returns its text."""
        bots = self.page.locator("#ancre-chat .message.bot")
        before = bots.count()
        self.page.fill("#ancre-question textarea", question)
        self.page.click("#ancre-send")
        self.page.wait_for_function(
            """([before, finals]) => {
                const m = document.querySelectorAll('#ancre-chat .message.bot');
                if (m.length <= before) return false;
                const t = m[m.length - 1].innerText;
                return !t.includes('▌') && finals.some(f => t.includes(f));
            }""",
            arg=[before, list(FINAL)],
            timeout=ANSWER_TIMEOUT_S * 1000,
        )
        self.page.wait_for_timeout(300)  # the sources panel is updated by the same event
        return bots.nth(bots.count() - 1).inner_text()

    def close(self) -> None:
        self.context.close()


def _save(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_chat_answers_with_citation_and_source(server, playwright_browser, tmp_path):
    tab = Page(playwright_browser, server["url"])
    page = tab.page
    text = tab.ask(TRAMWAY)
    assert "13 septembre 2025" in text, text
    assert ("Réponse générée" in text) or ("Réponse extractive" in text), text
    links = page.locator('#ancre-chat .message.bot a[href^="#ancre-src-"]')
    assert links.count() >= 1, page.inner_html("#ancre-chat")
    label = links.first.inner_text().strip()
    assert label.startswith("[") and label.endswith("]") and label[1:-1].isdigit(), label
    anchor = links.first.get_attribute("href")
    source = page.locator(f"#ancre-sources {anchor}")
    assert source.count() == 1
    source_text = source.inner_text()
    assert "tramway" in source_text.lower() and "Bellerive" in source_text
    assert "lecho-de-loire.example" in source_text
    assert "13 septembre 2025" in source.locator("mark").first.inner_text()

    page.evaluate("window.scrollTo(0, 0)")
    shot = _save(page, tmp_path, "chat.png")
    target = os.environ.get("ANCRE_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)

    # the citation link jumps to its source in the panel
    links.first.click()
    page.wait_for_function("(id) => location.hash === id", arg=anchor, timeout=5_000)
    assert page.evaluate("document.querySelector(':target')?.id") == anchor[1:]
    assert source.is_visible()
    _save(page, tmp_path, "chat-after-click.png")
    assert tab.problems == []
    tab.close()


def test_abstention_shows_closest_passages(server, playwright_browser, tmp_path):
    tab = Page(playwright_browser, server["url"])
    text = tab.ask("Quel est le cours de l’once d’or à la Bourse de Tokyo aujourd’hui ?")
    assert "Abstention" in text and "⚠" in text, text
    panel = tab.page.inner_text("#ancre-sources")
    assert "Passages les plus proches" in panel
    assert tab.page.locator("#ancre-sources .ancre-source").count() >= 1
    _save(tab.page, tmp_path, "abstention.png")
    assert tab.problems == []
    tab.close()


def test_two_tabs_have_their_own_conversations(server, playwright_browser):
    a = Page(playwright_browser, server["url"])
    b = Page(playwright_browser, server["url"])
    try:
        a.ask(TRAMWAY)
        b.ask(
            "Quelle boulangerie a remporté le Grand Prix départemental de la baguette "
            "de tradition ?"
        )
        follow = a.ask("Et combien de stations desservira-t-elle ?")
        asked_a = a.page.locator("#ancre-chat .message.user").all_inner_texts()
        asked_b = b.page.locator("#ancre-chat .message.user").all_inner_texts()
        assert len(asked_a) == 2 and "tramway" in asked_a[0] and "stations" in asked_a[1]
        assert len(asked_b) == 1 and "boulangerie" in asked_b[0]
        assert "boulangerie" not in a.page.inner_text("#ancre-chat")
        assert "Fournil" in b.page.inner_text("#ancre-sources")
        assert follow  # the follow-up was answered in A's conversation
        # a new conversation in A empties A only
        a.page.click("#ancre-new")
        a.page.wait_for_function(
            "() => document.querySelectorAll('#ancre-chat .message').length === 0", timeout=10_000
        )
        assert b.page.locator("#ancre-chat .message.user").count() == 1
        assert a.problems == [] and b.problems == []
    finally:
        a.close()
        b.close()


def test_uploaded_article_is_indexed_and_shown_escaped(server, playwright_browser, tmp_path):
    """Index tab: upload an article full of HTML/Markdown traps, rebuild, ask about it:
    nothing runs, nothing is fetched, the traps are shown as text."""
    evil = tmp_path / "Festival Zorglub <évènement>.md"
    evil.write_text(EVIL_ARTICLE, encoding="utf-8")
    tab = Page(playwright_browser, server["url"])
    page = tab.page
    page.get_by_role("tab", name="Index").click()
    page.wait_for_selector("#ancre-stats", timeout=10_000)
    page.wait_for_function(
        "() => /Documents/.test(document.querySelector('#ancre-stats').innerText)", timeout=30_000
    )
    page.set_input_files("#ancre-files input[type=file]", str(evil))
    page.wait_for_function(
        "() => /Festival/.test(document.querySelector('#ancre-files').innerText)", timeout=30_000
    )
    page.click("#ancre-build")
    page.wait_for_function(
        "() => /Index à jour|Échec|Rien/.test(document.querySelector('#ancre-report').innerText)",
        timeout=ANSWER_TIMEOUT_S * 1000,
    )
    report = page.inner_text("#ancre-report")
    assert "1 ajouté" in report, report
    stored = list((server["index_dir"] / "uploads").iterdir())
    assert [p.name for p in stored] == ["Festival-Zorglub-evenement.md"]
    _save(page, tmp_path, "index-tab.png")

    page.get_by_role("tab", name="Chat").click()
    text = tab.ask("Quand aura lieu le festival de Zorglubville ?")
    assert "3 mars 2031" in text, text
    sources = page.inner_text("#ancre-sources")
    assert "<script>window.__xss=2</script>" in sources
    assert '<img src=x onerror="window.__xss=3">' in sources
    assert page.evaluate("window.__xss") is None
    assert page.locator("#ancre-chat img, #ancre-sources img").count() == 0
    assert page.locator("#ancre-chat script, #ancre-sources script").count() == 0
    hrefs = page.eval_on_selector_all(
        "#ancre-chat a, #ancre-sources a", "els => els.map(e => e.getAttribute('href') || '')"
    )
    assert not [h for h in hrefs if h.lower().startswith("javascript")], hrefs
    _save(page, tmp_path, "escaped.png")
    assert tab.problems == []
    tab.close()
