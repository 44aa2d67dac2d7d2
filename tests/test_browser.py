"""The web chat in a real browser (Playwright driving Debian's Chromium), one test per
defect of the chat issue: typed words are never lost, a second question waits its turn,
conversations survive a reload and can be reopened, uploads index by themselves and say
why a file is refused, the phone layout keeps Send and the sources at hand, the page has
one language, hostile documents stay inert, and the chat can be scripted.

The server runs in-process on 127.0.0.1 with the hashing embedder and a scripted, slow
generator (``tests/chatserver.py``): these tests are about the page, not the models.
Screenshots of the phone layout are left in the test's tmp_path.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from chatserver import BAKERY, STATIONS, TRAMWAY, start

from ancre.ui.conversations import ConversationStore

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WAIT_MS = 30_000
EVIL_ARTICLE = """# Le festival <img src=x onerror="window.__xss=1"> de Zorglubville
date: 2025-01-01
source: javascript:window.__xss=4

Le festival de Zorglubville <script>window.__xss=2</script> aura lieu le 3 mars 2031 \
<img src=x onerror="window.__xss=3"> sur la place du marché, avec **gras**, ${7*7}, \
{{constructor.constructor('window.__xss=6')()}}, [un lien](javascript:window.__xss=5) \
et ![image](http://evil.example/x.png).

Les organisateurs de Zorglubville attendent 12 000 visiteurs pour cette première édition.
"""


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (required when CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        _skip_or_fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("playwright is missing: pip install playwright")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    chat = start(tmp_path_factory.mktemp("chat"))
    yield chat
    chat.close()


class Tab:
    """A browser tab on the chat that records what must not happen: page errors, dialogs,
    requests leaving 127.0.0.1."""

    def __init__(self, browser, url: str, width=1280, height=860, locale="fr-FR", login=None):
        self.context = browser.new_context(
            viewport={"width": width, "height": height}, locale=locale
        )
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on(
            "dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss())
        )
        self.page.on("request", self._request)
        self.url = url
        self.page.goto(self.url)
        if login:  # Gradio's login form first
            self.page.locator("input[type=text]").first.fill(login[0])
            self.page.locator("input[type=password]").fill(login[1])
            self.page.locator("input[type=password]").press("Enter")
        self.page.wait_for_selector("#ancre-chat .ancre-thread", timeout=WAIT_MS)

    def _request(self, request) -> None:
        if not request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
            self.problems.append(f"request outside: {request.url}")

    @property
    def box(self):
        return self.page.locator("#ancre-question textarea")

    def send(self, question: str) -> None:
        self.box.fill(question)
        self.box.press("Enter")

    def wait_answers(self, n: int) -> None:
        """Until ``n`` turns are finished and nothing is being answered or waiting."""
        self.page.wait_for_function(
            """(n) => document.querySelectorAll('#ancre-chat .ancre-mode').length >= n
                && !document.querySelector('#ancre-chat .ancre-working, .ancre-pending')""",
            arg=n,
            timeout=WAIT_MS,
        )

    def ask(self, question: str) -> str:
        before = self.page.locator("#ancre-chat .ancre-turn .ancre-mode").count()
        self.send(question)
        self.wait_answers(before + 1)
        return self.page.locator("#ancre-chat .ancre-turn").last.inner_text()

    def questions(self) -> list[str]:
        """The questions shown (a turn's earlier versions are hidden)."""
        return self.page.eval_on_selector_all(
            "#ancre-chat .ancre-user .ancre-bubble",
            "els => els.filter(e => !e.closest('[hidden]')).map(e => e.innerText)",
        )

    def close(self) -> None:
        assert self.problems == []
        self.context.close()


def open_sidebar(page) -> None:
    """The conversations' sidebar (closed at first under 900 px)."""
    if "open" not in (page.get_attribute("#ancre-sidebar", "class") or ""):
        page.click("#ancre-sidebar .toggle-button")
    page.wait_for_timeout(400)  # its slide-in animation


def shot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name))


def test_typing_during_an_answer_keeps_the_text(server, browser):
    tab = Tab(browser, server.url)
    tab.send(TRAMWAY)
    tab.page.wait_for_selector("#ancre-chat .ancre-working", timeout=WAIT_MS)
    tab.box.press_sequentially(STATIONS, delay=40)
    tab.wait_answers(1)
    tab.page.wait_for_timeout(500)  # any late update of the page would land now
    assert tab.box.input_value() == STATIONS
    assert "13 septembre 2025" in tab.page.inner_text("#ancre-chat")
    tab.close()


def test_a_second_question_is_not_lost(server, browser):
    tab = Tab(browser, server.url)
    tab.send(TRAMWAY)
    tab.page.wait_for_selector("#ancre-chat .ancre-working", timeout=WAIT_MS)
    tab.send(BAKERY)
    pending = tab.page.wait_for_selector("#ancre-chat .ancre-pending", timeout=WAIT_MS)
    assert BAKERY in pending.inner_text()
    assert tab.box.input_value() == ""  # accepted: only then is the box emptied
    tab.wait_answers(2)
    assert tab.questions() == [TRAMWAY, BAKERY]
    answers = tab.page.locator("#ancre-chat .ancre-bot").all_inner_texts()
    assert "13 septembre 2025" in answers[0] and "Fournil" in answers[1]
    tab.close()


def test_the_draft_is_never_shown_only_the_stages(server, browser):
    """The scripted model drafts '10,5 millions' for the follow-up; verification drops it."""
    tab = Tab(browser, server.url)
    tab.ask(TRAMWAY)
    seen: list[str] = []
    tab.send(STATIONS)
    for _ in range(40):
        seen.append(tab.page.inner_text("#ancre-chat"))
        tab.page.wait_for_timeout(50)
    tab.wait_answers(2)
    seen.append(tab.page.inner_text("#ancre-chat"))
    assert not [s for s in seen if "10,5" in s]
    assert any("Rédaction" in s or "Recherche" in s for s in seen)
    tab.close()


def test_reload_restores_the_conversation_with_its_sources(server, browser):
    tab = Tab(browser, server.url)
    tab.ask(TRAMWAY)
    tab.ask(STATIONS)
    tab.page.reload()
    tab.page.wait_for_function(
        "() => document.querySelectorAll('#ancre-chat .ancre-turn').length === 2", timeout=WAIT_MS
    )
    assert tab.questions() == [TRAMWAY, STATIONS]
    tab.page.locator("#ancre-chat .ancre-card").first.click()
    sheet = tab.page.locator("#ancre-sheet")
    assert sheet.is_visible() and "13 septembre 2025" in sheet.locator("mark").inner_text()
    tab.page.keyboard.press("Escape")
    assert not sheet.is_visible()
    tab.close()


def test_the_sidebar_reopens_renames_and_deletes_conversations(server, browser):
    tab = Tab(browser, server.url)
    tab.ask(TRAMWAY)
    tab.page.click("#ancre-new")
    tab.page.wait_for_selector("#ancre-chat .ancre-empty", timeout=WAIT_MS)
    tab.ask(BAKERY)
    listed = tab.page.locator("#ancre-conversations .ancre-conv")
    assert listed.count() == 2 and BAKERY[:40] in listed.first.inner_text()
    listed.nth(1).click()  # the older one
    tab.page.wait_for_function(
        "(q) => document.querySelector('#ancre-chat').innerText.includes(q)", arg=TRAMWAY
    )
    assert tab.questions() == [TRAMWAY]
    tab.page.fill("#ancre-rename-box textarea", "   ")  # a blank name says so, renames nothing
    tab.page.click("#ancre-rename")
    tab.page.wait_for_function(
        "() => /new name|nouveau nom/.test(document.querySelector('#ancre-hint').innerText)"
    )
    assert TRAMWAY[:30] in tab.page.inner_text("#ancre-conversations")
    tab.page.fill("#ancre-rename-box textarea", "Le tramway")
    tab.page.click("#ancre-rename")
    tab.page.wait_for_function(
        "() => document.querySelector('#ancre-conversations').innerText.includes('Le tramway')"
    )
    tab.page.click("#ancre-delete")
    confirm = tab.page.wait_for_selector("#ancre-delete-confirm", state="visible")
    assert "Le tramway" in confirm.inner_text()
    tab.page.click("#ancre-delete-yes")
    tab.page.wait_for_selector("#ancre-chat .ancre-empty", timeout=WAIT_MS)
    tab.page.wait_for_function(
        "() => document.querySelectorAll('#ancre-conversations .ancre-conv').length === 1"
    )
    assert "Le tramway" not in tab.page.inner_text("#ancre-conversations")
    tab.close()


class LateList(ConversationStore):
    """A store that, once armed, takes ``delay`` seconds over the conversation read just
    after the next listing: the thread that the answer's last update draws then reaches the
    page late, after what the user did meanwhile."""

    def __init__(self, path: Path, delay: float):
        super().__init__(path)
        self.delay = delay
        self.armed = threading.Event()
        self.listed = threading.Event()
        self.waiting = threading.Event()

    def list(self, owner: str):
        if self.armed.is_set():
            self.listed.set()
        return super().list(owner)

    def get(self, owner: str, conv_id: str | None):
        if self.listed.is_set() and conv_id and not self.waiting.is_set():
            self.waiting.set()
            time.sleep(self.delay)
        return super().get(owner, conv_id)


class Arming:
    """A suggester that finds nothing, and arms the store's late listing."""

    def __init__(self, store: LateList):
        self.store = store

    def suggest(self, question, answer):
        self.store.armed.set()
        return []


def test_an_answer_drawn_late_does_not_bring_back_the_conversation_left(browser, tmp_path):
    store = LateList(tmp_path / "conversations.sqlite", delay=3.0)
    late = start(tmp_path / "chat", suggester=Arming(store), store=store)
    try:
        tab = Tab(browser, late.url)
        tab.ask(TRAMWAY)
        # the answer's last update is drawn (the tramway conversation) and waits on the list
        assert store.waiting.wait(10)
        tab.page.click("#ancre-new")
        tab.page.wait_for_selector("#ancre-chat .ancre-empty", timeout=WAIT_MS)
        tab.page.wait_for_timeout(int(store.delay * 1000) + 1500)  # the late update lands
        assert tab.page.locator("#ancre-chat .ancre-empty").count() == 1
        assert tab.questions() == []
        tab.ask(BAKERY)  # the page goes on with the new conversation
        assert tab.questions() == [BAKERY]
        tab.close()
    finally:
        late.close()


def test_stop_keeps_the_question_and_the_typed_text(server, browser):
    tab = Tab(browser, server.url)
    tab.send(TRAMWAY)
    tab.page.wait_for_selector("#ancre-stop", state="visible", timeout=WAIT_MS)
    tab.box.fill("une question pas finie")
    tab.page.click("#ancre-stop")
    tab.page.wait_for_selector("#ancre-chat .ancre-stopped", timeout=WAIT_MS)
    assert tab.box.input_value() == "une question pas finie"
    assert tab.questions() == [TRAMWAY]
    tab.page.click("#ancre-chat .ancre-regen")  # Retry
    tab.wait_answers(1)
    assert "13 septembre 2025" in tab.page.inner_text("#ancre-chat")
    tab.close()


def test_a_too_long_question_stays_in_the_box_with_the_reason(server, browser):
    tab = Tab(browser, server.url)
    long = "Pourquoi " + "vraiment " * 60 + "?"
    tab.send(long)
    tab.page.wait_for_function(
        "() => /trop longue/.test(document.querySelector('#ancre-hint').innerText)"
    )
    assert tab.box.input_value() == long  # nothing cut, nothing sent
    assert "300 au plus" in tab.page.inner_text("#ancre-hint")
    assert tab.questions() == []
    tab.close()


def test_examples_and_copy_and_regenerate(server, browser):
    tab = Tab(browser, server.url)
    assert "14 articles indexés" in tab.page.inner_text("#ancre-summary")
    tab.page.locator("#ancre-chat .ancre-example").first.click()
    tab.wait_answers(1)
    assert tab.questions() == [TRAMWAY]
    copy = tab.page.locator("#ancre-chat .ancre-copy").first
    assert "Le samedi 13 septembre 2025" in copy.get_attribute("data-copy")
    tab.page.locator("#ancre-chat .ancre-regen").first.click()
    tab.page.wait_for_selector("#ancre-chat .ancre-working", timeout=WAIT_MS)
    tab.wait_answers(1)
    assert tab.questions() == [TRAMWAY]  # answered again in place, the first answer kept
    shown = "#ancre-chat .ancre-version:not([hidden]) .ancre-versions"
    assert tab.page.inner_text(f"{shown} [aria-hidden]") == "2/2"
    assert "Version 2 sur 2" in tab.page.inner_text(shown)
    tab.close()


def test_upload_indexes_at_once_and_a_refused_file_gets_one_readable_line(
    server, browser, tmp_path
):
    article = tmp_path / "Pont de Zorglub.txt"
    article.write_text(
        "Le pont de Zorglub rouvre\n\nLe pont de Zorglub rouvre lundi après huit mois de "
        "travaux, a annoncé la mairie.",
        encoding="utf-8",
    )
    binary = tmp_path / "binaire.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    tab = Tab(browser, server.url)
    page = tab.page
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#ancre-files input[type=file]", [str(article), str(binary)])
    page.wait_for_selector("#ancre-report .ancre-status", timeout=WAIT_MS)
    lines = page.locator("#ancre-report .ancre-status").all_inner_texts()
    assert len(lines) == 2, lines
    good = next(x for x in lines if "Pont" in x)
    bad = next(x for x in lines if "binaire" in x)
    assert "ajouté" in good
    assert "refusé : fichier binaire, pas du texte" in bad
    assert str(tmp_path) not in bad and "uploads" not in bad and "/" not in bad
    assert [p.name for p in (server.index_dir / "uploads").iterdir()] == ["Pont-de-Zorglub.txt"]
    page.locator("#ancre-search textarea").press_sequentially("zorglub", delay=30)
    page.wait_for_function(
        "() => document.querySelectorAll('#ancre-library tbody tr').length === 1"
    )
    row = page.locator("#ancre-library tbody tr").first
    assert "Le pont de Zorglub rouvre" in row.inner_text()  # a .txt's title: its first line
    row.locator(".ancre-remove").click()
    confirm = page.wait_for_selector("#ancre-remove-confirm", state="visible")
    assert "Le pont de Zorglub rouvre" in confirm.inner_text()
    page.click("#ancre-remove-yes")
    page.wait_for_function(
        "() => /retiré de l’index/.test(document.querySelector('#ancre-removed').innerText)"
    )
    assert "Le pont de Zorglub rouvre" in page.inner_text("#ancre-removed")
    assert not any((server.index_dir / "uploads").iterdir())
    tab.close()


def test_phone_layout_keeps_send_and_sources_reachable(server, browser, tmp_path):
    tab = Tab(browser, server.url, width=390, height=844)
    page = tab.page
    send = page.locator("#ancre-send").bounding_box()
    assert send["y"] >= 0 and send["y"] + send["height"] <= 844 and send["x"] + send["width"] <= 390
    shot(page, tmp_path, "screenshot-phone-empty.png")
    tab.ask(TRAMWAY)
    first = page.locator("#ancre-chat .ancre-user").first.bounding_box()
    chat = page.locator("#ancre-chat").bounding_box()
    assert first["y"] >= chat["y"]  # nothing hides the first message
    page.locator("#ancre-chat .ancre-chip").first.click()
    panel = page.locator("#ancre-sheet .ancre-sheet-panel")
    box = panel.bounding_box()
    assert panel.is_visible() and box["y"] > 0 and box["y"] + box["height"] <= 845
    assert "13 septembre 2025" in panel.locator("mark").inner_text()
    shot(page, tmp_path, "screenshot-phone-source.png")
    page.click("#ancre-sheet .ancre-sheet-close")
    send = page.locator("#ancre-send").bounding_box()
    assert send["y"] + send["height"] <= 844
    tab.close()


def test_one_language_per_page_with_a_switch(server, browser):
    tab = Tab(browser, server.url, locale="en-US")
    page = tab.page
    assert page.locator("#ancre-send").inner_text().strip() == "Send"
    page.get_by_role("tab", name="Documents").click()
    assert "Drop files here" in page.inner_text("#ancre-files")  # Gradio's own strings too
    page.get_by_role("tab", name="Chat").click()
    tab.ask(TRAMWAY)
    assert "% sure" in page.inner_text("#ancre-chat")
    open_sidebar(page)
    page.get_by_label("Français").check()
    page.wait_for_function(
        "() => document.querySelector('#ancre-send')?.innerText.trim() === 'Envoyer'",
        timeout=WAIT_MS,
    )
    page.wait_for_selector("#ancre-chat .ancre-turn", timeout=WAIT_MS)
    assert "sûre à" in page.inner_text("#ancre-chat")  # the conversation came along
    page.get_by_role("tab", name="Documents").click()
    files = page.inner_text("#ancre-files")
    assert (
        "Déposez les fichiers ici" in files and "importer" in files and "télécharger" not in files
    )
    tab.close()


def test_hostile_documents_stay_inert(server, browser, tmp_path):
    evil = tmp_path / "Festival Zorglub <évènement>.md"
    evil.write_text(EVIL_ARTICLE, encoding="utf-8")
    tab = Tab(browser, server.url)
    page = tab.page
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#ancre-files input[type=file]", str(evil))
    page.wait_for_selector("#ancre-report .ancre-status", timeout=WAIT_MS)
    assert "ajouté" in page.inner_text("#ancre-report")
    page.get_by_role("tab", name="Chat").click()
    text = tab.ask("Quand aura lieu le festival de Zorglubville ?")
    assert "3 mars 2031" in text
    page.locator("#ancre-chat .ancre-card").last.click()
    sheet = page.inner_text("#ancre-sheet")
    assert "<script>window.__xss=2</script>" in sheet and "${7*7}" in sheet
    assert page.evaluate("window.__xss") is None
    assert page.locator("#ancre-chat img, #ancre-sheet img, #ancre-library img").count() == 0
    assert page.locator("#ancre-chat script, #ancre-sheet script").count() == 0
    hrefs = page.eval_on_selector_all(
        "#ancre-chat a, #ancre-sheet a, #ancre-library a", "els => els.map(e => e.href)"
    )
    assert not [h for h in hrefs if not h.startswith("https://")], hrefs
    tab.close()
    (server.index_dir / "uploads" / "Festival-Zorglub-evenement.md").unlink()


def test_two_browsers_have_their_own_conversations(server, browser):
    a = Tab(browser, server.url)
    b = Tab(browser, server.url)
    a.ask(TRAMWAY)
    b.ask(BAKERY)
    a.ask(STATIONS)
    assert a.questions() == [TRAMWAY, STATIONS] and b.questions() == [BAKERY]
    for tab in (a, b):
        open_sidebar(tab.page)
    assert BAKERY[:30] not in a.page.inner_text("#ancre-conversations")
    assert TRAMWAY[:30] not in b.page.inner_text("#ancre-conversations")
    a.close()
    b.close()


def test_gradio_client_asks_through_the_named_endpoint(server):
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {"/ask", "/documents"}
    answer = client.predict(TRAMWAY, 0, "", None, api_name="/ask")
    assert answer["short_answer"].startswith("Le samedi 13 septembre 2025")
    assert answer["mode"] == "stated" and answer["generated"]
    assert answer["citations"][0]["sentence"] and 0 < answer["confidence"] < 1
    assert {"text", "passages", "abstained", "timings"} <= set(answer)
    docs = client.predict("tramway", api_name="/documents")
    assert len(docs) == 1 and "tramway" in docs[0]["title"]


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    chat = start(tmp_path_factory.mktemp("auth"), auth=[("alice", "s3cret"), ("bob", "b0b")])
    yield chat
    chat.close()


def test_the_api_honours_auth(auth_server):
    from gradio_client import Client

    with pytest.raises(Exception):  # noqa: B017 - gradio_client's error differs by version
        Client(auth_server.url, verbose=False)
    request = urllib.request.Request(auth_server.url + "gradio_api/info")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    client = Client(auth_server.url, auth=("alice", "s3cret"), verbose=False)
    answer = client.predict(TRAMWAY, 0, "none", None, api_name="/ask")
    assert not answer["generated"] and "13 septembre 2025" in json.dumps(answer)


def test_under_auth_conversations_follow_the_user(auth_server, browser):
    """Alice's conversation is in her sidebar on another browser; Bob's sidebar is empty."""
    first = Tab(browser, auth_server.url, login=("alice", "s3cret"))
    first.ask(TRAMWAY)
    first.close()
    for user, password, sees in (("alice", "s3cret", True), ("bob", "b0b", False)):
        other = Tab(browser, auth_server.url, login=(user, password))
        open_sidebar(other.page)
        assert (TRAMWAY[:30] in other.page.inner_text("#ancre-conversations")) is sees
        other.close()


def test_a_new_question_scrolls_into_view(server, browser):
    tab = Tab(browser, server.url)
    tab.ask(TRAMWAY)
    tab.ask(BAKERY)
    tab.page.evaluate("document.querySelector('#ancre-chat').scrollTop = 0")
    tab.send(STATIONS)
    tab.wait_answers(3)
    tab.page.wait_for_timeout(600)  # smooth scrolling
    chat = tab.page.locator("#ancre-chat").bounding_box()
    asked = tab.page.locator("#ancre-chat .ancre-user").last.bounding_box()
    assert chat["y"] <= asked["y"] and asked["y"] + asked["height"] <= chat["y"] + chat["height"]
    tab.close()


def test_the_url_box_refuses_other_schemes_and_private_addresses(server, browser):
    tab = Tab(browser, server.url)
    page = tab.page
    page.get_by_role("tab", name="Documents").click()
    box = page.locator("#ancre-url textarea, #ancre-url input").first
    for address, said in (
        ("file:///etc/passwd", "seules les adresses http:// et https:// sont lues"),
        ("http://127.0.0.1:9/admin", "réseau privé"),
    ):
        box.fill(address)
        page.locator("#ancre-url-go").click()
        page.wait_for_function(
            "(said) => document.querySelector('#ancre-report')?.innerText.includes(said)",
            arg=said,
            timeout=WAIT_MS,
        )
    assert not tab.problems, tab.problems
    tab.close()


def test_uploading_an_indexed_file_again_says_unchanged_and_frees_the_box(
    server, browser, tmp_path
):
    """The same file a second time, in a batch with a new one: one line per file, no error,
    and the upload box is empty again for the next drop."""
    known = tmp_path / "Kiosque de Zorglub.md"
    known.write_text(
        "# Le kiosque de Zorglub restauré\n\nLe kiosque de Zorglub a été restauré en 2031.\n",
        encoding="utf-8",
    )
    new = tmp_path / "Marché de Zorglub.md"
    new.write_text(
        "# Le marché de Zorglub déménage\n\nLe marché de Zorglub déménage place Neuve.\n",
        encoding="utf-8",
    )
    tab = Tab(browser, server.url)
    page = tab.page
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#ancre-files input[type=file]", [str(known)])
    page.wait_for_selector("#ancre-report .ancre-status-added", timeout=WAIT_MS)
    assert "1 passage)" in page.inner_text("#ancre-report")  # singular
    page.wait_for_selector("#ancre-files input[type=file]", state="attached", timeout=WAIT_MS)
    page.set_input_files("#ancre-files input[type=file]", [str(known), str(new)])
    page.wait_for_selector("#ancre-report .ancre-status-unchanged", timeout=WAIT_MS)
    lines = page.locator("#ancre-report .ancre-status").all_inner_texts()
    assert len(lines) == 2, lines
    assert "inchangé" in next(x for x in lines if "Kiosque" in x)
    assert "ajouté" in next(x for x in lines if "Marché" in x)
    assert page.locator(".toast-body.error, #ancre-report .error").count() == 0
    assert page.locator("#ancre-files .file-preview, #ancre-files table").count() == 0
    tab.close()
    for doc in (server.index_dir / "uploads").iterdir():
        doc.unlink()


@pytest.mark.parametrize("size", [(1366, 900), (390, 844)])
def test_a_refused_question_keeps_its_reason_in_view(server, browser, size):
    """An empty or too long question: the reason stays on screen next to the box (it used to
    be erased ~70 ms later, below the fold) until the user sends again."""
    tab = Tab(browser, server.url, width=size[0], height=size[1])
    page = tab.page
    for question, reason in (("   ", "Écrivez d’abord une question"), ("x " * 200, "trop longue")):
        tab.send(question)
        page.wait_for_function(
            "(r) => document.querySelector('#ancre-hint').innerText.includes(r)", arg=reason
        )
        page.wait_for_timeout(1500)  # what answers a question has had time to run
        assert reason in page.inner_text("#ancre-hint")
        hint = page.locator("#ancre-hint p").bounding_box()
        assert hint["y"] >= 0 and hint["y"] + hint["height"] <= size[1], hint
    assert tab.questions() == []
    tab.close()


def test_the_remove_confirmation_opens_in_view_with_the_focus(server, browser):
    """On a library longer than the screen, « Retirer » on the last row asks in view (it
    used to open above the table, off screen) and takes the focus; Escape-free: Annuler
    closes it and removes nothing."""
    tab = Tab(browser, server.url, width=1366, height=500)
    page = tab.page
    page.get_by_role("tab", name="Documents").click()
    rows = page.locator("#ancre-library tbody tr")
    page.wait_for_function("() => document.querySelectorAll('#ancre-library tbody tr').length")
    count = rows.count()
    last = rows.last
    last.scroll_into_view_if_needed()
    title = last.locator(".ancre-doc-title").inner_text()
    last.locator(".ancre-remove").click()
    confirm = page.wait_for_selector("#ancre-remove-confirm", state="visible")
    page.wait_for_function(
        "() => document.querySelector('#ancre-remove-confirm').contains(document.activeElement)"
    )
    box = confirm.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 500, box
    assert title in confirm.inner_text()
    said = page.locator("#ancre-remove-confirm p").first.bounding_box()
    assert box["y"] <= said["y"] and said["y"] + said["height"] <= box["y"] + box["height"]
    assert page.get_attribute("#ancre-remove-confirm", "role") == "dialog"
    page.click("#ancre-remove-no")
    page.wait_for_selector("#ancre-remove-confirm", state="hidden")
    assert rows.count() == count
    tab.close()


def test_library_search_follows_a_paste(server, browser):
    """A pasted query (one input event, no key typed) filters the library too."""
    tab = Tab(browser, server.url)
    page = tab.page
    page.get_by_role("tab", name="Documents").click()
    page.wait_for_function("() => document.querySelectorAll('#ancre-library tbody tr').length > 1")
    page.locator("#ancre-search textarea").focus()
    page.keyboard.insert_text("tramway")
    page.wait_for_function(
        "() => document.querySelectorAll('#ancre-library tbody tr').length === 1",
        timeout=5000,
    )
    assert "tramway" in page.inner_text("#ancre-library tbody tr").lower()
    tab.close()


def test_a_reload_during_an_answer_shows_it_in_progress_then_answered(browser, tmp_path):
    """A reload mid-answer: the question and its stage come back at once, and the answer
    arrives without another reload (it used to vanish until a second reload)."""
    slow = start(tmp_path / "slow", delay=0.6)
    try:
        tab = Tab(browser, slow.url)
        tab.send(TRAMWAY)
        tab.page.wait_for_selector("#ancre-chat .ancre-working", timeout=WAIT_MS)
        tab.page.reload()
        tab.page.wait_for_selector("#ancre-chat .ancre-working", timeout=WAIT_MS)
        assert tab.questions() == [TRAMWAY]
        tab.wait_answers(1)
        assert tab.questions() == [TRAMWAY]
        assert "13 septembre 2025" in tab.page.inner_text("#ancre-chat")
        tab.close()
    finally:
        slow.close()


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical WCAG findings on the page as it is now."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        _skip_or_fail("axe-playwright-python is missing: pip install -e '.[test]'")
    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']}: {[n['target'] for n in v['nodes']][:5]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize(
    "locale,size", [("fr-FR", (1366, 900)), ("fr-FR", (390, 844)), ("en-US", (1366, 900))]
)
def test_axe_finds_nothing_serious_and_the_controls_are_named(server, browser, locale, size):
    """0 serious or critical axe-core violations on the chat with an answer and on the
    Documents tab; the question box and the sidebar's toggle are named in the page's
    language, the toggle says whether it is open, and a finished answer is announced."""
    tab = Tab(browser, server.url, width=size[0], height=size[1], locale=locale)
    page = tab.page
    fr = locale.startswith("fr")
    assert page.get_by_role("textbox", name="Votre question" if fr else "Your question").count()
    tab.ask(TRAMWAY)
    page.wait_for_function(
        "() => document.querySelector('#ancre-announce')?.textContent.includes('13 septembre')"
    )
    assert serious_violations(page) == []
    toggle = page.locator("#ancre-sidebar .toggle-button")
    assert toggle.get_attribute("aria-label") == (
        "Afficher ou masquer les conversations" if fr else "Show or hide the conversations"
    )
    before = toggle.get_attribute("aria-expanded")
    toggle.click()
    page.wait_for_function(
        "(b) => document.querySelector('#ancre-sidebar .toggle-button')"
        ".getAttribute('aria-expanded') !== b",
        arg=before,
    )
    toggle.click()  # back as it was (on a phone the open sidebar covers the page)
    page.wait_for_function(
        "(b) => document.querySelector('#ancre-sidebar .toggle-button')"
        ".getAttribute('aria-expanded') === b",
        arg=before,
    )
    page.wait_for_timeout(400)  # its slide
    page.get_by_role("tab", name="Documents").click()
    page.wait_for_selector("#ancre-library tbody tr")
    assert serious_violations(page) == []
    tab.close()


def test_a_corrected_file_of_the_same_name_asks_then_says_updated(server, browser, tmp_path):
    """The same name, other content: the page asks « Remplacer la version indexée / Garder
    les deux » (it used to add a second document silently); replacing says « mis à jour »
    and leaves one document, the corrected one."""
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "Halle de Zorglub.md").write_text(
        "# La halle de Zorglub rouvre\n\nLa halle de Zorglub rouvre le 2 mai.\n", encoding="utf-8"
    )
    (second / "Halle de Zorglub.md").write_text(
        "# La halle de Zorglub rouvre en juin\n\nLa halle de Zorglub rouvre le 6 juin.\n",
        encoding="utf-8",
    )
    tab = Tab(browser, server.url)
    page = tab.page
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#ancre-files input[type=file]", [str(first / "Halle de Zorglub.md")])
    page.wait_for_selector("#ancre-report .ancre-status-added", timeout=WAIT_MS)
    page.wait_for_selector("#ancre-files input[type=file]", state="attached", timeout=WAIT_MS)
    page.set_input_files("#ancre-files input[type=file]", [str(second / "Halle de Zorglub.md")])
    ask = page.wait_for_selector("#ancre-same-name", state="visible", timeout=WAIT_MS)
    assert "Halle de Zorglub.md" in ask.inner_text() and "garder les deux" in ask.inner_text()
    page.wait_for_function(
        "() => document.activeElement?.id === 'ancre-same-name-replace'", timeout=WAIT_MS
    )
    assert page.get_attribute("#ancre-same-name", "role") == "dialog"
    assert page.inner_text("#ancre-same-name-keep").strip() == "Garder les deux"
    page.keyboard.press("Enter")  # « Remplacer la version indexée », which has the focus
    page.wait_for_selector("#ancre-report .ancre-status-updated", timeout=WAIT_MS)
    assert "mis à jour" in page.inner_text("#ancre-report")
    page.wait_for_selector("#ancre-same-name", state="hidden")
    page.locator("#ancre-search textarea").press_sequentially("halle", delay=30)
    page.wait_for_function(
        "() => document.querySelectorAll('#ancre-library tbody tr').length === 1"
    )
    assert "rouvre en juin" in page.inner_text("#ancre-library tbody tr")
    tab.close()
    for doc in (server.index_dir / "uploads").iterdir():
        if doc.is_file():
            doc.unlink()


def test_a_library_of_ones_own_offers_no_made_up_examples(browser, tmp_path):
    """Not the samples: no « De quoi parle « titre » ? » buttons (the first click gave a
    non-answer), the welcome alone."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, title in (("ecosse.md", "Écosse"), ("chine.md", "Économie de la Chine")):
        (corpus / name).write_text(
            f"# {title}\n\n{title} : un article de la bibliothèque de l'utilisateur.\n",
            encoding="utf-8",
        )
    own = start(tmp_path / "own", corpus=corpus)
    try:
        tab = Tab(browser, own.url)
        tab.page.wait_for_selector("#ancre-chat .ancre-welcome", timeout=WAIT_MS)
        assert tab.page.locator("#ancre-chat .ancre-example").count() == 0
        assert "De quoi parle" not in tab.page.inner_text("#ancre-chat")
        tab.close()
    finally:
        own.close()


def read_article(page, opener) -> None:
    """Open ``opener``'s source in the sheet, then « Lire l'article »; until it is shown."""
    opener.click()
    page.wait_for_selector("#ancre-sheet .ancre-read", state="visible", timeout=WAIT_MS)
    page.click("#ancre-sheet .ancre-read")
    page.wait_for_selector("#ancre-sheet .ancre-article", timeout=WAIT_MS)


def in_view(page, selector: str) -> bool:
    """Whether ``selector`` lies inside the sheet's visible area."""
    return page.evaluate(
        """(sel) => { const m = document.querySelector(sel).getBoundingClientRect();
           const p = document.querySelector('#ancre-sheet .ancre-sheet-panel')
             .getBoundingClientRect();
           return m.height > 0 && m.top >= p.top && m.bottom <= p.bottom; }""",
        selector,
    )


def test_read_the_article_marks_the_cited_sentence_for_text_html_and_pdf(server, browser, tmp_path):
    """« Lire l'article » opens the whole article (from the index) with the cited sentence
    marked and in view: a Markdown article, an HTML page, and a PDF shown as its pages with
    the cited page marked. « Retour » shows the excerpt again."""
    from pdfmaker import write_pdf

    filler = [f"Ligne {n} du compte rendu du conseil municipal de Zorglubville." for n in range(40)]
    pdf = write_pdf(
        tmp_path / "Rapport Zorglubville.pdf",
        [
            ["Rapport du conseil municipal de Zorglubville.", *filler],
            filler,
            ["La halle couverte de Zorglubville rouvrira le 6 juin 2031.", *filler[:5]],
        ],
        title="Rapport de Zorglubville",
    )
    tab = Tab(browser, server.url, width=1366, height=900)
    page = tab.page
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#ancre-files input[type=file]", [str(pdf)])
    page.wait_for_selector("#ancre-report .ancre-status-added", timeout=WAIT_MS)
    page.get_by_role("tab", name="Chat").click()

    tab.ask(TRAMWAY)
    read_article(page, page.locator("#ancre-chat .ancre-chip").first)
    article = page.locator("#ancre-sheet .ancre-article")
    assert article.get_attribute("data-kind") == "text"
    assert "13 septembre 2025" in page.inner_text("#ancre-sheet #ancre-cited")
    assert "réseau de bus et de tramway sera gratuit" in article.inner_text()  # the whole text
    assert in_view(page, "#ancre-sheet #ancre-cited")
    page.click("#ancre-sheet .ancre-article-back")
    page.wait_for_selector("#ancre-sheet .ancre-source-text mark", timeout=WAIT_MS)
    assert page.evaluate("document.activeElement.classList.contains('ancre-read')")
    page.keyboard.press("Escape")

    tab.ask("Combien de festivaliers le festival Rives & Rythmes a-t-il accueillis en 2025 ?")
    card = page.locator("#ancre-chat .ancre-turn").last.locator(".ancre-card", has_text="74 500")
    read_article(page, card.first)
    assert "74 500" in page.inner_text("#ancre-sheet #ancre-cited")
    assert in_view(page, "#ancre-sheet #ancre-cited")
    page.keyboard.press("Escape")

    tab.ask("Quand la halle couverte de Zorglubville rouvrira-t-elle ?")
    card = page.locator("#ancre-chat .ancre-turn").last.locator(
        ".ancre-card", has_text="Rapport de Zorglubville"
    )
    read_article(page, card.first)
    assert page.get_attribute("#ancre-sheet .ancre-article", "data-kind") == "pdf"
    cited = page.locator("#ancre-sheet .ancre-page-cited")
    assert cited.get_attribute("data-page") == "3" and "Page 3 sur 3" in cited.inner_text()
    assert "6 juin 2031" in cited.locator("#ancre-cited").inner_text()
    assert page.locator("#ancre-sheet .ancre-page").count() == 3
    assert in_view(page, "#ancre-sheet #ancre-cited")
    shot(page, tmp_path, "article-pdf-desktop.png")
    tab.close()
    for doc in (server.index_dir / "uploads").iterdir():
        if doc.is_file():
            doc.unlink()


def tab_to(page, test: str, most: int = 120, back: bool = False) -> None:
    """Press Tab (Shift+Tab with ``back``) until ``test``, a JS expression on ``a`` (the
    focused element), holds."""
    for _ in range(most):
        if page.evaluate(f"() => {{ const a = document.activeElement; return !!({test}); }}"):
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    raise AssertionError(f"the keyboard never reached {test}")


def focused(page, test: str) -> bool:
    return page.evaluate(f"() => {{ const a = document.activeElement; return !!({test}); }}")


def test_a_keyboard_only_session(server, browser, tmp_path):
    """Ask, open a source, walk its sheet (the focus stays inside), close it (the focus goes
    back to the chip), switch conversation, upload a file, remove it: keys only."""
    article = tmp_path / "Clavier de Zorglub.md"
    article.write_text(
        "# Le clavier de Zorglub\n\nLe clavier de Zorglub a été réparé en 2031.\n", encoding="utf-8"
    )
    tab = Tab(browser, server.url, width=1366, height=900)
    page = tab.page
    assert focused(page, "a.closest('#ancre-question')")  # the box has the focus at first
    page.keyboard.type(TRAMWAY)
    page.keyboard.press("Enter")
    tab.wait_answers(1)

    tab_to(page, "a.classList.contains('ancre-chip')")
    key = page.evaluate("document.activeElement.dataset.src")
    page.keyboard.press("Enter")
    page.wait_for_selector("#ancre-sheet", state="visible")
    for step in ["Tab"] * 6 + ["Shift+Tab"] * 6:
        page.keyboard.press(step)
        assert focused(page, "a.closest('#ancre-sheet')"), step
    page.keyboard.press("Escape")
    page.wait_for_selector("#ancre-sheet", state="hidden")
    page.wait_for_function(
        "(k) => document.activeElement.classList.contains('ancre-chip')"
        " && document.activeElement.dataset.src === k",
        arg=key,
    )

    tab_to(page, "a.id === 'ancre-new' || a.closest('#ancre-new')")
    page.keyboard.press("Enter")
    page.wait_for_selector("#ancre-chat .ancre-empty", timeout=WAIT_MS)
    tab_to(
        page,
        "a.classList.contains('ancre-conv') && a.getAttribute('aria-current') !== 'true'",
    )
    page.keyboard.press("Enter")  # the other conversation
    page.wait_for_function(
        "(q) => document.querySelector('#ancre-chat').innerText.includes(q)", arg=TRAMWAY
    )

    tab_to(page, "a.getAttribute('role') === 'tab' && a.innerText.includes('Documents')")
    page.keyboard.press("Enter")
    page.wait_for_selector("#ancre-library tbody tr", timeout=WAIT_MS)
    # Playwright subscribes to file choosers when a listener first appears, fire and forget:
    # subscribed only inside expect_file_chooser, the Enter could beat it (2 runs in 6 failed)
    page.on("filechooser", lambda _: None)
    tab_to(page, "a.closest('#ancre-files') && (a.tagName === 'BUTTON' || a.tabIndex >= 0)")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files(str(article))
    page.wait_for_selector("#ancre-report .ancre-status-added", timeout=WAIT_MS)
    page.wait_for_function(
        "() => document.querySelector('#ancre-library').innerText.includes('Le clavier')"
    )

    tab_to(
        page,
        "a.classList.contains('ancre-remove') && a.closest('tr').innerText"
        ".includes('Le clavier de Zorglub')",
    )
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'ancre-remove-no'")
    tab_to(page, "a.id === 'ancre-remove-yes'", most=4, back=True)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => /retiré de l’index/.test(document.querySelector('#ancre-removed').innerText)"
    )
    assert "Le clavier" not in page.inner_text("#ancre-library")
    tab.close()


@pytest.mark.parametrize("locale,theme", [("fr-FR", "light"), ("en-US", "dark")])
def test_the_login_page_is_ancre_s_with_nothing_serious_and_a_logout(
    auth_server, browser, locale, theme
):
    """Under --auth: the login page has a title, ancre's name and tagline in the page's
    language, and 0 serious axe findings (it had no title, only Gradio's bare form); once
    logged in, the sidebar names the user and logs out."""
    fr = locale.startswith("fr")
    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, locale=locale, color_scheme=theme
    )
    page = context.new_page()
    page.goto(auth_server.url + ("?__theme=dark" if theme == "dark" else ""))
    page.wait_for_selector("#ancre-login-brand", timeout=WAIT_MS)
    assert page.title().startswith("ancre")
    brand = page.inner_text("#ancre-login-brand")
    assert "ancre" in brand and ("Réponses courtes" if fr else "Short answers") in brand
    assert page.get_attribute("input[type=password]", "autocomplete") == "current-password"
    assert serious_violations(page) == []
    page.locator("input[type=text]").first.fill("alice")
    page.locator("input[type=password]").fill("s3cret")
    page.locator("input[type=password]").press("Enter")
    page.wait_for_selector("#ancre-chat .ancre-thread", timeout=WAIT_MS)
    open_sidebar(page)
    account = page.locator("#ancre-account")
    assert ("Connecté : alice" if fr else "Signed in: alice") in account.inner_text()
    assert serious_violations(page) == []  # the sidebar with the account line
    lines = account.get_by_role("link").evaluate("a => a.getClientRects().length")
    assert lines == 1  # « Se déconnecter » in one piece (it broke after « Se » at 1366)
    account.get_by_role("link").click()
    page.wait_for_selector("input[type=password]", timeout=WAIT_MS)
    page.goto(auth_server.url)
    page.wait_for_selector("input[type=password]", timeout=WAIT_MS)  # logged out indeed
    context.close()


@pytest.mark.parametrize("locale,theme", [("fr-FR", "dark"), ("en-US", "light"), ("en-US", "dark")])
def test_axe_finds_nothing_serious_with_the_sheet_and_the_article_open(
    server, browser, locale, theme
):
    """An answer with its source sheet open, then its article, then the Documents tab, in
    both languages and both themes: 0 serious or critical axe findings (the dark theme's
    « sûre à » line was below 4.5:1)."""
    url = server.url + ("?__theme=dark" if theme == "dark" else "")
    tab = Tab(browser, url, width=1366, height=900, locale=locale)
    page = tab.page
    tab.ask(TRAMWAY)
    page.locator("#ancre-chat .ancre-chip").first.click()
    page.wait_for_selector("#ancre-sheet", state="visible")
    assert serious_violations(page) == []
    page.click("#ancre-sheet .ancre-read")
    page.wait_for_selector("#ancre-sheet .ancre-article", timeout=WAIT_MS)
    assert serious_violations(page) == []
    page.keyboard.press("Escape")
    page.get_by_role("tab", name="Documents").click()
    page.wait_for_selector("#ancre-library tbody tr")
    assert serious_violations(page) == []
    tab.close()
