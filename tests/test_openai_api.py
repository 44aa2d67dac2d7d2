"""The OpenAI-compatible API, called with the official ``openai`` client against the API
that ``ancre serve`` serves (``apiserve.api_app``), live on 127.0.0.1: the sample articles
indexed with the hashing embedder and a scripted generator."""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from chatserver import STATIONS, TRAMWAY, SlowGenerator, reply

from ancre.index import build
from ancre.qa import Answerer, AnswerSettings, Retriever
from ancre.samples import ARTICLES
from ancre.ui.apiserve import api_app, start
from ancre.ui.openai_api import SOURCES_MARK, Gate, read_request
from ancre.ui.serve import ServeSettings
from conftest import HashEmbedder, free_port

openai = pytest.importorskip("openai", reason='the API tests need: pip install -e ".[test]"')

KEY = "sk-local-test"
ABSENT = "Qui a remporté le Tour de France ?"


def serve(root, *, capacity: int = 16, delay: float = 0.0, gate: Gate | None = None):
    index_dir = root / "index"
    embedder = HashEmbedder()
    build([ARTICLES], index_dir=index_dir, embedder=embedder)
    retriever = Retriever.open(index_dir, embedder=embedder)
    generator = SlowGenerator(reply, delay, model_id="scripted-1b.gguf")
    answers = AnswerSettings(
        llm="gemma", max_question_chars=300, span_first_above=1.01, state_above=0.0
    )

    def answerers(options: AnswerSettings) -> Answerer:
        return Answerer(retriever, generator, options)

    settings = ServeSettings(port=free_port())
    gate = gate or Gate([KEY], [("alice", "s3cret")])
    return start(api_app(answerers, answers, settings, gate, capacity), "127.0.0.1", settings.port)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = serve(tmp_path_factory.mktemp("api"))
    yield running
    running.close()


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0, timeout=60)


def test_models_list_names_the_index(client):
    assert [m.id for m in client.models.list()] == ["ancre"]
    assert client.models.retrieve("ancre").id == "ancre"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_a_plain_completion_carries_the_answer_and_its_citations(client):
    done = client.chat.completions.create(
        model="ancre",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": TRAMWAY}],
        temperature=1.7,  # ignored, like every option: the operator's settings answer
        top_p=0.1,
        extra_body={"unknown_field": True},
    )
    message = done.choices[0].message
    assert message.role == "assistant" and done.choices[0].finish_reason == "stop"
    text, _, sources = message.content.partition(SOURCES_MARK)
    assert "13 septembre 2025" in text and "[1]" in text
    assert sources.startswith("Sources :") and "[1] " in sources
    extra = done.model_extra
    first = extra["citations"][0]
    assert first["number"] == 1 and "13 septembre 2025" in first["sentence"]
    assert first["sentence"] in first["passage"] and first["title"] and first["date"]
    assert (
        extra["ancre"]["mode"] == "stated"
        and extra["ancre"]["generated"]
        and not extra["ancre"]["abstained"]
    )
    assert extra["ancre"]["models"]["llm"] == "scripted-1b.gguf"


def test_a_streamed_completion_ends_with_done(client, server):
    pieces, extra = [], {}
    for part in client.chat.completions.create(
        model="ancre", messages=[{"role": "user", "content": TRAMWAY}], stream=True
    ):
        if part.choices and part.choices[0].delta.content:
            pieces.append(part.choices[0].delta.content)
        extra = part.model_extra or extra
    text = "".join(pieces)
    assert "13 septembre 2025" in text and SOURCES_MARK in text
    assert extra["citations"][0]["number"] == 1
    # on the wire: a first chunk with the role, chunks as OpenAI's, then [DONE]
    conn = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=60)
    body = json.dumps(
        {"model": "ancre", "stream": True, "messages": [{"role": "user", "content": TRAMWAY}]}
    )
    conn.request("POST", "/v1/chat/completions", body, {"Authorization": f"Bearer {KEY}"})
    response = conn.getresponse()
    assert response.getheader("content-type").startswith("text/event-stream")
    data = [x[6:] for x in response.read().decode().split("\n\n") if x.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(x) for x in data[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_a_follow_up_is_answered_from_the_history(client, server):
    first = client.chat.completions.create(
        model="ancre", messages=[{"role": "user", "content": TRAMWAY}]
    )
    alone = client.chat.completions.create(
        model="ancre", messages=[{"role": "user", "content": STATIONS}]
    )
    assert alone.model_extra["ancre"]["mode"] == "incomplete"  # asked back in full
    follow = client.chat.completions.create(
        model="ancre",
        messages=[
            {"role": "user", "content": TRAMWAY},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": [{"type": "text", "text": STATIONS}]},
        ],
    )
    extra = follow.model_extra
    assert not extra["ancre"]["abstained"] and extra["citations"]
    assert any("station" in c["passage"] for c in extra["citations"])


def test_an_abstention_is_a_normal_reply(client):
    done = client.chat.completions.create(
        model="ancre", messages=[{"role": "user", "content": ABSENT}]
    )
    assert done.choices[0].finish_reason == "stop"
    assert "Tour de France" in done.choices[0].message.content
    assert done.model_extra["ancre"]["abstained"] and done.model_extra["citations"] == []


def test_the_key_or_an_account_is_required(server):
    url = f"{server.url}/v1"
    for key in ("wrong", "alice:wrong", ""):
        bad = openai.OpenAI(base_url=url, api_key=key or "x", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            bad.models.list()
        assert caught.value.status_code == 401
        assert caught.value.body["code"] == "invalid_api_key"
    account = openai.OpenAI(base_url=url, api_key="alice:s3cret", max_retries=0)
    assert [m.id for m in account.models.list()] == ["ancre"]


def test_errors_have_openai_s_shape(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="ancre", messages=[{"role": "user", "content": "mot " * 100}]
        )
    assert caught.value.status_code == 400
    assert caught.value.body == {
        "message": "the question is 399 characters long; the limit is 300",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "question_too_long",
    }
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="ancre", messages=[{"role": "assistant", "content": "x"}]
        )


def test_eight_questions_at_once_are_all_answered(client):
    def one(_: int) -> str:
        done = client.chat.completions.create(
            model="ancre", messages=[{"role": "user", "content": TRAMWAY}]
        )
        return done.choices[0].message.content

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(8)))
    assert all("13 septembre 2025" in a for a in answers)


def test_a_full_queue_answers_429(tmp_path):
    running = serve(tmp_path, capacity=1, delay=0.3, gate=Gate())
    try:
        client = openai.OpenAI(base_url=f"{running.url}/v1", api_key="any", max_retries=0)

        def one(_: int) -> str:
            try:
                client.chat.completions.create(
                    model="ancre", messages=[{"role": "user", "content": TRAMWAY}]
                )
                return "answered"
            except openai.RateLimitError as err:
                assert err.body["code"] == "rate_limit_exceeded"
                return "429"

        with ThreadPoolExecutor(3) as pool:
            outcomes = sorted(pool.map(one, range(3)))
        assert outcomes[0] == "429" and outcomes[-1] == "answered"
    finally:
        running.close()


def test_read_request_takes_the_last_user_message_and_the_turns_before():
    model, question, history, stream = read_request(
        {
            "model": "ancre",
            "messages": [
                {"role": "system", "content": "x"},
                {"role": "user", "content": "Quand  ?"},
                {"role": "assistant", "content": f"Demain [1].{SOURCES_MARK}Sources :\n[1] A"},
                {"role": "user", "content": " Et où ? "},
            ],
            "stream": True,
            "n": 3,
        },
        100,
    )
    assert (model, question, stream) == ("ancre", "Et où ?", True)
    assert history == [
        {"role": "user", "content": "Quand  ?"},
        {"role": "assistant", "content": "Demain [1]."},
    ]


def test_gate_accepts_keys_accounts_and_basic_auth():
    import base64

    gate = Gate(["k1"], [("bob", "pw:x")])
    assert gate.allows("Bearer k1") and gate.allows("bearer bob:pw:x")
    assert gate.allows("Basic " + base64.b64encode(b"bob:pw:x").decode())
    assert not gate.allows("Basic " + base64.b64encode(b"k1").decode())
    assert not gate.allows("Bearer k2") and not gate.allows("") and not gate.allows("Basic !!")
    assert Gate().allows("")


def test_the_chat_serves_the_api_under_v1_with_its_logins(tmp_path):
    from chatserver import start as start_chat

    chat = start_chat(tmp_path, delay=0.0, auth=[("alice", "s3cret")])
    try:
        url = chat.url.rstrip("/") + "/v1"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url, api_key="nobody", max_retries=0).models.list()
        client = openai.OpenAI(base_url=url, api_key="alice:s3cret", max_retries=0)
        done = client.chat.completions.create(
            model="ancre", messages=[{"role": "user", "content": TRAMWAY}]
        )
        assert "13 septembre 2025" in done.choices[0].message.content
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        conn.request("GET", "/v1/models", headers={"Host": "evil.example"})
        assert conn.getresponse().status == 421  # the page's Host check covers the API
    finally:
        chat.close()


@pytest.mark.slow
def test_ancre_serve_answers_with_the_real_models(tmp_path):
    """``ancre serve`` as a user starts it: the sample articles indexed on first run, the
    default generator, the key from ANCRE_API_KEY."""
    import os
    import subprocess
    import sys
    import time

    port = free_port()
    env = {
        **os.environ,
        "ANCRE_API_KEY": KEY,
        "ANCRE_INDEX_DIR": str(tmp_path / "index"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ancre.ui.cli", "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0)
        deadline = time.monotonic() + 300
        while True:
            try:
                assert [m.id for m in client.models.list()] == ["ancre"]
                break
            except openai.APIConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.5)
        done = client.chat.completions.create(
            model="ancre", messages=[{"role": "user", "content": TRAMWAY}], timeout=300
        )
        assert "13 septembre 2025" in done.choices[0].message.content
        assert done.model_extra["citations"][0]["url"] or done.model_extra["citations"][0]["title"]
        assert list((tmp_path / "run" / "ancre").glob("*.sock"))  # `ancre ask` is answered here
        proc.terminate()  # SIGTERM stops it as Ctrl-C does: the socket goes with it
        assert proc.wait(timeout=30) == 0
        assert not list((tmp_path / "run" / "ancre").glob("*.sock"))
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_api_keys_come_from_the_flag_or_the_environment(monkeypatch):
    from ancre.index import from_env
    from ancre.ui.serve import api_keys

    monkeypatch.setenv("ANCRE_API_KEY", "sk-one, sk-two")
    assert api_keys(from_env(ServeSettings, only_known=True)) == ["sk-one", "sk-two"]
    assert api_keys(from_env(ServeSettings, only_known=True, api_key="sk-flag")) == ["sk-flag"]
    assert api_keys(ServeSettings()) == []
