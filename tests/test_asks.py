"""`ancre bench`'s ask figures (``qa/measure/asks.py``): `ancre ask` cold, warm (a server of
the index running) and the LangChain tutorial's question side, with fake child commands."""

from __future__ import annotations

import json
import os
import sys

import pytest

from ancre.index import IndexSettings
from ancre.qa import AnswerSettings
from ancre.qa.measure.asks import bench_asks, recipe_commands
from ancre.qa.measure.report import Figures
from ancre.samples import ARTICLES

STEPS = dict.fromkeys(("import_s", "load_s", "search_s", "llm_load_s", "generate_s"), 0.01)


def child(seconds: float, printed: dict):
    """A command maker: a child that sleeps, then prints ``printed`` as JSON."""
    code = f"import time, json; time.sleep({seconds}); print(json.dumps({printed!r}))"
    return lambda question: [sys.executable, "-c", code]


SERVER = """
import os, pathlib, socket, sys, time
folder = pathlib.Path(os.environ["XDG_RUNTIME_DIR"]) / "ancre"
folder.mkdir(mode=0o700)
s = socket.socket(socket.AF_UNIX)
s.bind(str(folder / "fake.sock"))
pathlib.Path(sys.argv[1]).write_text(str(os.getpid()))
time.sleep(600)
"""


def server(tmp_path):
    return [sys.executable, "-c", SERVER, str(tmp_path / "server.pid")]


def test_cold_warm_and_recipe_figures_of_one_run(tmp_path):
    fig = Figures()
    bench_asks(
        ARTICLES,
        IndexSettings(index_dir=str(tmp_path / "idx")),
        AnswerSettings(),
        ["Quand ?", "Qui ?"],
        tmp_path,
        fig,
        runs=3,
        cold_cmd=child(0.3, {"timings": {"cold": 0.25}}),
        warm_cmd=child(0.0, {"timings": {"warm": 0.02}}),
        server_cmd=server(tmp_path),
        recipe_cmds=([sys.executable, "-c", ""], child(0.9, STEPS)),
    )
    got = fig.data["ask"]
    assert got["cold_p50_s"] >= 0.3 and got["recipe_p50_s"] >= 0.9
    assert got["warm_p50_s"] > 0  # a Python start: no ordering that the machine's load holds
    assert got["cold_inside_p50_s"] == 0.25 and got["warm_inside_p50_s"] == 0.02
    assert got["cold_vs_recipe"] == pytest.approx(got["cold_p50_s"] / got["recipe_p50_s"])
    assert got["warm_vs_recipe"] == pytest.approx(got["warm_p50_s"] / got["recipe_p50_s"])
    assert got["cold_vs_recipe_cpu"] > 0
    assert "over 3 questions" in fig.data["how"]["ask.cold_p50_s"]
    assert got["notes"] == [
        "recipe steps (median): import 0.01 s, load 0.01 s, search 0.01 s, "
        "llm_load 0.01 s, generate 0.01 s"
    ]
    pid = int((tmp_path / "server.pid").read_text())
    with pytest.raises(ProcessLookupError):  # the server was stopped (and reaped)
        os.kill(pid, 0)


def test_an_ask_that_was_not_answered_warm_fails_the_bench(tmp_path):
    with pytest.raises(RuntimeError, match="was not answered warm"):
        bench_asks(
            ARTICLES,
            IndexSettings(index_dir=str(tmp_path / "idx")),
            AnswerSettings(),
            ["Quand ?"],
            tmp_path,
            Figures(),
            runs=1,
            cold_cmd=child(0.0, {"timings": {"cold": 0.1}}),
            warm_cmd=child(0.0, {"timings": {"cold": 0.1}}),
            server_cmd=server(tmp_path),
            recipe_cmds="not here",
        )


def test_a_server_that_never_listens_fails_the_bench_with_its_output(tmp_path):
    with pytest.raises(RuntimeError, match="did not start listening: no index"):
        bench_asks(
            ARTICLES,
            IndexSettings(index_dir=str(tmp_path / "idx")),
            AnswerSettings(),
            ["Quand ?"],
            tmp_path,
            Figures(),
            runs=1,
            cold_cmd=child(0.0, {"timings": {"cold": 0.1}}),
            server_cmd=[sys.executable, "-c", "print('no index'); raise SystemExit(1)"],
            recipe_cmds="not here",
        )


def test_the_recipe_is_skipped_with_a_note_without_a_llama_cpp_model(tmp_path):
    why = recipe_commands(ARTICLES, tmp_path, IndexSettings(), AnswerSettings(llm="none"))
    assert isinstance(why, str) and "--llm none" in why
    fig = Figures()
    bench_asks(
        ARTICLES,
        IndexSettings(index_dir=str(tmp_path / "idx")),
        AnswerSettings(llm="none"),
        ["Quand ?"],
        tmp_path,
        fig,
        runs=2,
        cold_cmd=child(0.0, {"timings": {"cold": 0.1}}),
        warm_cmd=child(0.0, {"timings": {"warm": 0.01}}),
        server_cmd=server(tmp_path),
        recipe_cmds=why,
    )
    got = fig.data["ask"]
    assert got["notes"] == [f"recipe skipped: {why}"] and "cold_vs_recipe" not in got
    assert json.dumps(got)  # the figures are JSON


@pytest.mark.slow
def test_the_recipe_answers_from_the_chunks_it_indexed(tmp_path):
    from ancre.index.embed import bundled_model_path
    from ancre.qa.generation.gguf import resolve_gguf
    from ancre.qa.measure import recipe

    model = str(bundled_model_path())
    recipe.run(ARTICLES, tmp_path / "r", model)
    gemma = str(resolve_gguf("gemma", IndexSettings.from_env().cache_dir))
    question = "Combien de festivaliers le festival Rives & Rythmes a-t-il accueillis ?"
    found = recipe.answer(tmp_path / "r", question, model, gemma, 8)
    assert len(found["sources"]) == recipe.TOP_K
    assert any("festival" in doc_id for doc_id in found["sources"]), found["sources"]
    assert isinstance(found["answer"], str) and found["generate_s"] > 0
    assert json.dumps(found)  # one JSON line for the parent


def test_bench_questions_come_from_a_file_or_the_samples(tmp_path):
    from ancre.ui.measuring import bench_questions

    path = tmp_path / "q.jsonl"
    rows = [{"question": f"Question {n} ?", "answers": ["x"], "doc_id": "d"} for n in range(30)]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    drawn = bench_questions(str(path))
    assert len(drawn) == 20 == len(set(drawn)) and set(drawn) <= {r["question"] for r in rows}
    assert drawn == bench_questions(str(path))  # the same draw every run
    assert len(bench_questions(None)) == 12  # the sample articles' QUESTIONS.md
    with pytest.raises(ValueError, match="no such question file"):
        bench_questions(str(tmp_path / "none.jsonl"))
