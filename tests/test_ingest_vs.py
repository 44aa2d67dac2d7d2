"""`ancre bench`'s side-by-side ingestion figure: the LangChain recipe against `ancre index
build`, with fake child commands (fast), and the recipe itself on the sample articles with
the real model (slow)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ancre.index import IndexSettings
from ancre.qa.measure import bench, recipe
from ancre.qa.measure.ingest_vs import bench_vs_recipe, run_child
from ancre.qa.measure.report import Figures
from ancre.samples import ARTICLES


def _sleeper(seconds: float, printed: dict | None = None):
    """A command maker: a child that sleeps, then prints ``printed`` as JSON."""
    code = f"import time, json; time.sleep({seconds}); print(json.dumps({printed or {}!r}))"
    return lambda corpus, out: [sys.executable, "-c", code]


STEPS = {
    "documents": 14,
    "chunks": 28,
    **dict.fromkeys(("import_s", "read_s", "split_s", "model_s", "embed_s", "store_s"), 0.01),
}


def test_recipe_is_skipped_cleanly_when_a_package_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(recipe, "PACKAGES", {"no_such_module_for_ancre": "no-such-package"})
    assert recipe.missing_packages() == ["no-such-package"]
    fig = Figures()
    called = []
    bench_vs_recipe(
        ARTICLES,
        IndexSettings(),
        tmp_path,
        1,
        fig,
        14,
        recipe_cmd=lambda c, o: called.append(o) or [sys.executable, "-c", ""],
    )
    notes = fig.data["ingestion_vs_recipe"]["notes"]
    assert notes == [
        "skipped: the LangChain recipe needs no-such-package (pip install no-such-package)"
    ]
    assert not called and "speedup" not in fig.data["ingestion_vs_recipe"]


def test_speedup_is_the_ratio_of_the_two_sides_timed_in_turn(tmp_path):
    fig = Figures()
    bench_vs_recipe(
        ARTICLES,
        IndexSettings(),
        tmp_path,
        2,
        fig,
        14,
        recipe_cmd=_sleeper(0.6, STEPS),
        ancre_cmd=_sleeper(0.05),
    )
    got = fig.data["ingestion_vs_recipe"]
    assert len(got["recipe_seconds"]) == len(got["ancre_seconds"]) == 2
    assert min(got["recipe_seconds"]) >= 0.6
    assert got["speedup"] == pytest.approx(
        got["ancre_articles_per_s"] / got["recipe_articles_per_s"]
    )
    assert got["speedup"] > 1
    assert got["recipe_articles_per_s"] < 14 / 0.6
    assert "(28 chunks)" in fig.data["how"]["ingestion_vs_recipe.recipe_articles_per_s"]
    assert got["notes"][-1].startswith("recipe steps (median): import 0.01 s")


def test_a_different_document_count_is_noted(tmp_path):
    fig = Figures()
    bench_vs_recipe(
        ARTICLES,
        IndexSettings(),
        tmp_path,
        1,
        fig,
        15,
        recipe_cmd=_sleeper(0, STEPS),
        ancre_cmd=_sleeper(0),
    )
    assert (
        "the recipe read 14 documents, ancre indexed 15" in fig.data["ingestion_vs_recipe"]["notes"]
    )


def test_a_failing_child_names_its_error():
    with pytest.raises(RuntimeError, match=r"failed \(1\): boom"):
        run_child([sys.executable, "-c", "print('partial'); raise SystemExit('boom')"])


def test_run_child_returns_what_it_printed_and_its_cpu_time():
    busy = (
        "t = __import__('time'); end = t.process_time() + 0.3\nwhile t.process_time() < end: pass"
    )
    done = run_child([sys.executable, "-c", busy + "\nprint('hello')"])
    assert done.stdout.strip() == "hello" and done.seconds >= done.cpu_seconds >= 0.3


def test_only_chooses_benches():
    assert bench.parse_only(None) == set(bench.SECTIONS)
    assert bench.parse_only("recipe") == {"recipe", "ingestion"}
    with pytest.raises(ValueError, match="--only 'speed'"):
        bench.parse_only("speed")


def test_bad_only_is_one_clear_line(capsys):
    from ancre.ui.cli import main

    assert main(["bench", "--only", "speed"]) == 1
    assert capsys.readouterr().err.startswith("ancre: error: --only 'speed'")


def test_ancre_command_is_the_cli_build(tmp_path):
    from ancre.qa.measure.ingest_vs import ancre_command

    command = ancre_command(Path("corpus.jsonl"), tmp_path)
    assert command[1:5] == ["-m", "ancre.ui.cli", "index", "build"]
    assert command[-2:] == ["--index-dir", str(tmp_path)]


@pytest.mark.slow
def test_recipe_indexes_the_sample_articles(tmp_path):
    import faiss

    from ancre.index.embed import bundled_model_path

    steps = recipe.run(ARTICLES, tmp_path / "r", str(bundled_model_path()))
    assert steps["documents"] == 14 and steps["chunks"] >= 14
    index = faiss.read_index(str(tmp_path / "r" / "index.faiss"))
    assert index.ntotal == steps["chunks"] and index.d == 384
    assert json.dumps(steps)  # one JSON line for the parent
