"""The warm answer path (``ui/warm.py``): ``ancre ask`` answered by the process of an
``ancre chat`` / ``ancre serve`` of the same index, over a Unix socket of its user alone."""

from __future__ import annotations

import json
import os
import socket
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from ancre.index import IndexSettings
from ancre.qa import Answer, AnswerSettings, open_answerer
from ancre.ui.cli import main
from ancre.ui.warm import WarmServer, ask_warm, socket_dir, socket_path
from conftest import HashEmbedder, ScriptedGenerator

QUESTION = "Combien de festivaliers le festival Rives & Rythmes a-t-il accueillis ?"


class Counting:
    """An Answerer factory over the fakes that counts the answers it was asked for."""

    def __init__(self, index_settings: IndexSettings):
        self.index_settings = index_settings
        self.embedder = HashEmbedder()
        self.generator = ScriptedGenerator("74 500 festivaliers")
        self.calls = 0

    def __call__(self, options: AnswerSettings):
        self.calls += 1
        return open_answerer(
            options, self.index_settings, embedder=self.embedder, generator=self.generator
        )


@pytest.fixture
def served(tiny_index, tmp_path):
    """A warm server of the tiny index on a socket under tmp_path; (server, factory)."""
    xs = IndexSettings.from_env(index_dir=str(tiny_index))
    factory = Counting(xs)
    server = WarmServer(factory, AnswerSettings(), xs, path=tmp_path / "run" / "a.sock")
    assert server.start()
    yield server, factory
    server.close()


def without_timings(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "timings"}


def test_the_warm_answer_is_the_cold_answer(served):
    server, factory = served
    stages = []
    reply = ask_warm(
        QUESTION, AnswerSettings(), server.index_settings, path=server.path, on_stage=stages.append
    )
    assert reply.answer is not None and not reply.note
    cold = factory(AnswerSettings()).ask(QUESTION).to_dict()
    assert without_timings(reply.answer) == without_timings(cold)
    assert "74 500" in reply.answer["text"] and reply.answer["citations"]
    assert reply.answer["timings"]["warm"] > 0 and "cold" not in reply.answer["timings"]
    assert stages[0] == "retrieving"
    assert Answer.from_dict(reply.answer).to_dict() == reply.answer


def test_the_socket_and_its_folder_are_the_users_alone(served):
    server, _ = served
    assert stat.S_IMODE(os.lstat(server.path).st_mode) == 0o600
    assert stat.S_IMODE(os.lstat(server.path.parent).st_mode) == 0o700
    second = WarmServer(server.answerers, server.settings, server.index_settings, path=server.path)
    assert not second.start()  # a second server of the index leaves the first one alone
    assert ask_warm(QUESTION, AnswerSettings(), server.index_settings, path=server.path).answer
    server.close()
    assert not server.path.exists()


def fake_lstat(real: Path, uid_of_socket: int, mode_of_socket: int):
    """``os.lstat`` where the socket ``real`` has another owner or mode."""

    def lstat(path):
        st = os.lstat(path)
        if Path(path) != real:
            return st
        values = list(st)
        values[stat.ST_MODE] = stat.S_IFSOCK | mode_of_socket
        values[stat.ST_UID] = uid_of_socket
        return os.stat_result(values)

    return lstat


@pytest.mark.parametrize(
    "uid_delta, mode, why", [(1, 0o600, "belongs to uid"), (0, 0o666, "opened by others")]
)
def test_another_users_socket_is_refused(served, uid_delta, mode, why):
    server, factory = served
    lstat = fake_lstat(server.path, os.getuid() + uid_delta, mode)
    reply = ask_warm(
        QUESTION, AnswerSettings(), server.index_settings, path=server.path, lstat=lstat
    )
    assert reply.answer is None and why in reply.note
    assert factory.calls == 0  # refused before connecting
    assert server.path.exists()


def test_a_socket_in_a_folder_others_can_open_is_refused(served):
    server, factory = served
    folder = server.path.parent

    def lstat(path):
        st = os.lstat(path)
        if Path(path) == folder:
            values = list(st)
            values[stat.ST_MODE] = stat.S_IFDIR | 0o755
            return os.stat_result(values)
        return st

    reply = ask_warm(
        QUESTION, AnswerSettings(), server.index_settings, path=server.path, lstat=lstat
    )
    assert reply.answer is None and "opened by others" in reply.note and factory.calls == 0


def test_a_stale_socket_file_is_ignored_and_removed(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    path = folder / "gone.sock"
    with socket.socket(socket.AF_UNIX) as dead:  # bound, then its process is gone
        dead.bind(str(path))
    os.chmod(path, 0o600)
    assert path.exists()
    reply = ask_warm(QUESTION, AnswerSettings(), IndexSettings(index_dir=str(tmp_path)), path=path)
    assert reply == type(reply)(None, "")
    assert not path.exists()


def test_no_socket_means_cold_without_a_word(tmp_path):
    path = tmp_path / "run" / "none.sock"
    reply = ask_warm(QUESTION, AnswerSettings(), IndexSettings(index_dir=str(tmp_path)), path=path)
    assert reply.answer is None and reply.note == ""


def test_a_server_replaces_a_stale_socket(tiny_index, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    path = folder / "a.sock"
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(path))
    os.chmod(path, 0o600)
    xs = IndexSettings.from_env(index_dir=str(tiny_index))
    server = WarmServer(Counting(xs), AnswerSettings(), xs, path=path)
    try:
        assert server.start()
        reply = ask_warm(QUESTION, AnswerSettings(), xs, path=path)
        assert reply.answer is not None
    finally:
        server.close()


def test_another_generator_falls_back_cold_with_a_note(served):
    server, factory = served
    asked = replace(AnswerSettings(), llm="smollm2")
    reply = ask_warm(QUESTION, asked, server.index_settings, path=server.path)
    assert reply.answer is None
    assert "llm='gemma'" in reply.note and reply.note.endswith("answering cold")
    assert factory.calls == 0
    other = replace(server.index_settings, embed_precision="fp32")
    reply = ask_warm(QUESTION, AnswerSettings(), other, path=server.path)
    assert reply.answer is None and "embed_precision" in reply.note
    # per-call options are the client's: fewer passages
    reply = ask_warm(
        QUESTION, replace(AnswerSettings(), top_k=2), server.index_settings, path=server.path
    )
    assert reply.answer is not None and len(reply.answer["passages"]) <= 2


def test_a_failing_answer_falls_back_cold(tiny_index, tmp_path):
    xs = IndexSettings.from_env(index_dir=str(tiny_index))

    def broken(options):
        raise RuntimeError("the model file is gone")

    server = WarmServer(broken, AnswerSettings(), xs, path=tmp_path / "run" / "b.sock")
    assert server.start()
    try:
        reply = ask_warm(QUESTION, AnswerSettings(), xs, path=server.path)
    finally:
        server.close()
    assert reply.answer is None and "the model file is gone" in reply.note


def test_the_socket_is_named_by_the_index_and_the_runtime_folder(tmp_path):
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    a = IndexSettings(index_dir=str(tmp_path / "idx"))
    same = IndexSettings(index_dir=str(tmp_path / "x" / ".." / "idx"))
    other = IndexSettings(index_dir=str(tmp_path / "other"))
    assert socket_dir(env) == tmp_path / "ancre"
    assert socket_path(a, env) == socket_path(same, env) != socket_path(other, env)
    assert socket_dir({}) == Path("~/.cache/ancre/run").expanduser()


def test_a_socket_too_deep_for_an_address_moves_to_a_short_folder_that_still_serves(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    xs = IndexSettings(index_dir=str(tmp_path / "idx"))
    path = socket_path(xs, {"XDG_RUNTIME_DIR": str(deep)})
    assert len(str(path)) <= 100 and path.parent.name == f"ancre-{os.getuid()}"
    server = WarmServer(lambda s: None, AnswerSettings(), xs, path=path)
    assert server.start()
    try:
        assert path.exists() and path.parent.stat().st_mode & 0o777 == 0o700
    finally:
        server.close()


def test_ancre_ask_uses_the_warm_process(tiny_index, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    xs = IndexSettings.from_env(index_dir=str(tiny_index))
    factory = Counting(xs)
    server = WarmServer(factory, replace(AnswerSettings(), llm="none"), xs)
    assert server.start() and server.path.parent == tmp_path / "ancre"
    try:
        argv = ["ask", QUESTION, "--index-dir", str(tiny_index), "--llm", "none"]
        assert main([*argv, "--json"]) == 0
        answer = json.loads(capsys.readouterr().out)
        assert "warm" in answer["timings"] and "74 500" in answer["text"]
        assert main(argv) == 0
        assert capsys.readouterr().out.rstrip().endswith(", warm)")
    finally:
        server.close()
    assert factory.calls == 2


@pytest.mark.slow
def test_warm_and_cold_give_the_same_answer_with_the_real_models(
    sample_index, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    xs = IndexSettings.from_env(index_dir=sample_index)
    settings = replace(AnswerSettings.from_env(), llm="none")
    server = WarmServer(lambda options: open_answerer(options, xs), settings, xs)
    assert server.start()
    argv = ["ask", QUESTION, "--index-dir", sample_index, "--llm", "none", "--json"]
    try:
        assert main(argv) == 0
        warm = json.loads(capsys.readouterr().out)
        assert main([*argv, "--cold"]) == 0
        cold = json.loads(capsys.readouterr().out)
    finally:
        server.close()
    assert "warm" in warm["timings"] and "cold" in cold["timings"]
    assert without_timings(warm) == without_timings(cold)


def test_a_cold_answer_preloads_only_what_it_needs(tiny_index):
    from ancre.qa.api import open_retriever, preload

    xs = IndexSettings.from_env(index_dir=str(tiny_index))
    embedder = HashEmbedder()
    threads = preload(replace(AnswerSettings(), llm="none"), xs, embedder=embedder)
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(t.name for t in threads) == ["ancre-preload-index", "ancre-preload-reranker"]
    assert embedder.calls == 1  # the encoder's first inference is done
    assert open_retriever(xs, embedder=embedder).embedder is embedder
    missing = replace(AnswerSettings(), llm=str(Path(tiny_index) / "no-such-model.gguf"))
    threads = preload(missing, xs, embedder=embedder)  # a failed load is the question's to say
    for thread in threads:
        thread.join(timeout=60)
    assert "ancre-preload-generator" in {t.name for t in threads}
