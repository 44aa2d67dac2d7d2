"""``ancre bench --scale N[,N...]``: a store grown to each size, on one machine and on Milvus.

The articles that the questions ask about are hidden among filler: the real corpus is
indexed first with the real model, then the store grows with filler documents made by
``synthetic.SyntheticCorpus`` from the chunks of the *other* articles (words swapped,
vectors = their real vectors plus noise), so that recall@5 says whether the hidden
articles are still found among N chunks that do not hold their answers. Each build and each
serving process is a fresh interpreter (``scalestep``): its peak memory is its own. The
real embedding rate is measured on filler texts, and the build time that embedding every
chunk with the real model would take is projected from it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Literal

from ancre.index import IndexSettings, build, load_embedder, open_reader

from . import scalestep
from .metrics import same_document
from .questions import load_questions, split_of
from .report import Figures, timed

log = logging.getLogger(__name__)

Store = Literal["directory", "milvus"]
STORES: tuple[Store, ...] = ("directory", "milvus")
EMBED_SAMPLE = 512
"""Filler texts embedded by the real model to time its rate."""
STEP_TIMEOUT = 3 * 3600


def parse_stores(text: str) -> list[Store]:
    """``--scale-store``: directory, milvus or both."""
    if text == "both":
        return list(STORES)
    if text not in STORES:
        raise ValueError(f"--scale-store {text!r}: expected directory, milvus or both")
    return [text]  # type: ignore[list-item]


def hidden_articles(questions_file: str | Path) -> list[str]:
    """The articles whose questions are asked: those of the validation split (the other
    articles are the filler's source)."""
    questions = load_questions([questions_file])[0]
    return sorted(
        {q.doc_id for q in questions if q.answerable and split_of(q.doc_id) == "validation"}
    )


def prepare(
    corpus: str | Path, hidden: list[str], xs: IndexSettings, work: Path
) -> tuple[Path, dict[str, Any]]:
    """Index ``corpus`` once with the real model (under ``work``), keep the chunks of the
    articles not hidden as the filler's source, and time the model on them."""
    seed = replace(xs, index_dir=str(work / "seed"), store="")
    build_s, report = timed(lambda: build([corpus], settings=seed))
    with open_reader(seed) as reader:
        ids = [int(i) for i in reader.ids()]
        rows = reader.chunks(ids)
        keep = [
            i
            for i in ids
            if i in rows and not any(same_document(rows[i].doc_id, h) for h in hidden)
        ]
        vectors = reader.chunk_vectors(keep)
        model = reader.manifest.get("embed_model", "")
        encoder = reader.manifest.get("embed_encoder", "fp32")
    if not keep:
        raise ValueError(
            f"{corpus}: every article is asked about, none is left to make filler from"
        )
    embedder = load_embedder(
        model, xs.embed_backend, xs.cache_dir, xs.embed_batch_size, encoder=encoder
    )
    texts = [f"{rows[i].title}\n{rows[i].text}" for i in keep]
    sample = [texts[i % len(texts)] for i in range(EMBED_SAMPLE)]
    embedder.embed(sample[:32])  # warm-up
    embed_s, _ = timed(lambda: embedder.embed(sample))
    source = scalestep.FillerSource(
        [rows[i].text for i in keep],
        [rows[i].title for i in keep],
        vectors,
        model,
        embedder.encoder,
        embedder.max_tokens,
    )
    path = source.save(work / "filler")
    real = {
        "corpus_chunks": report.chunks_total,
        "corpus_documents": report.documents_total,
        "corpus_build_s": build_s,
        "filler_sources": len(keep),
        "embed_per_s": len(sample) / embed_s,
        "embed_model": model,
        "embed_encoder": embedder.encoder,
    }
    return path, real


def _step(command: str, spec: dict[str, Any], work: Path) -> dict[str, Any]:
    path = work / f"spec-{command}.json"
    path.write_text(json.dumps(spec))
    proc = subprocess.run(
        [sys.executable, "-m", scalestep.__name__, command, str(path)],
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scale {command} step failed: {proc.stderr.strip()[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def process_kb(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` memory field (VmRSS, VmHWM) in KiB, 0 if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


@contextmanager
def store_of(
    kind: Store, xs: IndexSettings, work: Path
) -> Iterator[tuple[IndexSettings, Path, int]]:
    """Settings naming a fresh store of ``kind`` under ``work``, its data folder, and the
    pid of its server (0 for a directory)."""
    if kind == "directory":
        folder = work / "directory"
        yield replace(xs, index_dir=str(folder), store=""), folder, 0
        return
    from .milvuslite import server

    folder = work / "milvus"
    with server(folder) as (uri, proc):
        yield replace(xs, store=f"{uri}/scale"), folder, proc.pid


def run_scale(
    corpus: str | Path,
    questions_file: str | Path,
    xs: IndexSettings,
    sizes: list[int],
    stores: list[Store],
    work: Path,
    fig: Figures,
    *,
    ask: int = 40,
) -> dict[str, Any]:
    """Every store grown through ``sizes`` (chunks), measured at each, and the wall time; the
    rows are also added to ``fig`` (section ``scale``)."""
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    hidden = hidden_articles(questions_file)
    if not hidden:
        raise ValueError(f"{questions_file}: no answerable question on a validation article")
    filler, real = prepare(corpus, hidden, xs, work)
    for key, value in real.items():
        fig.add(
            "scale",
            f"real.{key}",
            value,
            "",
            "the corpus indexed with the real model; "
            f"embedding rate on {EMBED_SAMPLE} filler texts",
        )
    rows: list[dict[str, Any]] = []
    for kind in stores:
        with store_of(kind, xs, work) as (settings, folder, server_pid):
            filler_total = 0.0
            for size in sizes:
                common = {"index_settings": asdict(settings)}
                b = _step(
                    "build",
                    {**common, "corpus": str(corpus), "size": size, "filler": str(filler)},
                    work,
                )
                filler_total += b["filler_s"]
                server_build_kb = process_kb(server_pid, "VmHWM") if server_pid else 0
                s = _step(
                    "serve",
                    {
                        **common,
                        "questions": str(questions_file),
                        "hidden": hidden,
                        "ask": ask,
                        "compare_flat": kind == "directory",
                    },
                    work,
                )
                row = _row(
                    kind,
                    b,
                    s,
                    real,
                    filler_total,
                    folder_bytes(folder),
                    server_pid,
                    server_build_kb,
                )
                rows.append(row)
                _add_row(fig, row)
    base = {
        r["store"]: r
        for r in rows
        if r["chunks"] == min(x["chunks"] for x in rows if x["store"] == r["store"])
    }
    for r in rows:
        r["recall_at_5_vs_first"] = r["recall_at_5"] - base[r["store"]]["recall_at_5"]
    return {
        "real": real,
        "hidden_articles": len(hidden),
        "rows": rows,
        "load": os.getloadavg(),
        "seconds": time.perf_counter() - t0,
    }


def _row(kind, b, s, real, filler_total, disk, server_pid, server_build_kb) -> dict[str, Any]:
    chunks = b["chunks"]
    synthetic = chunks - real["corpus_chunks"]
    projected = filler_total + real["corpus_build_s"] + synthetic / real["embed_per_s"]
    row = {
        "store": kind,
        "chunks": chunks,
        "build_chunks_per_s": b["filler_chunks"] / b["filler_s"] if b["filler_s"] else None,
        "build_s": b["filler_s"] + b["real_s"],
        "projected_real_build_s": projected,
        "disk_bytes_per_chunk": disk / chunks,
        "build_peak_rss_mb": b["peak_rss_kb"] / 1024,
        **{k: v for k, v in s.items() if k not in ("peak_rss_kb", "size")},
        "serve_peak_rss_mb": s["peak_rss_kb"] / 1024,
        "load": os.getloadavg()[0],
    }
    if server_pid:  # ancre's Milvus schema: HNSW when asked, else FLAT (milvus/schema.py)
        row["vectors"] = {"kind": "HNSW" if s["vectors"].get("kind") == "hnsw" else "FLAT"}
        row["server_build_peak_rss_mb"] = server_build_kb / 1024
        row["server_rss_mb"] = process_kb(server_pid, "VmRSS") / 1024
    return row


FIGURES = (
    (
        "build_chunks_per_s",
        "chunks/s",
        "filler written by the store's writer at this step (no model)",
    ),
    (
        "projected_real_build_s",
        "s",
        "a build of all chunks with the real model: filler time + "
        "corpus build + synthetic chunks / the real embedding rate",
    ),
    ("disk_bytes_per_chunk", "B", "store folder / chunks"),
    ("build_peak_rss_mb", "MiB", "peak RSS (VmHWM) of the build process of this step"),
    ("server_build_peak_rss_mb", "MiB", "Milvus server's peak RSS so far"),
    ("index_open_s", "s", "opening the store (open_reader) in a fresh process"),
    ("ready_s", "s", "Retriever.open: the store again (the query model loads at first use)"),
    ("first_search_s", "s", "the first hybrid search of that process, loading the query model"),
    ("hybrid_p50_s", "s", "Retriever.search(k=10), rerank on, each hidden question once"),
    ("hybrid_p95_s", "s", "same, p95"),
    ("lexical_p50_s", "s", "the store's lexical_search, top 50, same questions"),
    ("dense_p50_s", "s", "the store's dense_search, top 50, query vectors embedded beforehand"),
    ("query_embed_s", "s", "query embedding, per question (batch)"),
    ("ask_p50_s", "s", "Answerer.ask with --llm none, warm, the first questions"),
    ("recall_at_5", "", "hidden questions whose answer is in a top-5 passage of their article"),
    ("flat_recall_at_5", "", "same with an exact (flat) index of the same vectors"),
    ("dense_recall_at_10_vs_flat", "", "share of the exact dense top 10 the index's own returns"),
    ("serve_peak_rss_mb", "MiB", "peak RSS (VmHWM) of the serving process"),
    ("server_rss_mb", "MiB", "Milvus server's RSS while serving"),
    ("vectors", "", "the vector index in use (manifest)"),
    ("load", "", "1-minute load average when the step ended"),
)


def _add_row(fig: Figures, row: dict[str, Any]) -> None:
    prefix = f"{row['store']}.{row['chunks']}"
    for key, unit, how in FIGURES:
        if key in row:
            fig.add("scale", f"{prefix}.{key}", row[key], unit, how)


COLUMNS = (
    ("store", "store", ""),
    ("chunks", "chunks", ""),
    ("vectors", "vector index", ""),
    ("build_chunks_per_s", "build chunks/s", "{:.0f}"),
    ("projected_real_build_s", "real build (proj.)", "{:.0f} s"),
    ("disk_bytes_per_chunk", "disk/chunk", "{:.0f} B"),
    ("build_peak_rss_mb", "build RSS", "{:.0f} MiB"),
    ("serve_peak_rss_mb", "serve RSS", "{:.0f} MiB"),
    ("server_rss_mb", "Milvus RSS", "{:.0f} MiB"),
    ("index_open_s", "open", "{:.2f} s"),
    ("first_search_s", "1st search", "{:.2f} s"),
    ("hybrid_p50_s", "hybrid p50", "ms"),
    ("hybrid_p95_s", "hybrid p95", "ms"),
    ("lexical_p50_s", "lexical p50", "ms"),
    ("dense_p50_s", "dense p50", "ms"),
    ("ask_p50_s", "ask p50", "ms"),
    ("recall_at_5", "recall@5", "{:.3f}"),
    ("recall_at_5_vs_first", "vs first", "{:+.3f}"),
    ("flat_recall_at_5", "flat recall@5", "{:.3f}"),
    ("load", "load", "{:.1f}"),
)


def _cell(value: Any, form: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" if k != "kind" else str(v) for k, v in value.items())
    if form == "ms":
        return f"{value * 1000:.1f} ms"
    return form.format(value) if form else str(value)


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table (the figures of docs/scale.md)."""
    cols = [c for c in COLUMNS if any(c[0] in r for r in rows)]
    lines = ["| " + " | ".join(c[1] for c in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r.get(k), f) for k, _, f in cols) + " |")
    return "\n".join(lines)
