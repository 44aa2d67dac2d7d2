"""``ancre bench``: speed, memory and scale. Every figure says how it was measured; timings
are medians over ``repeats`` runs (``--quick``: one).

- ingestion (here): full builds of the corpus into fresh indexes, index size on disk,
  unchanged rebuild, index load; embedding throughput by backend on the same chunk texts;
  ``ancre index build`` against the LangChain tutorial's recipe (``ingest_vs.py``);
- retrieval at several index sizes (``synthetic.py``);
- generation with the configured generator (``generation.py``);
- cold start (here) of a fresh process up to its first answer, and peak memory (RSS);
- ``ancre ask`` cold, warm (a server of the index running) and against the LangChain
  tutorial's question side (``asks.py``).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ancre.index import IndexReader, IndexSettings, build, embed_text, is_milvus
from ancre.qa.settings import AnswerSettings

from . import coldstart
from .asks import ASKS, bench_asks
from .generation import bench_generation
from .ingest_vs import bench_vs_recipe
from .report import Figures, median, timed
from .synthetic import bench_scale

log = logging.getLogger(__name__)

EMBED_TEXTS = 300
"""Chunk texts embedded by each backend."""
QUICK_ASKS = 5
"""Questions of the ask bench with ``--quick``."""
SECTIONS = (
    "ingestion",
    "recipe",
    "embedding",
    "retrieval",
    "generation",
    "cold_start",
    "ask",
    "api",
)
"""What ``--only`` can choose (the ingestion builds always run: the others use their index)."""


def parse_only(text: str | None) -> set[str]:
    """The benches ``--only`` names ("recipe,embedding"); all of them without it."""
    if not text:
        return set(SECTIONS)
    chosen = {s.strip() for s in text.split(",") if s.strip()}
    unknown = chosen - set(SECTIONS)
    if unknown or not chosen:
        raise ValueError(
            f"--only {text!r}: expected some of {', '.join(SECTIONS)}, separated by commas"
        )
    return chosen | {"ingestion"}


def run_benches(
    corpus: str | Path,
    index_settings: IndexSettings,
    settings: AnswerSettings,
    *,
    sizes: list[int],
    questions: list[str],
    repeats: int,
    fig: Figures,
    only: set[str] = frozenset(SECTIONS),
    api_bench: Callable[[IndexSettings, AnswerSettings, list[str], int, Figures], None]
    | None = None,
) -> None:
    """Every bench in turn (or those in ``only``), on temporary indexes of ``corpus`` asked
    ``questions``. ``api_bench`` measures the served API (the command line passes
    ``ancre.ui.apibench.bench_api``: the read path does not import the UI)."""
    if is_milvus(index_settings.store):
        raise ValueError(
            "ancre bench measures index directories (FAISS, SQLite, their files) in temporary "
            "folders; for a Milvus store, time `ancre index build SOURCE... --store ...` and "
            "read the search latency of `ancre eval --retrieval-only --store ...` "
            "(docs/milvus.md)"
        )
    with tempfile.TemporaryDirectory(prefix="ancre-bench-") as tmp:
        work = Path(tmp)
        built = bench_ingestion(corpus, index_settings, work, repeats, fig)
        if "recipe" in only:
            docs = fig.data["ingestion"]["documents"]
            bench_vs_recipe(corpus, index_settings, work, repeats, fig, docs)
        if "embedding" in only:
            bench_embedding(chunk_texts(built), index_settings, repeats, fig)
        if "retrieval" in only:
            bench_scale(built, index_settings, settings, work, sizes, questions, repeats, fig)
        indexed = replace(index_settings, index_dir=str(built))
        if "generation" in only:
            bench_generation(indexed, settings, questions, repeats, fig)
        if "cold_start" in only:
            bench_cold_start(indexed, settings, questions[0], repeats, fig)
        if "ask" in only:
            runs = ASKS if repeats > 1 else QUICK_ASKS
            bench_asks(corpus, indexed, settings, questions, work, fig, runs=runs)
        if "api" in only and api_bench is not None:
            api_bench(indexed, settings, questions, repeats, fig)
    bench_memory(fig)


def parse_sizes(text: str) -> list[int]:
    """Index sizes from ``--sizes`` ("1000,10000,100000"), sorted and unique."""
    try:
        sizes = sorted({int(s.replace("_", "")) for s in text.split(",") if s.strip()})
    except ValueError:
        raise ValueError(
            f"--sizes {text!r}: expected numbers separated by commas, such as 1000,10000,100000"
        ) from None
    if not sizes or sizes[0] <= 0:
        raise ValueError(f"--sizes {text!r}: sizes must be positive")
    return sizes


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cores": os.cpu_count() or 1,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": _cpu_name(),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def disk_bytes(folder: Path) -> dict[str, int]:
    """Bytes of an index folder: FAISS vectors, SQLite store (with its WAL), other files."""
    sizes = {"vectors": 0, "store": 0, "other": 0}
    for p in folder.iterdir():
        if not p.is_file():
            continue
        if p.suffix == ".faiss":
            sizes["vectors"] += p.stat().st_size
        elif p.name.startswith("store.sqlite"):
            sizes["store"] += p.stat().st_size
        else:
            sizes["other"] += p.stat().st_size
    return sizes


# ---- ingestion and embedding


def bench_ingestion(
    corpus: str | Path, settings: IndexSettings, work: Path, repeats: int, fig: Figures
) -> Path:
    """Full builds into fresh indexes under ``work``; returns the folder of the last one,
    kept for the other benches."""
    times, report = [], None
    for i in range(repeats + 1):
        folder = work / f"build-{i}"
        seconds, report = timed(
            lambda f=folder: build([corpus], settings=replace(settings, index_dir=str(f)))
        )
        times.append(seconds)
        if i < repeats:
            shutil.rmtree(folder)
    assert report is not None
    docs, chunks = report.documents_total, report.chunks_total
    if not docs or not chunks:
        raise ValueError(f"no document indexed from {corpus}")
    build_s = median(times[1:])
    what = f"full build of {docs} documents ({chunks} chunks) into a fresh index"
    fig.add(
        "ingestion",
        "documents_per_s",
        docs / build_s,
        "docs/s",
        f"{what}, median of {repeats}; includes loading the embedding model",
    )
    fig.add("ingestion", "chunks_per_s", chunks / build_s, "chunks/s", "same builds")
    fig.add(
        "ingestion",
        "first_build_s",
        times[0],
        "s",
        "the first build of this process (loads, exports and caches models)",
    )
    fig.add("ingestion", "documents", docs, "", f"documents of {corpus}")
    fig.add(
        "ingestion",
        "chunks",
        chunks,
        "",
        f"chunk_tokens={settings.chunk_tokens}, "
        f"overlap={settings.chunk_overlap}, embed_backend={settings.embed_backend}",
    )
    folder = work / f"build-{repeats}"
    sizes = disk_bytes(folder)
    fig.add(
        "index",
        "disk_kb_per_1000_chunks",
        sum(sizes.values()) / chunks * 1000 / 1024,
        "KiB",
        f"all files of the index folder / {chunks} chunks x 1000 "
        f"(vectors {sizes['vectors'] / 1024:.0f} KiB, SQLite {sizes['store'] / 1024:.0f} "
        f"KiB, vector_index={settings.vector_index}); on a small corpus SQLite's fixed pages "
        "dominate: see retrieval.N.disk_kb_per_1000_chunks for large indexes",
    )
    kept = replace(settings, index_dir=str(folder))
    runs = max(3, repeats)
    rebuild = [timed(lambda: build([corpus], settings=kept))[0] for _ in range(runs)]
    fig.add(
        "index",
        "unchanged_rebuild_s",
        median(rebuild),
        "s",
        f"build of the same corpus again, nothing to do, median of {runs}",
    )
    opens = []
    for _ in range(max(5, repeats)):
        seconds, reader = timed(lambda: IndexReader(folder))
        reader.close()
        opens.append(seconds)
    fig.add(
        "index",
        "load_s",
        median(opens),
        "s",
        f"IndexReader(folder) open (SQLite + FAISS file), median of {len(opens)}",
    )
    return folder


def chunk_texts(folder: Path, n: int = EMBED_TEXTS) -> list[str]:
    """``n`` chunk texts as the build embeds them (``embed_text``), cycled if needed."""
    with IndexReader(folder) as reader:
        rows = reader.chunks([int(i) for i in reader.ids()])
    texts = [embed_text(r.title, r.text) for _, r in sorted(rows.items())]
    return [texts[i % len(texts)] for i in range(n)]


EMBEDDERS = (("torch", "fp32"), ("openvino", "fp32"), ("openvino", "int8"))
"""(backend, precision) pairs of ``bench_embedding``; the index's default is openvino int8."""


def bench_embedding(texts: list[str], settings: IndexSettings, repeats: int, fig: Figures) -> None:
    """Each embedding backend and precision, freshly loaded (not the process-wide cached
    model), timed in turn on the same texts so that they share the machine's load."""
    import numpy as np

    from ancre.index.embed import TransformerEmbedder

    s = settings
    loaded = {}
    for backend, precision in EMBEDDERS:
        name = f"{backend}_{precision}"
        try:
            embedder = TransformerEmbedder(
                s.embed_model, backend, s.cache_dir, s.embed_batch_size, precision
            )
            load_s, _ = timed(lambda e=embedder: e.model)
            embedder.embed(texts[:8])
        except Exception as err:  # a backend that cannot load is a figure too
            log.warning("%s embedder unavailable: %s", name, err)
            fig.note("embedding", f"{name}: unavailable ({str(err)[:200]})")
            continue
        loaded[name] = embedder
        fig.add(
            "embedding",
            f"{name}_load_s",
            load_s,
            "s",
            f"loading {embedder.encoder} (OpenVINO: the cached export and compiled model, or "
            "exporting, quantising and compiling once)",
        )
    runs: dict[str, list[float]] = {name: [] for name in loaded}
    vectors = {}
    for _ in range(max(1, repeats)):
        for name, embedder in loaded.items():
            seconds, vectors[name] = timed(lambda e=embedder: e.embed(texts))
            runs[name].append(seconds)
    for name, times in runs.items():
        fig.add(
            "embedding",
            f"{name}_passages_per_s",
            len(texts) / median(times),
            "passages/s",
            f"{name.replace('_', ' ')}: the same {len(texts)} chunk texts (title + chunk, "
            f"{np.mean([len(t) for t in texts]):.0f} characters on average), batch "
            f"{s.embed_batch_size}, median of {len(times)}, variants timed in turn",
        )
    if "openvino_fp32" in vectors and "openvino_int8" in vectors:
        cosine = (vectors["openvino_fp32"] * vectors["openvino_int8"]).sum(axis=1)
        fig.add(
            "embedding",
            "int8_cosine_to_fp32_mean",
            float(cosine.mean()),
            "",
            "cosine of each int8 vector to the fp32 vector of the same text",
        )
        fig.add("embedding", "int8_cosine_to_fp32_min", float(cosine.min()), "", "same, lowest")


# ---- cold start and memory


def bench_cold_start(
    index_settings: IndexSettings,
    settings: AnswerSettings,
    question: str,
    repeats: int,
    fig: Figures,
) -> None:
    """A fresh interpreter (``python -m ancre.qa.measure.coldstart``) asks one question."""
    command = [
        sys.executable,
        "-m",
        coldstart.__name__,
        json.dumps(asdict(replace(index_settings, store_token=""))),  # never in argv
        json.dumps(asdict(settings)),
        question,
    ]
    times, rss, mode, heavy = [], [], "", []
    for _ in range(max(1, repeats)):
        t0 = time.time()
        proc = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise RuntimeError(
                f"cold-start process failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
            )
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        times.append(data["t_answer"] - t0)
        rss.append(data["peak_kb"] / 1024)
        mode, heavy = data["mode"], data["heavy"]
    fig.add(
        "cold_start",
        "first_answer_s",
        median(times),
        "s",
        f"fresh Python process asking one question, from spawn to the answer "
        f"({mode}, llm={settings.llm}), median of {len(times)}; models already exported, "
        "compiled and cached",
    )
    fig.add(
        "cold_start",
        "peak_rss_mb",
        max(rss),
        "MiB",
        "peak RSS of that process after its answer (VmHWM)",
    )
    fig.add(
        "cold_start",
        "heavy_modules",
        heavy,
        "",
        f"which of {', '.join(coldstart.HEAVY)} that process imported",
    )
    cli = [
        sys.executable,
        "-m",
        "ancre.ui.cli",
        "ask",
        question,
        "--index-dir",
        index_settings.index_dir,
        "--llm",
        settings.llm,
    ]
    env = {**os.environ, "ANCRE_CACHE_DIR": index_settings.cache_dir}
    runs = []
    for _ in range(max(3, repeats)):
        seconds, proc = timed(lambda: subprocess.run(cli, capture_output=True, env=env))
        if proc.returncode != 0:
            raise RuntimeError(f"`ancre ask` failed: {proc.stderr.decode()[-2000:]}")
        runs.append(seconds)
    fig.add(
        "cold_start",
        "cli_ask_s",
        median(runs),
        "s",
        f"`ancre ask QUESTION --index-dir DIR --llm {settings.llm}` (python -m ancre.ui.cli) "
        f"from spawn to exit, median of {len(runs)}",
    )


def bench_memory(fig: Figures) -> None:
    fig.add(
        "memory",
        "bench_peak_rss_mb",
        coldstart.peak_rss_kb() / 1024,
        "MiB",
        "peak RSS of this bench process (VmHWM; includes the largest synthetic index)",
    )
