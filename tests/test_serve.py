"""``ancre chat``'s server: the Host header check (DNS rebinding), the page's language, the
credentials from a flag, a file or the environment, and the server folders the page may
read. Raw HTTP against a server started on 127.0.0.1; no browser."""

from __future__ import annotations

import asyncio
import http.client

import pytest
from chatserver import start

from ancre.index import from_env
from ancre.ui.cli import main
from ancre.ui.middleware import HostCheck, PageLanguage, allowed_hosts, host_name
from ancre.ui.serve import ServeSettings, allowed_folders, credentials


def get(url_port: int, path: str = "/", **headers: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=20)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read().decode("utf-8", "replace")
    conn.close()
    return response.status, body


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    chat = start(tmp_path_factory.mktemp("serve"), allow_host=("chat.lan",))
    yield chat
    chat.close()


def port_of(server) -> int:
    return int(server.url.rstrip("/").rsplit(":", 1)[1])


def test_a_foreign_host_header_is_refused(server):
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1."""
    port = port_of(server)
    for path in ("/", "/config", "/gradio_api/info"):
        status, body = get(port, path, Host="evil.example")
        assert status == 421 and "--allow-host" in body
    assert get(port, "/config", Host=f"evil.example:{port}")[0] == 421
    assert get(port, "/config", Host=f"localhost:{port}")[0] == 200
    assert get(port, "/config", Host=f"127.0.0.1:{port}")[0] == 200
    assert get(port, "/config", Host=f"[::1]:{port}")[0] == 200
    assert get(port, "/config", Host="chat.lan")[0] == 200  # --allow-host
    assert get(port, "/config", Host="192.168.1.5")[0] == 421  # not this server's address


def test_the_page_comes_in_the_browser_language_or_the_chosen_one(server):
    port = port_of(server)
    _, page = get(port, "/", **{"Accept-Language": "en-US,en;q=0.9"})
    assert 'var l="en"' in page and page.index('var l="en"') < page.index('type="module"')
    _, page = get(port, "/", **{"Accept-Language": "en-US", "Cookie": "ancre_lang=fr"})
    assert 'var l="fr"' in page


def test_host_names():
    assert host_name("LocalHost:7860") == "localhost"
    assert host_name("[::1]:7860") == "::1" and host_name("::1") == "::1"
    assert host_name("example.org") == "example.org"
    assert allowed_hosts("127.0.0.1") == {"localhost", "127.0.0.1", "::1"}
    assert "10.0.0.7" in allowed_hosts("10.0.0.7", ["Chat.Lan "])
    assert "chat.lan" in allowed_hosts("0.0.0.0", ["chat.lan"])


def run_asgi(app, headers: dict[bytes, bytes], path: str = "/") -> list[dict]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": list(headers.items())}
    asyncio.run(app(scope, receive, send))
    return sent


async def page(scope, receive, send):
    body = b"<html><head><title>x</title></head><body></body></html>"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/html"), (b"content-length", b"52")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def test_host_check_rules():
    loopback = HostCheck(page, allowed_hosts("127.0.0.1"))
    assert loopback.accepts("localhost:1") and loopback.accepts("127.0.0.2")
    assert not loopback.accepts("evil.example") and not loopback.accepts("")
    assert not loopback.accepts("10.1.2.3")
    everywhere = HostCheck(page, allowed_hosts("0.0.0.0"), any_address=True)
    assert everywhere.accepts("10.1.2.3:7860") and not everywhere.accepts("evil.example")
    wildcard = HostCheck(page, ["*.corp.example"])
    assert wildcard.accepts("chat.corp.example") and not wildcard.accepts("corp.example.evil")
    shared = HostCheck(page, allowed_hosts("127.0.0.1"), share=True)
    assert shared.accepts("abc123.gradio.live")
    refused = run_asgi(loopback, {b"host": b"evil.example"})
    assert refused[0]["status"] == 421


def test_page_language_is_injected_before_gradio_runs():
    sent = run_asgi(PageLanguage(page), {b"accept-language": b"en-GB"})
    body = sent[1]["body"]
    assert body.startswith(b"<html><head><script>") and b'var l="en"' in body
    assert dict(sent[0]["headers"])[b"content-length"] == str(len(body)).encode()
    other = run_asgi(PageLanguage(page), {}, path="/config")
    assert b"<script>" not in other[1]["body"]


def test_credentials_from_the_flag_a_file_or_the_environment(tmp_path, monkeypatch):
    assert credentials(ServeSettings()) is None
    assert credentials(ServeSettings(auth="alice:s3cret,bob:pw:with:colons")) == [
        ("alice", "s3cret"),
        ("bob", "pw:with:colons"),
    ]
    accounts = tmp_path / "accounts"
    accounts.write_text("# who may open the page\ncarol:pa ss\n\n", encoding="utf-8")
    monkeypatch.setenv("ANCRE_AUTH_FILE", str(accounts))
    monkeypatch.setenv("ANCRE_AUTH", "dave:x")
    settings = from_env(ServeSettings, only_known=True, port=None)
    assert credentials(settings) == [("dave", "x"), ("carol", "pa ss")]
    for bad in ("alice", "alice:", ":pw"):
        with pytest.raises(ValueError, match="USER:PASSWORD"):
            credentials(ServeSettings(auth=bad))
    with pytest.raises(ValueError, match="--auth-file"):
        credentials(ServeSettings(auth_file=str(tmp_path / "missing")))


def test_allowed_folders_from_flags_or_the_environment(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.setenv("ANCRE_ALLOW_DIR", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    monkeypatch.setenv("ANCRE_ALLOW_HOST", "chat.lan, wiki.lan")
    settings = from_env(ServeSettings, only_known=True)
    assert [p.name for p in allowed_folders(settings)] == ["a", "b"]
    assert settings.allow_host == ("chat.lan", "wiki.lan")
    assert ServeSettings(allow_dir=["x"]).allow_dir == ("x",)
    with pytest.raises(ValueError, match="not a folder"):
        allowed_folders(ServeSettings(allow_dir=(str(tmp_path / "nope"),)))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--auth", "alice"], "--auth expects USER:PASSWORD"),
        (["--allow-dir", "/nonexistent/folder"], "not a folder"),
    ],
)
def test_chat_refuses_bad_server_flags_before_anything(tmp_path, capsys, flags, message):
    index_dir = tmp_path / "index"
    assert main(["chat", "--index-dir", str(index_dir), "--no-sample", *flags]) == 2
    assert message in capsys.readouterr().err
    assert not index_dir.exists()


def test_chat_help_lists_the_server_flags(capsys):
    with pytest.raises(SystemExit):
        main(["chat", "--help"])
    out = capsys.readouterr().out
    for flag in ("--auth-file", "--allow-dir", "--allow-host", "ANCRE_AUTH"):
        assert flag in out


def page_of(tmp_path, allow_dirs=()):
    from ancre.index import IndexSettings
    from ancre.qa import AnswerSettings
    from ancre.ui.app import create_app
    from ancre.ui.chat import WebChat
    from ancre.ui.conversations import ConversationStore
    from ancre.ui.library import Library

    library = Library(IndexSettings(index_dir=str(tmp_path / "index")), allow_dirs=allow_dirs)
    store = ConversationStore.beside(tmp_path / "index")
    return create_app(WebChat(lambda s: None, AnswerSettings(), store, examples=library), library)


def folder_row_visible(demo) -> bool:
    import gradio as gr

    block = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "ancre-folder")
    while not isinstance(block, gr.Row):
        block = block.parent
    return block.visible


def test_the_folder_box_is_off_unless_allow_dir_names_folders(tmp_path):
    assert folder_row_visible(page_of(tmp_path)) is False
    assert folder_row_visible(page_of(tmp_path, [tmp_path])) is True
    assert not (tmp_path / "index").exists(), "building the page must not write the index"


def test_only_the_documented_endpoints_are_public(tmp_path):
    deps = page_of(tmp_path).config["dependencies"]
    public = {d["api_name"] for d in deps if d["api_visibility"] != "private"}
    assert public == {"ask", "documents"}


def test_indexing_draws_one_progress_bar(tmp_path):
    demo = page_of(tmp_path)
    ids = {getattr(b, "elem_id", None): i for i, b in demo.blocks.items()}
    upload = next(
        d for d in demo.config["dependencies"] if (ids["ancre-files"], "upload") in d["targets"]
    )
    assert upload["show_progress_on"] == [ids["ancre-report"]]


def test_help_imports_neither_gradio_nor_the_models():
    import subprocess
    import sys

    code = (
        "import sys, ancre.ui.cli, ancre.ui.app, ancre.ui.chat\n"
        "try:\n    ancre.ui.cli.main(['chat', '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'gradio' not in sys.modules, 'gradio'\n"
        "assert 'llama_cpp' not in sys.modules and 'torch' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--allow-dir" in out.stdout


@pytest.mark.parametrize(
    "llm, reason",
    [
        ("openai:http://127.0.0.1:9/v1", "unknown generator 'openai:http://127.0.0.1:9/v1'"),
        ("hf:owner/repo/model.gguf", "unknown generator"),
        ("/etc/passwd", "unknown generator"),
    ],
)
def test_the_api_takes_only_the_offered_generators_and_says_why(server, llm, reason):
    """A client must not make the server post passages elsewhere, download, or open a file."""
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    with pytest.raises(Exception, match=reason):
        client.predict("Quand le tramway ouvre-t-il ?", 0, llm, None, api_name="/ask")


def test_the_api_says_why_a_question_is_refused(server):
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    with pytest.raises(Exception, match="too long"):
        client.predict("x" * 400, 0, "", None, api_name="/ask")
