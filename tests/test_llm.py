"""Generators: model resolution, llama.cpp in-process, and an OpenAI-compatible server
(a real `python -m llama_cpp.server` started on 127.0.0.1 by the test)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ancre.index.native import passive_openmp
from ancre.qa import AnswerSettings
from ancre.qa.generation.gguf import (
    repackable,
    requantized,
    resolve_gguf,
    safe_loading,
    smollm2_path,
    tensor_shapes,
)
from ancre.qa.generation.llm import LlamaCpp, LLMError, OpenAIServer, load_generator
from conftest import write_gguf


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unknown_model_says_what_is_accepted(tmp_path):
    with pytest.raises(LLMError, match="gemma, smollm2, none"):
        resolve_gguf(str(tmp_path / "missing.gguf"), str(tmp_path))
    with pytest.raises(LLMError, match=r"hf:OWNER/REPO/FILE\.gguf"):
        resolve_gguf("hf:nofile", str(tmp_path))


def test_requantized_model_is_made_once_and_cached_by_what_it_is_made_from(tmp_path):
    source = tmp_path / "model.gguf"
    source.write_bytes(b"weights")
    made = []

    def quantize(src: Path, target: Path, tensor_type: str) -> None:
        made.append((src, tensor_type))
        target.write_bytes(src.read_bytes() + tensor_type.encode())

    cache = str(tmp_path / "cache")
    first = requantized(source, "q4_0", cache, quantize=quantize)
    assert first.read_bytes() == b"weightsq4_0"
    assert requantized(source, "q4_0", cache, quantize=quantize) == first
    assert made == [(source, "q4_0")]
    other_type = requantized(source, "q5_0", cache, quantize=quantize)
    source.write_bytes(b"other weights")
    changed = requantized(source, "q4_0", cache, quantize=quantize)
    assert len({first, other_type, changed}) == 3
    assert changed.read_bytes() == b"other weightsq4_0"
    assert len(made) == 3
    assert not list(Path(cache).glob("*.tmp*"))


def test_requantizing_to_an_unknown_type_names_the_accepted_ones(tmp_path):
    source = tmp_path / "model.gguf"
    source.write_bytes(b"weights")
    with pytest.raises(LLMError, match="q4_0"):
        requantized(source, "q3_k", str(tmp_path), quantize=lambda *a: None)


def test_a_failed_requantization_leaves_nothing_in_the_cache(tmp_path):
    source = tmp_path / "model.gguf"
    source.write_bytes(b"weights")

    def broken(src: Path, target: Path, tensor_type: str) -> None:
        target.write_bytes(b"half")
        raise LLMError("disk full")

    with pytest.raises(LLMError, match="disk full"):
        requantized(source, "q4_0", str(tmp_path / "cache"), quantize=broken)
    assert not list((tmp_path / "cache").iterdir())


Q4_0, Q5_0, Q4_K, IQ4_NL, F32 = 2, 6, 12, 20, 0


def test_the_matrices_the_repacked_cpu_buffer_can_hold_are_read_from_the_file(tmp_path):
    model = tmp_path / "model.gguf"
    write_gguf(
        model,
        [
            ("token_embd.weight", Q4_0, (64, 8), 288),  # read by rows: never moved
            ("blk.0.attn_norm.weight", F32, (64,), 256),
            ("blk.0.attn_q.weight", Q4_0, (64, 16), 576),
            ("blk.0.attn_k.weight", Q4_0, (64, 4), 144),  # 4 rows: not a group of 8
            ("blk.0.attn_v.weight", Q5_0, (64, 8), 352),  # no repacked kernel
            ("blk.0.ffn_down.weight", Q4_K, (256, 8), 1152),  # kept where it is
            ("blk.0.ffn_up.weight", IQ4_NL, (64, 8), 288),
            ("output.weight", Q4_0, (64, 8), 288),
        ],
    )
    shapes = tensor_shapes(model)
    assert shapes["blk.0.attn_q.weight"] == (Q4_0, (64, 16))
    assert shapes["blk.0.attn_norm.weight"] == (F32, (64,))
    assert repackable(shapes) == [
        "blk.0.attn_q.weight",
        "blk.0.ffn_up.weight",
        "output.weight",
    ]


def test_a_file_that_is_not_gguf_has_no_tensors_to_read(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file at all")
    with pytest.raises(LLMError, match=r"broken\.gguf is not a GGUF file"):
        tensor_shapes(bad)
    with safe_loading(bad):  # llama.cpp itself will say what is wrong with the file
        pass


@pytest.mark.slow
def test_a_q4_0_model_loads_and_generates_with_its_matrices_repacked(tmp_path):
    import ctypes

    import llama_cpp

    model = tmp_path / "smollm2-q4_0.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype, params.allow_requantize, params.nthread = Q4_0, True, 2
    assert not llama_cpp.llama_model_quantize(
        str(smollm2_path()).encode(), str(model).encode(), ctypes.byref(params)
    )
    assert repackable(tensor_shapes(model))
    prompt = "La capitale de la France est"
    texts = []
    for where in (model, None):  # with CPU_REPACK (on AMX machines), then without
        with safe_loading(where):
            llm = llama_cpp.Llama(str(model), n_ctx=256, n_threads=1, verbose=False)
        out = llm.create_completion(prompt, max_tokens=24, temperature=0.0)
        texts.append(out["choices"][0]["text"])
    assert texts[0].strip() and texts[1].strip()  # the repacked kernels round differently


def test_openmp_threads_wait_passively_unless_the_user_chose(monkeypatch):
    code = "import os, ancre.index; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "PASSIVE"  # set on import, before any OpenMP library loads
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    passive_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    passive_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_a_model_that_fails_to_load_in_the_background_fails_its_first_use(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file at all")
    llm = LlamaCpp(bad)  # returns at once: the model loads in a thread
    with pytest.raises(LLMError, match=r"cannot load .*broken\.gguf"):
        list(llm.generate("Bonjour"))
    with pytest.raises(LLMError, match="cannot load"):
        llm.count_tokens("Bonjour")


def test_none_means_no_generator():
    assert load_generator("none") is None


def test_unreachable_server_is_a_clear_error():
    server = OpenAIServer(f"http://127.0.0.1:{free_port()}/v1", timeout=2)
    with pytest.raises(LLMError, match="cannot reach the LLM server"):
        list(server.generate("Bonjour"))


@pytest.mark.slow
def test_bundled_models_generate():
    for name in ("smollm2", "gemma"):
        llm = load_generator(name, AnswerSettings())
        text = "".join(llm.generate("La capitale de la France est", max_tokens=8))
        assert text.strip(), name
        assert llm.count_tokens("Bonjour le monde") > 0


@pytest.mark.slow
def test_kept_prompt_prefix_is_saved_and_gives_the_same_answer_in_a_fresh_model(tmp_path):
    from ancre.index import IndexSettings
    from ancre.qa.generation.gguf import gemma_path
    from ancre.qa.generation.prompting import prompt_prefix

    model = gemma_path(IndexSettings.from_env().cache_dir)
    prefix = prompt_prefix("fr")
    prompt = (
        prefix
        + "Passage [1] : Le pont a coûté 8,6 millions d'euros.\nQuestion : Combien ?\nRéponse :"
    )

    def answer() -> str:
        llm = LlamaCpp(model, state_dir=tmp_path)
        llm.keep_prefix(prefix)
        return "".join(llm.generate(prompt, max_tokens=12, stop=["\n"]))

    first = answer()  # evaluates the whole prompt, then saves the prefix's state
    (state,) = tmp_path.glob("*.state")
    assert first.strip() and answer() == first  # a fresh model starts from that state
    state.write_bytes(b"damaged")
    assert answer() == first  # an unusable state file: the prompt is evaluated in full


@pytest.fixture(scope="module")
def llama_server():
    pytest.importorskip("llama_cpp.server.app", reason="pip install 'llama-cpp-python[server]'")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("llama_server.py")),
            "--model",
            str(smollm2_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("llama_cpp.server did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_openai_compatible_server_streams(llama_server):
    server = OpenAIServer(llama_server)
    pieces = list(server.generate("La capitale de la France est", max_tokens=8))
    assert len(pieces) >= 1 and "".join(pieces).strip()


@pytest.mark.slow
def test_ask_through_the_server(llama_server, sample_index):
    from ancre.qa import ask

    answer = ask(
        "Quelle température record a été relevée à Port-Joubert pendant la canicule d’août 2025 ?",
        index_dir=sample_index,
        llm=f"openai:{llama_server}",
        settings=AnswerSettings(span_first_above=1.01),  # ask the server even when certain
    )
    assert not answer.abstained and "41,7" in answer.text
    assert answer.models["llm"].endswith(llama_server)
    assert answer.citations


@pytest.mark.slow
def test_what_another_thread_prints_while_a_model_loads_is_not_lost():
    """llama-cpp-python silences a load by pointing the process's stdout and stderr at
    /dev/null; ancre loads in the background, so an answer printed meanwhile vanished."""
    code = (
        "import sys, time\n"
        "from ancre.index import IndexSettings\n"
        "from ancre.qa import AnswerSettings\n"
        "from ancre.qa.generation.gguf import gemma_path\n"
        "from ancre.qa.generation.llm import LlamaCpp\n"
        "path = gemma_path(IndexSettings.from_env().cache_dir)\n"
        "model = LlamaCpp(path, 512, 1)\n"  # loads in a background thread from here
        "for i in range(300):\n"
        "    print('line', i, flush=True)\n"
        "    print('err', i, file=sys.stderr, flush=True)\n"
        "    time.sleep(0.01)\n"  # 3 s: the load happens meanwhile
        "model.count_tokens('fin')\n"  # waits for the load
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"line {i}" for i in range(300)]
    assert out.stderr.splitlines() == [f"err {i}" for i in range(300)]  # llama.cpp logs nothing


class Recorder:
    """A stand-in OpenAI-compatible server on 127.0.0.1 that records the paths asked and
    streams a fixed reply; ``chat_status`` refuses chat requests with that status, ``props``
    is what ``/props`` answers (None: 404, like a server that has none)."""

    def __init__(self, chat_status: int = 200, props: dict | None = None):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.paths: list[str] = []
        self.bodies: list[dict] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                recorder.paths.append(self.path)
                if self.path == "/props" and props is not None:
                    self._send(200, json.dumps(props).encode(), "application/json")
                else:
                    self._send(404, b"{}", "application/json")

            def do_POST(self):
                recorder.paths.append(self.path)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                recorder.bodies.append(body)
                if self.path.endswith("/chat/completions"):
                    if chat_status != 200:
                        self._send(chat_status, b'{"error": {}}', "application/json")
                        return
                    part = {"choices": [{"delta": {"content": "12 millions [2]."}}]}
                else:
                    part = {"choices": [{"text": " 12 millions [2]."}]}
                events = f"data: {json.dumps(part)}\n\ndata: [DONE]\n\n".encode()
                self._send(200, events, "text/event-stream")

            def _send(self, status, data, kind):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def chat_prompt():
    from ancre.qa.generation.prompting import Prompt, chat_messages

    passage = "Passage [2] : Le pont a coûté 12 millions d'euros."
    return Prompt(
        f"{passage}\nQuestion : Combien ?\nRéponse :", chat_messages(passage, "Combien ?", "fr")
    )


@pytest.mark.parametrize(
    ("mode", "chat_status", "props", "expected"),
    [
        ("auto", 200, None, ["/props", "/v1/chat/completions"]),
        ("auto", 404, None, ["/props", "/v1/chat/completions", "/v1/completions"]),
        ("auto", 200, {"chat_template": ""}, ["/props", "/v1/completions"]),
        ("auto", 200, {"chat_template": "{{ messages }}"}, ["/props", "/v1/chat/completions"]),
        ("completion", 200, None, ["/v1/completions"]),
        ("chat", 200, {"chat_template": ""}, ["/v1/chat/completions"]),
    ],
)
def test_a_server_is_asked_through_chat_when_its_model_speaks_it(
    mode, chat_status, props, expected
):
    server = Recorder(chat_status, props)
    try:
        llm = load_generator(f"openai:{server.url}", AnswerSettings(llm_chat=mode))
        assert "".join(llm.generate(chat_prompt(), 16)).strip() == "12 millions [2]."
        assert server.paths == expected
        sent = server.bodies[-1]
        if expected[-1].endswith("/chat/completions"):
            assert sent["messages"][-1]["content"].endswith("Question : Combien ?")
            assert "prompt" not in sent
        else:
            assert sent["prompt"].endswith("Réponse :") and "messages" not in sent
        "".join(llm.generate(chat_prompt(), 16))  # decided once: no second probe
        assert server.paths.count("/props") <= 1
        assert "".join(llm.generate("Une invite simple", 16))  # a plain prompt: completions
        assert server.paths[-1] == "/v1/completions"
    finally:
        server.close()


def test_a_chat_refusal_is_an_error_when_chat_was_asked_for():
    server = Recorder(chat_status=400)
    try:
        llm = load_generator(f"openai:{server.url}", AnswerSettings(llm_chat="chat"))
        with pytest.raises(LLMError, match="answered"):
            list(llm.generate(chat_prompt(), 16))
    finally:
        server.close()


def test_an_unknown_chat_mode_names_the_accepted_ones():
    with pytest.raises(ValueError, match="auto, chat, completion"):
        load_generator("openai:http://127.0.0.1:1/v1", AnswerSettings(llm_chat="maybe"))


@pytest.mark.slow
def test_an_instruct_gguf_is_prompted_through_its_chat_template():
    smollm2 = load_generator("smollm2", AnswerSettings())
    assert "<|im_start|>" in smollm2.chat_template and smollm2.speaks_chat()
    assert not load_generator("gemma", AnswerSettings()).speaks_chat()  # a base model
    text = "".join(smollm2.generate(chat_prompt(), 24, stop=["\n"]))
    assert "12" in text


@pytest.mark.slow
def test_a_llama_cpp_server_serves_the_instruct_model_on_chat_completions(llama_server):
    server = OpenAIServer(llama_server)
    assert server.speaks_chat()  # llama-cpp-python's server has no /props: chat is tried
    text = "".join(server.generate(chat_prompt(), 24, stop=["\n"]))
    assert "12" in text and server.speaks_chat()  # it was not refused
