"""Feeds and pages on the web (index/fetch.py, index/feeds.py), served by a local HTTP
server on 127.0.0.1 built here: a feed whose entries are a page, a 404, a page that never
answers, a redirect, a huge page; an entry that changes between two builds."""

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ancre.index import IndexSettings, build
from ancre.index.feeds import WebLimits, load_url
from ancre.index.fetch import USER_AGENT, FetchError, check_url, fetch
from ancre.index.loaders import Skipped
from conftest import HashEmbedder

PARAGRAPHS = [
    "Le conseil municipal de Bellerive a voté mardi soir le prolongement de la ligne C du "
    "tramway jusqu'au quartier des Tanneurs, un chantier de 48 millions d'euros.",
    "Les travaux commenceront au printemps 2027 et dureront deux ans, selon la maire, qui "
    "promet de limiter la gêne pour les commerçants de l'avenue Jean-Jaurès.",
]

BUDGET = [
    "Le budget primitif de la ville a été adopté lundi par 29 voix contre 8 ; il prévoit une "
    "hausse de 4 % des dépenses d'investissement, consacrées surtout aux écoles.",
    "La taxe foncière reste inchangée pour la troisième année consécutive, a rappelé "
    "l'adjoint aux finances, qui table sur une dette stable d'ici à la fin du mandat.",
]


def article(title: str, paragraphs: list[str], canonical: str = "") -> bytes:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<html lang="fr"><head><meta charset="utf-8"><title>{title}</title>{link}</head>'
        f"<body><nav><a href='/'>Accueil</a></nav><article><h1>{title}</h1>{body}</article>"
        "<footer>Mentions légales</footer></body></html>"
    ).encode()


class Site:
    """What the server answers, changed by the tests between builds."""

    def __init__(self):
        self.pages: dict[str, tuple[int, bytes, str]] = {}
        self.agents: list[str] = []
        self.slow = threading.Event()


@pytest.fixture
def site():
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state.agents.append(self.headers.get("User-Agent", ""))
            if self.path == "/slow":
                state.slow.wait(5)  # longer than the client's timeout
            status, body, kind = state.pages.get(self.path, (404, b"not found", "text/plain"))
            self.send_response(status)
            if status in (301, 302):
                self.send_header("Location", body.decode())
                body = b""
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)  # the client may give up (timeout, size limit)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    state.slow.set()
    server.shutdown()
    server.server_close()


def feed(base: str, links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>Entrée {n}</title><link>{base}{link}</link>"
        f"<pubDate>Tue, 10 Mar 2026 18:00:00 GMT</pubDate></item>"
        for n, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>La Gazette</title><link>{base}/</link>{items}</channel></rss>"
    ).encode()


def serve_feed(site: Site) -> None:
    base = site.base
    site.pages["/feed.xml"] = (
        200,
        feed(base, ["/tram", "/gone", "/slow", "/moved", "/huge"]),
        "application/rss+xml",
    )
    site.pages["/tram"] = (200, article("Le tramway ira aux Tanneurs", PARAGRAPHS), "text/html")
    site.pages["/moved"] = (302, b"/budget", "text/html")
    site.pages["/budget"] = (
        200,
        article("Le budget adopté", BUDGET, canonical="https://gazette.example/budget"),
        "text/html; charset=utf-8",
    )
    site.pages["/huge"] = (200, article("Énorme", PARAGRAPHS * 400), "text/html")


def test_feed_pages_are_read_and_each_failure_named(site):
    serve_feed(site)
    items = list(load_url(f"{site.base}/feed.xml", WebLimits(timeout=0.5, max_bytes=50_000)))
    docs = {d.doc_id: d for d in items if not isinstance(d, Skipped)}
    skipped = {s.path.removeprefix(site.base): s.reason for s in items if isinstance(s, Skipped)}
    assert set(docs) == {f"{site.base}/tram", "https://gazette.example/budget"}
    tram = docs[f"{site.base}/tram"]
    assert tram.text.split("\n\n") == PARAGRAPHS and tram.title == "Le tramway ira aux Tanneurs"
    assert tram.date == "2026-03-10" and tram.metadata["feed"] == f"{site.base}/feed.xml"
    assert tram.source == f"{site.base}/tram"
    assert skipped["/gone"] == "HTTP 404 Not Found"
    assert "no answer within 0.5 s" in skipped["/slow"]
    assert "limit" in skipped["/huge"]
    assert all(agent == USER_AGENT for agent in site.agents)


def test_a_page_url_is_its_own_document_and_redirects_are_bounded(site):
    serve_feed(site)
    (doc,) = load_url(f"{site.base}/moved")
    assert doc.doc_id == "https://gazette.example/budget" and "budget" in doc.text
    for n in range(6):
        site.pages[f"/loop{n}"] = (302, f"/loop{n + 1}".encode(), "text/html")
    with pytest.raises(FetchError, match="redirects"):
        fetch(f"{site.base}/loop0")


def test_an_entry_that_changes_between_two_builds_is_replaced(site, tmp_path):
    serve_feed(site)
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"), fetch_timeout=0.5, max_page_mb=0.05)
    url = f"{site.base}/feed.xml"
    first = build([url], settings=s, embedder=HashEmbedder())
    assert (first.added, len(first.skipped)) == (2, 3)
    again = build([url], settings=s, embedder=HashEmbedder())
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    site.pages["/tram"] = (
        200,
        article("Le tramway ira aux Tanneurs", [*PARAGRAPHS, "Mise à jour : le vote est reporté."]),
        "text/html",
    )
    third = build([url], settings=s, embedder=HashEmbedder())
    assert (third.added, third.updated, third.unchanged, third.documents_total) == (0, 1, 1, 2)


def test_private_addresses_and_other_schemes_are_refused_when_asked():
    with pytest.raises(FetchError, match="only http"):
        check_url("file:///etc/passwd", public_only=False)
    with pytest.raises(FetchError, match="private network"):
        check_url("http://127.0.0.1:8080/admin", public_only=True)
    with pytest.raises(FetchError, match="private network"):
        check_url("http://192.168.1.10/", public_only=True)
    check_url("http://127.0.0.1:8080/", public_only=False)  # the command line reads them


def test_timeout_is_quick(site):
    t0 = time.perf_counter()
    with pytest.raises(FetchError, match="no answer"):
        fetch(f"{site.base}/slow", timeout=0.3)
    assert time.perf_counter() - t0 < 3


def test_the_chat_library_refuses_file_urls_and_private_addresses(site, tmp_path):
    from ancre.ui.library import Library

    serve_feed(site)
    s = IndexSettings.from_env(index_dir=str(tmp_path / "idx"), fetch_timeout=0.5)
    closed = Library(s, embedder=HashEmbedder())
    (refused,) = closed.add_url("file:///etc/passwd")
    assert (refused.state, refused.key) == ("refused", "url_scheme")
    assert "seules les adresses http:// et https://" in refused.text("fr")
    (refused,) = closed.add_url(f"{site.base}/tram")
    assert "private network" in refused.text("en") and not site.agents  # nothing was fetched
    opened = Library(s, embedder=HashEmbedder(), allow_private_urls=True)
    statuses = opened.add_url(f"{site.base}/tram")
    assert [(x.state, dict(x.values).get("added")) for x in statuses] == [("added", 1)]
    assert "1 added" in statuses[0].text("en")
