"""`ancre bench`: helpers (no model), and a --quick run on the sample corpus (slow)."""

from __future__ import annotations

import json

import pytest

from ancre.qa import bench


def test_parse_sizes():
    assert bench.parse_sizes("1000, 200,1_000") == [200, 1000]
    with pytest.raises(ValueError):
        bench.parse_sizes("10k")
    with pytest.raises(ValueError):
        bench.parse_sizes("0")


def test_sample_questions_are_the_twelve():
    questions = bench.sample_questions()
    assert len(questions) == 12
    assert questions[0].startswith("Quand la ligne C")
    assert questions[2] == "Et en 2025 ?"


def test_figures_collect_and_print():
    lines: list[str] = []
    fig = bench.Figures(lines.append)
    fig.add("index", "load_s", 0.0123, "s", "open")
    fig.add("index", "size", 12.5, "KiB", "disk")
    fig.note("generation", "skipped")
    assert fig.data["index"] == {"load_s": 0.0123, "size": 12.5}
    assert fig.data["how"]["index.load_s"] == "s: open"
    assert lines[0] == "[index]" and "12.3 ms" in lines[1]
    assert fig.data["generation"]["notes"] == ["skipped"]


def test_synthetic_chunks_stay_close_to_their_source():
    import numpy as np

    vectors = np.eye(4, 8, dtype="float32")
    syn = bench.Synthetic(["un deux trois quatre cinq six"] * 4, ["t"] * 4, vectors)
    doc = syn.document(0)
    assert len(doc.text.split()) == 6 and doc.title == "t"
    out = syn.embed([f"t\n{doc.text}"])
    assert out.shape == (1, 8)
    assert np.linalg.norm(out[0]) == pytest.approx(1.0, abs=1e-5)


def _positive_numbers(section: dict) -> None:
    for key, value in section.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if key.endswith("recall_at_10"):
            assert 0 < value <= 1, key
        else:
            assert value > 0, key


@pytest.mark.slow
def test_quick_bench_on_samples(tmp_path, capsys):
    from ancre.ui.cli import main

    out = tmp_path / "bench.json"
    assert (
        main(["bench", "--quick", "--sizes", "150,300", "--llm", "none", "--json", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert "cores" in printed and "[retrieval]" in printed
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["machine"]["cores"] >= 1
    for key in ("documents_per_s", "chunks_per_s", "first_build_s"):
        assert data["ingestion"][key] > 0
    for key in ("disk_kb_per_1000_chunks", "unchanged_rebuild_s", "load_s"):
        assert data["index"][key] > 0
    assert data["embedding"]["torch_passages_per_s"] > 0
    for size in (150, 300):
        for key in (
            "flat_p50_s",
            "hnsw_p50_s",
            "hnsw_recall_at_10",
            "hybrid_p50_s",
            "hybrid_p95_s",
            "lexical_p50_s",
            "disk_kb_per_1000_chunks",
        ):
            assert f"{size}.{key}" in data["retrieval"]
    assert data["generation"]["notes"]  # skipped with llm = none
    assert data["cold_start"]["first_answer_s"] > 0
    assert data["cold_start"]["peak_rss_mb"] > 0
    assert data["memory"]["bench_peak_rss_mb"] > 0
    for section in ("ingestion", "index", "embedding", "retrieval", "cold_start", "memory"):
        _positive_numbers(data[section])
    assert all(
        f"{s}.{k}" in data["how"] for s in ("ingestion", "index") for k in data[s] if k != "notes"
    )
