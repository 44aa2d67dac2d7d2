"""`ancre bench`: helpers, the synthetic index and the scale and generation benches over
the tiny index with fakes; a --quick CLI run on the sample corpus with the real embedding
model (slow)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from ancre.index import Embedder, IndexReader, IndexSettings, Writer
from ancre.qa import AnswerSettings
from ancre.qa.measure import bench
from ancre.qa.measure.generation import bench_generation, setup
from ancre.qa.measure.questions import read_question_table
from ancre.qa.measure.report import Figures
from ancre.qa.measure.synthetic import SyntheticCorpus, SyntheticEmbedder, bench_scale
from ancre.samples import ARTICLES
from conftest import HashEmbedder, ScriptedGenerator, write_gguf

QUESTIONS = read_question_table(ARTICLES.parent / "QUESTIONS.md")


def test_parse_sizes():
    assert bench.parse_sizes("1000, 200,1_000") == [200, 1000]
    with pytest.raises(ValueError):
        bench.parse_sizes("10k")
    with pytest.raises(ValueError):
        bench.parse_sizes("0")


def test_bad_sizes_are_one_clear_line(capsys):
    from ancre.ui.cli import main

    assert main(["bench", "--sizes", "10k"]) == 1
    assert capsys.readouterr().err.startswith("ancre: error: --sizes '10k'")


def test_sample_questions_are_the_twelve():
    assert len(QUESTIONS) == 12
    assert QUESTIONS[0].startswith("Quand la ligne C")
    assert QUESTIONS[2] == "Et en 2025 ?"


def test_figures_collect_and_print():
    lines: list[str] = []
    fig = Figures(lines.append)
    fig.add("index", "load_s", 0.0123, "s", "open")
    fig.add("index", "size", 12.5, "KiB", "disk")
    fig.note("generation", "skipped")
    assert fig.data["index"] == {"load_s": 0.0123, "size": 12.5}
    assert fig.data["how"]["index.load_s"] == "s: open"
    assert lines[0] == "[index]" and "12.3 ms" in lines[1]
    assert lines[3] == "[generation]" and lines[4] == "  (skipped)"
    assert fig.data["generation"]["notes"] == ["skipped"]
    Figures().add("quiet", "n", 1, "", "nothing printed")  # no echo: collects only


def test_chunk_texts_are_what_the_build_embedded(tiny_index):
    texts = bench.chunk_texts(tiny_index, 3)
    with IndexReader(tiny_index) as reader:
        ids = reader.ids()
        first = reader.chunks([int(ids.min())])[int(ids.min())]
        assert len(ids) == reader.size and reader.chunk_vectors(list(ids[:2])).shape[0] == 2
    assert len(texts) == 3 and texts[0] == f"{first.title}\n{first.text}"


def test_synthetic_chunks_stay_close_to_their_source():
    vectors = np.eye(4, 8, dtype="float32")
    corpus = SyntheticCorpus(["un deux trois quatre cinq six"] * 4, ["t"] * 4, vectors)
    embedder = SyntheticEmbedder(corpus, "synthetic:test")
    assert isinstance(embedder, Embedder) and embedder.dim == 8
    doc = corpus.document(0)
    assert len(doc.text.split()) == 6 and doc.title == "t"
    out = embedder.embed([f"t\n{doc.text}"])
    assert out.shape == (1, 8)
    assert np.linalg.norm(out[0]) == pytest.approx(1.0, abs=1e-5)
    assert float(np.max(out[0] @ vectors.T)) > 0.7  # near one of the source vectors


def test_writer_takes_the_synthetic_embedder(tiny_index, tmp_path):
    with IndexReader(tiny_index) as reader:
        ids = [int(i) for i in reader.ids()]
        rows, vectors = reader.chunks(ids), reader.chunk_vectors(ids)
    corpus = SyntheticCorpus([rows[i].text for i in ids], [rows[i].title for i in ids], vectors)
    settings = IndexSettings(index_dir=str(tmp_path / "syn"))
    with Writer(settings, embedder=SyntheticEmbedder(corpus, "synthetic:hash")) as writer:
        for i in range(25):
            writer.put(corpus.document(i))
        assert writer.commit() == 25
    with IndexReader(tmp_path / "syn") as reader:
        assert reader.size == 25 and reader.manifest["embed_model"] == "synthetic:hash"


@pytest.mark.parametrize("kind", ["auto", "ivf"])
def test_scale_bench_grows_a_synthetic_index(tiny_index, tmp_path, kind):
    fig = Figures()
    bench_scale(
        tiny_index,
        IndexSettings(vector_index=kind),
        AnswerSettings(),
        tmp_path,
        [30, 60],
        QUESTIONS[:4],
        1,
        fig,
        embedder=HashEmbedder(),
    )
    figures = fig.data["retrieval"]
    for size in (30, 60):
        assert 0 < figures[f"{size}.dense_recall_at_10"] <= 1
        assert figures[f"{size}.vector_index"] == ("flat" if kind == "auto" else kind)
        assert figures[f"{size}.lexical_same_top50"] == 1.0  # the postings rank as FTS5 does
        for key in ("flat_p50_s", "dense_p50_s", "lexical_p50_s", "fts5_p50_s", "hybrid_p95_s"):
            assert figures[f"{size}.{key}"] > 0, key
    assert figures["60.disk_kb_per_1000_chunks"] < figures["30.disk_kb_per_1000_chunks"]
    assert "synthetic index" in figures["notes"][0]


def test_generation_bench_with_a_scripted_generator(tiny_index):
    fig = Figures()
    fake = ScriptedGenerator("Le samedi 13 septembre 2025 [1].")
    bench_generation(
        IndexSettings(index_dir=str(tiny_index)),
        AnswerSettings(span_first_above=1.01, draft="always"),
        QUESTIONS[:3],
        1,
        fig,
        embedder=HashEmbedder(),
        generator=fake,
    )
    figures = fig.data["generation"]
    assert figures["time_to_first_token_s"] > 0 and figures["generated_tokens_per_s"] > 0
    assert "prompt_tokens_per_s" not in figures  # the fake counts no tokens
    assert "model scripted" in fig.data["how"]["generation.time_to_first_token_s"]
    assert figures["ask_p50_s"] > 0 and sum(figures["ask_modes"].values()) == 3
    # asked as one conversation, the follow-up "Et en 2025 ?" is read with the question
    # before it and finds the 2025 election (50,9 % of the votes)
    follow_ups = [p for p in fake.prompts if "Et en 2025" in p]
    assert any("50,9 %" in p for p in follow_ups)


class DecodeTimedGenerator(ScriptedGenerator):
    """A scripted generator that, like llama.cpp's, counts its one-token decodes (4 ms each
    by its own clock) apart from the rest of the time per streamed piece."""

    def __init__(self, reply: str):
        super().__init__(reply)
        self.decodes = 0

    def decode_time(self) -> tuple[float, int]:
        return 4.0 * self.decodes, self.decodes

    def generate(self, prompt, max_tokens=48, temperature=0.0, stop=None):
        for i, piece in enumerate(super().generate(prompt, max_tokens, temperature, stop)):
            self.decodes += i > 0  # the first piece comes from the prompt's pass
            yield piece


def test_generation_bench_splits_llama_cpp_decode_time_from_the_rest(tiny_index):
    fig = Figures()
    bench_generation(
        IndexSettings(index_dir=str(tiny_index)),
        AnswerSettings(span_first_above=1.01),
        QUESTIONS[:2],
        1,
        fig,
        embedder=HashEmbedder(),
        generator=DecodeTimedGenerator("Le samedi 13 septembre 2025 [1]."),
    )
    figures = fig.data["generation"]
    assert figures["decode_ms_per_token"] == 4.0
    assert "python_ms_per_token" in figures
    assert "llama_perf_context" in fig.data["how"]["generation.decode_ms_per_token"]


def test_the_output_matrix_product_is_timed_against_a_plain_read_of_its_bytes(tmp_path):
    from ancre.qa.measure.generation import output_matvec_s

    tied = tmp_path / "tied.gguf"
    write_gguf(tied, [("token_embd.weight", 8, (64, 16), 16 * 2 * 34)])  # Q8_0, 16 words
    matvec, read, what = output_matvec_s(tied, repeats=2)
    assert matvec > 0 and read > 0
    assert what == "token_embd.weight q8_0 16 x 64, 0 MB"
    untied = tmp_path / "untied.gguf"
    write_gguf(
        untied,
        [
            ("token_embd.weight", 8, (64, 16), 16 * 2 * 34),
            ("output.weight", 2, (64, 16), 16 * 2 * 18),  # Q4_0
        ],
    )
    assert output_matvec_s(untied, repeats=1)[2].startswith("output.weight q4_0")
    neither = tmp_path / "neither.gguf"
    write_gguf(neither, [("blk.0.attn_norm.weight", 0, (64,), 256)])
    assert output_matvec_s(neither) is None


def test_generation_method_says_how_the_generator_runs(monkeypatch):
    fake = ScriptedGenerator()
    fake.n_threads = 1
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setenv("GOMP_SPINCOUNT", "3000")
    assert setup(fake) == "model scripted, 1 threads, OMP_WAIT_POLICY=PASSIVE, GOMP_SPINCOUNT=3000"
    fake.n_threads = 0  # llama.cpp's "all cores"
    monkeypatch.delenv("GOMP_SPINCOUNT")
    assert setup(fake) == f"model scripted, {os.cpu_count()} threads, OMP_WAIT_POLICY=PASSIVE"


def test_generation_is_skipped_without_a_generator():
    fig = Figures()
    bench_generation(IndexSettings(), AnswerSettings(llm="none"), QUESTIONS, 1, fig)
    assert fig.data["generation"]["notes"][0].startswith("skipped")


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
    for name in ("torch_fp32", "openvino_fp32", "openvino_int8"):
        assert data["embedding"][f"{name}_passages_per_s"] > 0
    assert 0.9 < data["embedding"]["int8_cosine_to_fp32_mean"] < 1
    for size in (150, 300):
        for key in (
            "flat_p50_s",
            "dense_p50_s",
            "dense_recall_at_10",
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
    vs = data["ingestion_vs_recipe"]
    assert vs["recipe_articles_per_s"] > 0 and vs["ancre_articles_per_s"] > 0
    assert vs["speedup"] == pytest.approx(vs["ancre_articles_per_s"] / vs["recipe_articles_per_s"])
    for section in ("ingestion", "index", "embedding", "retrieval", "cold_start", "memory"):
        _positive_numbers(data[section])
    assert all(
        f"{s}.{k}" in data["how"] for s in ("ingestion", "index") for k in data[s] if k != "notes"
    )


def test_the_api_bench_measures_the_overhead_and_the_first_streamed_chunk(tiny_index):
    from chatserver import TRAMWAY, reply

    from ancre.index import IndexSettings
    from ancre.qa import Answerer, AnswerSettings, Retriever
    from ancre.qa.measure.report import Figures
    from ancre.ui import apibench
    from conftest import HashEmbedder, ScriptedGenerator

    embedder = HashEmbedder()
    settings = AnswerSettings(span_first_above=1.01)
    qa = Answerer(Retriever.open(tiny_index, embedder=embedder), ScriptedGenerator(reply), settings)
    fig = Figures()
    apibench.bench_api(IndexSettings(index_dir=str(tiny_index)), settings, [TRAMWAY], 1, fig, qa=qa)
    api = fig.data["api"]
    assert 0 < api["overhead_p50_s"] < 1 and api["stream_first_chunk_p50_s"] > 0
    assert api["page_answer_p50_s"] > 0 and api["v1_first_chunk_p50_s"] > 0
    assert api["first_chunk_vs_page"] == api["v1_first_chunk_p50_s"] / api["page_answer_p50_s"]
    assert "p50" in fig.data["how"]["api.overhead_p50_s"]
