"""``ancre bench --scale``: the store grown with the asked articles hidden among filler."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from ancre.qa.measure import scale
from ancre.qa.measure.report import Figures
from ancre.qa.measure.scalestep import FillerSource
from ancre.samples import ARTICLES

QUESTIONS = [  # the sample questions on the articles of the validation split
    ("arnaques-faux-assistants-en-ligne.md", "Quel est le préjudice total des arnaques aux faux "
     "assistants virtuels autour de Bellerive ?", "186 000 euros"),
    ("canicule-record-port-joubert.txt", "Quelle température record a été relevée à "
     "Port-Joubert pendant la canicule d’août 2025 ?", "41,7 °C"),
    ("festival-rives-et-rythmes-2025.html", "Combien de festivaliers le festival Rives & Rythmes "
     "a-t-il accueillis en 2025 ?", "74 500"),
    ("vendanges-2025-cotes-de-bellerive.md", "Quelle récolte est attendue en 2025 dans "
     "l’appellation Côtes-de-Bellerive ?", "68 000 hectolitres"),
    ("tramway-ligne-c-bellerive.md", "Quand la ligne C du tramway de Bellerive-sur-Loire "
     "ouvrira-t-elle ?", "13 septembre 2025"),
]  # fmt: skip


def write_questions(folder: Path) -> Path:
    path = folder / "questions.jsonl"
    lines = [
        json.dumps({"id": f"q{n}", "question": q, "answers": [a], "doc_id": d}, ensure_ascii=False)
        for n, (d, q, a) in enumerate(QUESTIONS)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_stores_are_named_or_both():
    assert scale.parse_stores("both") == ["directory", "milvus"]
    assert scale.parse_stores("milvus") == ["milvus"]
    with pytest.raises(ValueError, match="directory, milvus or both"):
        scale.parse_stores("sqlite")


def test_the_asked_articles_are_those_of_the_validation_split(tmp_path):
    hidden = scale.hidden_articles(write_questions(tmp_path))
    assert hidden == sorted(d for d, _, _ in QUESTIONS[:4])  # the tramway is a train article


def test_filler_source_round_trip(tmp_path):
    vectors = np.random.default_rng(1).standard_normal((2, 4)).astype("float32")
    source = FillerSource(["un texte", "deux"], ["T1", "T2"], vectors, "m", "int8-x", 256)
    back = FillerSource.load(source.save(tmp_path / "filler"))
    assert back.texts == source.texts and back.titles == source.titles
    assert back.encoder == "int8-x" and back.max_tokens == 256
    assert np.array_equal(back.vectors, vectors)


def test_own_memory_is_read_from_proc():
    assert scale.process_kb(os.getpid(), "VmHWM") >= scale.process_kb(os.getpid(), "VmRSS") > 0
    assert scale.process_kb(2**22 + 7, "VmRSS") == 0  # no such process


def test_table_shows_each_store_and_size_with_its_units():
    rows = [
        {"store": "directory", "chunks": 10000, "hybrid_p50_s": 0.0123, "recall_at_5": 0.8,
         "vectors": {"kind": "ivf", "nlist": 512}},
        {"store": "milvus", "chunks": 10000, "hybrid_p50_s": 0.05, "server_rss_mb": 300.0},
    ]  # fmt: skip
    text = scale.table(rows)
    lines = text.splitlines()
    assert len(lines) == 4 and "Milvus RSS" in lines[0]
    assert "12.3 ms" in lines[2] and "ivf nlist=512" in lines[2] and "0.800" in lines[2]
    assert "| - |" in lines[2] and "300 MiB" in lines[3]


@pytest.mark.slow
def test_scale_bench_at_ten_thousand_chunks(tmp_path):
    """The CI step: the sample articles hidden among 10,000 chunks of a directory store."""
    fig = Figures()
    out = scale.run_scale(
        ARTICLES, write_questions(tmp_path), scale.IndexSettings.from_env(), [2000, 10000],
        ["directory"], tmp_path / "work", fig, ask=3,
    )  # fmt: skip
    rows = out["rows"]
    assert [r["chunks"] for r in rows] == [2000, 10000]
    for r in rows:
        assert r["questions"] == 4 and r["ask_questions"] == 3
        assert 0 < r["hybrid_p50_s"] <= r["hybrid_p95_s"]
        assert r["serve_peak_rss_mb"] > 50 and r["build_peak_rss_mb"] > 50
        assert 1000 < r["disk_bytes_per_chunk"] < 50_000
        assert r["projected_real_build_s"] > r["build_s"] / 10
    assert rows[0]["recall_at_5"] >= 0.75  # the hidden articles are found among filler
    assert rows[1]["recall_at_5_vs_first"] == rows[1]["recall_at_5"] - rows[0]["recall_at_5"]
    assert "directory.10000.hybrid_p50_s" in fig.data["scale"]


@pytest.mark.slow
def test_scale_bench_on_milvus(tmp_path):
    pytest.importorskip("milvus_lite")
    out = scale.run_scale(
        ARTICLES, write_questions(tmp_path), scale.IndexSettings.from_env(), [1000], ["milvus"],
        tmp_path / "work", Figures(), ask=2,
    )  # fmt: skip
    (row,) = out["rows"]
    assert row["store"] == "milvus" and row["chunks"] >= 1000
    assert row["server_rss_mb"] > 10 and row["recall_at_5"] >= 0.75
