"""Retake the README's screenshots of the web chat with the real default models.

    python docs/screenshots.py   # docs/screenshot-chat.png, screenshot-phone.png and
                                 # docs/screenshots/{desktop,phone}-{stated,evidence,abstained}.png

It starts ``ancre chat`` on a fresh index of the sample articles (in a temporary folder),
asks the questions below in Chromium (Playwright, Debian's /usr/bin/chromium), and saves the
desktop and phone views after each answer: one the articles let ancre state, one it answers
with the closest passage, one it abstains on. Nothing here is imported by ancre or its tests.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

DOCS = Path(__file__).resolve().parent
QUESTIONS = [
    "Combien de festivaliers le festival Rives & Rythmes a-t-il accueillis en 2025 ?",
    "Quelle température record a été relevée à Port-Joubert pendant la canicule d’août 2025 ?",
    "Quel est le cours de l’once d’or à la Bourse de Tokyo aujourd’hui ?",
]
WAIT_MS = 120_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_served(url: str, server: subprocess.Popen, seconds: float = 300) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if server.poll() is not None:
            sys.exit(f"ancre chat stopped (exit {server.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"{url} did not answer in {seconds:.0f} s")


def ask_all(page, size: str) -> None:
    """Ask each question; a screenshot of the page after each answer, named by its mode."""
    box = page.locator("#ancre-question textarea")
    (DOCS / "screenshots").mkdir(exist_ok=True)
    for n, question in enumerate(QUESTIONS, 1):
        box.fill(question)
        box.press("Enter")
        page.wait_for_function(
            """(n) => document.querySelectorAll('#ancre-chat .ancre-mode').length >= n
                && !document.querySelector('#ancre-chat .ancre-working, .ancre-pending')""",
            arg=n,
            timeout=WAIT_MS,
        )
        last = page.locator("#ancre-chat .ancre-turn").last
        mode = last.locator(".ancre-mode").get_attribute("class").split("ancre-mode-")[-1]
        last.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        path = DOCS / "screenshots" / f"{size}-{mode}.png"
        page.screenshot(path=str(path))
        print(f"wrote {path.relative_to(DOCS.parent)}")


def main() -> None:
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, ANCRE_INDEX_DIR=str(Path(tmp) / "index"))
        cmd = [sys.executable, "-m", "ancre.ui.cli", "chat", "--port", str(port)]
        server = subprocess.Popen(cmd, env=env)
        try:
            wait_served(url, server)
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
                )
                for name, size in (("chat", (1280, 860)), ("phone", (390, 844))):
                    context = browser.new_context(
                        viewport={"width": size[0], "height": size[1]}, locale="fr-FR"
                    )
                    page = context.new_page()
                    page.goto(url)
                    page.wait_for_selector("#ancre-chat .ancre-thread", timeout=WAIT_MS)
                    ask_all(page, "desktop" if name == "chat" else "phone")
                    page.wait_for_timeout(500)
                    page.screenshot(path=str(DOCS / f"screenshot-{name}.png"))
                    print(f"wrote docs/screenshot-{name}.png")
                    context.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
