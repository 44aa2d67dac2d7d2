"""``ancre bench``: speed, memory and scale. Every figure says how it was measured; timings
are medians over repeated runs (``--quick``: fewer repetitions).

- ingestion: full builds of the corpus into fresh temporary indexes, embedding throughput by
  backend on the same chunk texts, index size on disk, unchanged rebuild, index load;
- retrieval at several index sizes: a synthetic index grown to each size (the corpus' chunk
  texts with words swapped, and their real vectors plus Gaussian noise: nothing is embedded
  by the model), exact (flat) against approximate (HNSW) FAISS search and the recall@10 the
  approximate one loses, and the hybrid ``Retriever.search`` latency;
- generation with the configured LLM: prompt and generated tokens/s, time to first token,
  end-to-end ``ask()`` on the sample questions;
- cold start of a fresh process up to its first answer, and peak memory (RSS).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ancre.index.config import Settings

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
EMBED_TEXTS = 200
"""Chunk texts embedded by each backend."""
NOISE = 0.04
"""Per-dimension standard deviation of the noise added to real vectors (cosine ~0.8)."""
SWAP = 0.15
"""Share of the words of a synthetic chunk replaced by other words of the corpus."""
FAISS_QUERIES = 100
GEN_TOKENS = 64

CHILD = """
import json, sys, time
from ancre.index.config import Settings
from ancre.qa import ask
from ancre.qa.bench import peak_rss_kb
answer = ask(sys.argv[1], settings=Settings.from_env())
print(json.dumps({"t_answer": time.time(), "peak_kb": peak_rss_kb(), "mode": answer.mode}))
"""


class Figures:
    """Collects figures by section (for --json) and prints each with how it was measured."""

    def __init__(self, echo: Callable[[str], None] = print):
        self.data: dict[str, Any] = {}
        self.echo = echo
        self._section = ""

    def add(self, section: str, key: str, value: Any, unit: str, how: str) -> None:
        self.data.setdefault(section, {})[key] = value
        self.data.setdefault("how", {})[f"{section}.{key}"] = f"{unit}: {how}" if unit else how
        if section != self._section:
            self.echo(f"[{section}]")
            self._section = section
        self.echo(f"  {key:<34} {_fmt(value, unit):>16}  {how}")

    def note(self, section: str, text: str) -> None:
        self.data.setdefault(section, {}).setdefault("notes", []).append(text)
        if section != self._section:
            self.echo(f"[{section}]")
            self._section = section
        self.echo(f"  ({text})")


def _fmt(value: Any, unit: str) -> str:
    if isinstance(value, float):
        if unit == "s" and value < 1:
            return f"{value * 1000:.1f} ms"
        text = f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
        return f"{text} {unit}".strip()
    return f"{value} {unit}".strip()


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def pct(values: Sequence[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(s.replace("_", "")) for s in text.split(",") if s.strip()})
    except ValueError:
        raise ValueError(
            f"--sizes {text!r}: expected numbers separated by commas, such as 1000,10000,100000"
        ) from None
    if not sizes or sizes[0] <= 0:
        raise ValueError(f"--sizes {text!r}: sizes must be positive")
    return sizes


def sample_questions() -> list[str]:
    """The numbered questions of samples/QUESTIONS.md (answerable ones)."""
    from ancre.samples import ARTICLES

    text = (Path(ARTICLES).parent / "QUESTIONS.md").read_text(encoding="utf-8")
    return [
        m.group(2).strip()
        for m in re.finditer(r"^\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|", text, re.MULTILINE)
    ]


def disk_bytes(folder: Path) -> dict[str, int]:
    sizes = {"vectors": 0, "store": 0, "other": 0}
    for p in folder.iterdir():
        if not p.is_file():
            continue
        kind = (
            "vectors"
            if p.suffix == ".faiss"
            else "store"
            if p.name.startswith("store.sqlite")
            else "other"
        )
        sizes[kind] += p.stat().st_size
    return sizes


# ---- ingestion


def bench_ingestion(corpus: str, base: Settings, work: Path, repeats: int, fig: Figures) -> Path:
    """Full builds into fresh indexes; returns the folder of the last one (kept)."""
    import shutil

    from ancre import index

    times, report = [], None
    for i in range(repeats + 1):
        folder = work / f"build-{i}"
        seconds, report = timed(
            lambda f=folder: index.build([corpus], settings=replace(base, index_dir=str(f)))
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
        f"chunk_tokens={base.chunk_tokens}, "
        f"overlap={base.chunk_overlap}, embed_backend={base.embed_backend}",
    )
    folder = work / f"build-{repeats}"
    sizes = disk_bytes(folder)
    total = sum(sizes.values())
    fig.add(
        "index",
        "disk_kb_per_1000_chunks",
        total / chunks * 1000 / 1024,
        "KiB",
        f"all files of the index folder / {chunks} chunks x 1000 "
        f"(vectors {sizes['vectors'] / 1024:.0f} KiB, SQLite {sizes['store'] / 1024:.0f} "
        f"KiB, vector_index={base.vector_index}); on a small corpus SQLite's fixed pages "
        "dominate: see retrieval.N.disk_kb_per_1000_chunks for large indexes",
    )
    settings = replace(base, index_dir=str(folder))
    runs = max(3, repeats)
    rebuild = [timed(lambda: index.build([corpus], settings=settings))[0] for _ in range(runs)]
    fig.add(
        "index",
        "unchanged_rebuild_s",
        median(rebuild),
        "s",
        f"index.build of the same corpus again, nothing to do, median of {runs}",
    )
    from ancre.index.store import IndexReader

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
    """``n`` chunk texts as the build embeds them (title line + chunk), cycled if needed."""
    from ancre.index.store import IndexReader

    reader = IndexReader(folder)
    try:
        rows = reader.chunks([int(i) for i in _ids_of(reader.vectors)])
    finally:
        reader.close()
    texts = [f"{r.title}\n{r.text}" if r.title else r.text for _, r in sorted(rows.items())]
    return [texts[i % len(texts)] for i in range(n)]


def bench_embedding(texts: list[str], base: Settings, repeats: int, fig: Figures) -> None:
    from ancre.index.embed import Embedder

    for backend in ("torch", "openvino"):
        try:
            embedder = Embedder(base.embed_model, backend, base.cache_dir, base.embed_batch_size)
            load_s, _ = timed(lambda e=embedder: e.model)
            embedder.embed(texts[:8])
        except Exception as err:
            log.warning("%s backend unavailable: %s", backend, err)
            fig.note("embedding", f"{backend}: unavailable ({str(err)[:200]})")
            continue
        runs = [timed(lambda e=embedder: e.embed(texts))[0] for _ in range(repeats)]
        fig.add(
            "embedding",
            f"{backend}_passages_per_s",
            len(texts) / median(runs),
            "passages/s",
            f"Embedder(backend={backend!r}).embed of the same {len(texts)} "
            f"chunk texts, batch {base.embed_batch_size}, median of {repeats}",
        )
        fig.add(
            "embedding",
            f"{backend}_load_s",
            load_s,
            "s",
            "loading the model (OpenVINO: from the cached export, or exporting it once)",
        )


# ---- retrieval at scale


class Synthetic:
    """Chunks derived from real ones: words swapped in the text, noise on the vector."""

    def __init__(self, texts: list[str], titles: list[str], vectors: Any, seed: int = 0):
        import numpy as np

        self.texts, self.titles, self.vectors = texts, titles, vectors
        self.rng = np.random.default_rng(seed)
        self.vocab = sorted({w for t in texts for w in t.split()})
        self.base_of: dict[str, int] = {}

    def document(self, i: int):
        from ancre.index.loaders import Document

        j = int(self.rng.integers(len(self.texts)))
        words = self.texts[j].split()
        swap = self.rng.random(len(words)) < SWAP
        picks = self.rng.integers(len(self.vocab), size=int(swap.sum()))
        for pos, pick in zip(swap.nonzero()[0], picks, strict=True):
            words[pos] = self.vocab[pick]
        text = " ".join(words)
        title = self.titles[j]
        self.base_of[f"{title}\n{text}" if title else text] = j
        return Document(doc_id=f"syn-{i:07d}", text=text, title=title, source="synthetic")

    def noisy(self, base: Any) -> Any:
        import numpy as np

        shape = (len(base), self.vectors.shape[1])
        v = self.vectors[base] + NOISE * self.rng.standard_normal(shape, dtype="float32")
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype("float32")

    def embed(self, texts: list[str], progress: bool = False) -> Any:
        import numpy as np

        base = np.array([self.base_of.pop(t, 0) for t in texts], dtype="int64")
        return self.noisy(base)


def bench_scale(
    sample_dir: Path,
    base: Settings,
    work: Path,
    sizes: list[int],
    questions: list[str],
    repeats: int,
    fig: Figures,
) -> None:

    from ancre.index import Writer
    from ancre.index.store import IndexReader, new_vector_index

    from .retrieve import Retriever

    reader = IndexReader(sample_dir)
    try:
        ids = [int(i) for i in _ids_of(reader.vectors)]
        rows = reader.chunks(ids)
        vectors = reader.chunk_vectors(ids)
    finally:
        reader.close()
    keep = [n for n, i in enumerate(ids) if i in rows]
    syn = Synthetic(
        [rows[ids[n]].text for n in keep], [rows[ids[n]].title for n in keep], vectors[keep]
    )
    settings = replace(base, index_dir=str(work / "synthetic"), vector_index="flat")
    writer = Writer(settings)
    # the write path as is, with a stand-in embedder: no model runs over synthetic text
    writer.embedder.embed = syn.embed
    writer.embedder.count_tokens = lambda text: len(text.split())
    hnsw, hnsw_build_s, retriever, current = None, 0.0, None, 0
    results = []
    try:
        for size in sizes:
            t0 = time.perf_counter()
            for i in range(current, size):
                writer.put(syn.document(i))
            writer.commit()
            write_s = time.perf_counter() - t0
            current = writer.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
            writer.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            disk = sum(disk_bytes(Path(settings.index_dir)).values())
            if retriever is None:
                retriever = Retriever(settings)
            else:
                retriever.refresh()
            flat = retriever.reader.vectors
            if hnsw is None:
                hnsw = new_vector_index(flat.d, "hnsw")
            n0 = hnsw.ntotal
            new = flat.index.reconstruct_n(n0, flat.ntotal - n0)
            seconds, _ = timed(
                lambda h=hnsw, v=new, f=flat, s=n0: h.add_with_ids(v, _ids_of(f)[s:])
            )
            hnsw_build_s += seconds
            res = measure_size(retriever, flat, hnsw, syn, questions, repeats)
            res.update(size=current, synthetic_write_s=write_s, hnsw_build_s=hnsw_build_s)
            load_s, r = timed(lambda: IndexReader(settings.index_dir))
            r.close()
            res["load_s"] = load_s
            res["disk_kb_per_1000"] = disk / current * 1000 / 1024
            results.append(res)
            log.info("size %d: %s", current, res)
    finally:
        writer.close()
    for res in results:
        n = res["size"]
        fig.add(
            "retrieval",
            f"{n}.flat_p50_s",
            res["flat_p50_s"],
            "s",
            f"{n} chunks: exact FAISS search (IndexFlatIP), one query, k=10, p50 of "
            f"{res['queries']} queries x {res['passes']}",
        )
        fig.add("retrieval", f"{n}.flat_p95_s", res["flat_p95_s"], "s", "same, p95")
        fig.add(
            "retrieval",
            f"{n}.hnsw_p50_s",
            res["hnsw_p50_s"],
            "s",
            "approximate search, HNSW M=32 efConstruction=80 efSearch=64, same queries",
        )
        fig.add("retrieval", f"{n}.hnsw_p95_s", res["hnsw_p95_s"], "s", "same, p95")
        fig.add(
            "retrieval",
            f"{n}.hnsw_recall_at_10",
            res["hnsw_recall"],
            "",
            "share of the exact top 10 that HNSW also returns",
        )
        fig.add(
            "retrieval",
            f"{n}.hnsw_build_s",
            res["hnsw_build_s"],
            "s",
            f"adding all {n} vectors to the HNSW graph (grown size by size)",
        )
        fig.add(
            "retrieval",
            f"{n}.lexical_p50_s",
            res["lexical_p50_s"],
            "s",
            f"FTS5 BM25 top {50} (IndexReader.lexical_search), the sample questions",
        )
        fig.add(
            "retrieval",
            f"{n}.hybrid_p50_s",
            res["hybrid_p50_s"],
            "s",
            f"Retriever.search(question, top_k={base.top_k}) over the flat index: query "
            f"embedding + BM25 + FAISS + fusion; {len(questions)} questions x "
            f"{res['hybrid_passes']}",
        )
        fig.add("retrieval", f"{n}.hybrid_p95_s", res["hybrid_p95_s"], "s", "same, p95")
        fig.add("retrieval", f"{n}.load_s", res["load_s"], "s", "IndexReader open at this size")
        fig.add(
            "retrieval",
            f"{n}.disk_kb_per_1000_chunks",
            res["disk_kb_per_1000"],
            "KiB",
            "index folder size / chunks x 1000 (one synthetic document per chunk, flat vectors)",
        )
    fig.note(
        "retrieval",
        "synthetic index: chunks of the corpus with "
        f"{SWAP:.0%} of their words swapped, vectors = real chunk vectors + N(0, {NOISE})"
        " noise, renormalised; written with index.build.Writer and a stand-in embedder",
    )


def _ids_of(index: Any) -> Any:
    import faiss

    return faiss.vector_to_array(index.id_map).astype("int64")


def measure_size(
    retriever: Any, flat: Any, hnsw: Any, syn: Synthetic, questions: list[str], repeats: int
) -> dict[str, Any]:
    import numpy as np

    qvecs = retriever.embedder.embed(questions)
    extra = max(FAISS_QUERIES - len(qvecs), 0)
    noisy = syn.noisy(syn.rng.integers(len(syn.texts), size=extra))
    queries = np.vstack([qvecs, noisy]).astype("float32")
    passes = max(1, repeats)
    flat_t, hnsw_t, overlap = [], [], []
    for _ in range(passes):
        for q in queries:
            t, (_, exact) = timed(lambda q=q: flat.search(q[None, :], 10))
            flat_t.append(t)
            t, (_, approx) = timed(lambda q=q: hnsw.search(q[None, :], 10))
            hnsw_t.append(t)
            truth = {int(i) for i in exact[0] if i >= 0}
            if truth:
                overlap.append(len(truth & {int(i) for i in approx[0]}) / len(truth))
    lexical = [timed(lambda q=q: retriever.reader.lexical_search(q, 50))[0] for q in questions]
    retriever.search(questions[0], retriever.settings.top_k)  # warm-up
    hybrid_passes = max(2, repeats)
    hybrid = [
        timed(lambda q=q: retriever.search(q, retriever.settings.top_k))[0]
        for _ in range(hybrid_passes)
        for q in questions
    ]
    return {
        "queries": len(queries),
        "passes": passes,
        "hybrid_passes": hybrid_passes,
        "flat_p50_s": pct(flat_t, 50),
        "flat_p95_s": pct(flat_t, 95),
        "hnsw_p50_s": pct(hnsw_t, 50),
        "hnsw_p95_s": pct(hnsw_t, 95),
        "hnsw_recall": sum(overlap) / len(overlap) if overlap else 0.0,
        "lexical_p50_s": pct(lexical, 50),
        "hybrid_p50_s": pct(hybrid, 50),
        "hybrid_p95_s": pct(hybrid, 95),
    }


# ---- generation and cold start


def bench_generation(settings: Settings, questions: list[str], repeats: int, fig: Figures) -> None:
    from .answer import ask, build_prompt, choose_context, get_qa, weigh_evidence
    from .llm import load_llm
    from .prompting import detect_language

    if settings.llm.strip() in ("", "none"):
        fig.note("generation", "skipped: llm = none (use --llm gemma, smollm2, a .gguf...)")
        return
    load_s, llm = timed(lambda: load_llm(settings))
    fig.add(
        "generation",
        "llm_load_s",
        load_s,
        "s",
        f"load_llm({settings.llm!r}) -> {getattr(llm, 'model_id', '?')}",
    )
    qa = get_qa(settings)
    prompts = []
    for q in questions:
        passages = qa.retriever.search(q, settings.top_k)
        candidates = weigh_evidence(q, passages, qa.retriever).candidates
        if candidates:
            prompts.append(build_prompt(q, choose_context(q, candidates), detect_language(q)))
    prompt_tps, gen_tps, ttft = [], [], []
    for prompt in prompts * max(1, repeats):
        inner = getattr(llm, "_llm", None)
        if inner is not None and hasattr(inner, "reset"):
            inner.reset()  # no KV-cache reuse between prompts: time the whole prompt
        n_prompt = llm.count_tokens(prompt)
        t0 = time.perf_counter()
        first, pieces = None, 0
        for _ in llm.generate(prompt, GEN_TOKENS, 0.0, stop=None):
            if first is None:
                first = time.perf_counter() - t0
            pieces += 1
        total = time.perf_counter() - t0
        if first is None:
            continue
        ttft.append(first)
        prompt_tps.append(n_prompt / first)
        if pieces > 1 and total > first:
            gen_tps.append((pieces - 1) / (total - first))
    how = (
        f"{len(prompts)} answer prompts built as ask() does (sample questions, "
        f"choose_context sentences), temperature 0, up to {GEN_TOKENS} tokens, no stop, KV "
        f"cache reset; median over {len(ttft)} generations"
    )
    if ttft:
        fig.add(
            "generation",
            "prompt_tokens_per_s",
            median(prompt_tps),
            "tokens/s",
            f"prompt tokens / time to first token; {how}",
        )
        fig.add("generation", "time_to_first_token_s", median(ttft), "s", "same generations")
    if gen_tps:
        fig.add(
            "generation",
            "generated_tokens_per_s",
            median(gen_tps),
            "tokens/s",
            "streamed pieces (one per token) after the first / their time",
        )
    history: list = []
    ask(questions[0], settings=settings)  # warm-up
    totals, firsts, modes = [], [], Counter()
    passes = max(1, repeats)
    for _ in range(passes):
        history = []
        for q in questions:
            follow_up = q.lower().startswith("et ")
            answer = ask(q, settings=settings, history=history if follow_up else None)
            history = [{"role": "user", "content": q}]
            totals.append(answer.timings["total"])
            firsts.append(answer.timings["first_token"])
            modes[answer.mode] += 1
    what = f"ask() on the {len(questions)} sample questions x {passes}, llm={settings.llm}"
    fig.add("generation", "ask_p50_s", pct(totals, 50), "s", f"{what}, Answer.timings total")
    fig.add("generation", "ask_p95_s", pct(totals, 95), "s", "same, p95")
    fig.add(
        "generation",
        "ask_first_token_p50_s",
        pct(firsts, 50),
        "s",
        "same, Answer.timings first_token (retrieval included; unlike the figures "
        "above, ask() reuses the KV cache of the prompt prefix its prompts share)",
    )
    fig.add("generation", "ask_modes", dict(modes), "", "how those answers were made")


def bench_cold_start(settings: Settings, question: str, repeats: int, fig: Figures) -> None:
    env = dict(os.environ)
    env.update({f"ANCRE_{k.upper()}": str(v) for k, v in settings.describe()})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    times, rss, mode = [], [], ""
    for _ in range(max(1, repeats)):
        t0 = time.time()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, question],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"cold-start process failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
            )
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        times.append(data["t_answer"] - t0)
        rss.append(data["peak_kb"] / 1024)
        mode = data["mode"]
    fig.add(
        "cold_start",
        "first_answer_s",
        median(times),
        "s",
        f"fresh `python -c` process calling qa.ask, from spawn to the answer "
        f"({mode}, llm={settings.llm}), median of {len(times)}",
    )
    fig.add(
        "cold_start",
        "peak_rss_mb",
        max(rss),
        "MiB",
        "peak RSS of that process after its answer (VmHWM)",
    )


def peak_rss_kb() -> int:
    """Peak resident memory of this process in KiB: VmHWM (Linux, reset by exec), else
    ru_maxrss (which a child started by fork + exec may inherit from its parent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def bench_memory(fig: Figures) -> None:
    fig.add(
        "memory",
        "bench_peak_rss_mb",
        peak_rss_kb() / 1024,
        "MiB",
        "peak RSS of this bench process (VmHWM; includes the largest synthetic index)",
    )


# ---- entry point


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ancre.samples import ARTICLES

    sizes = parse_sizes(args.sizes)
    corpus = str(Path(args.corpus).expanduser()) if args.corpus else str(ARTICLES)
    if not Path(corpus).exists():
        raise ValueError(f"no such corpus: {corpus}")
    quick = bool(args.quick)
    repeats = 1 if quick else 3
    questions = sample_questions()
    fig = Figures(print)
    cores = os.cpu_count() or 1
    machine = {
        "cores": cores,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": _cpu_name(),
    }
    print(
        f"ancre bench: {cores} cores, {machine['processor'] or platform.machine()}, "
        f"Python {machine['python']}; corpus {corpus}; sizes {sizes}"
        f"{'; quick' if quick else ''}"
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ancre-bench-") as tmp:
        work = Path(tmp)
        sample_dir = bench_ingestion(corpus, settings, work, repeats, fig)
        bench_embedding(chunk_texts(sample_dir), settings, repeats, fig)
        bench_scale(sample_dir, settings, work, sizes, questions, repeats, fig)
        indexed = replace(settings, index_dir=str(sample_dir))
        bench_generation(indexed, questions, repeats, fig)
        bench_cold_start(indexed, questions[0], repeats, fig)
    bench_memory(fig)
    elapsed = time.perf_counter() - t0
    print(f"(bench took {elapsed:.0f} s)")
    if args.json_out:
        out = Path(args.json_out).expanduser()
        out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "machine": machine,
            "corpus": corpus,
            "sizes": sizes,
            "quick": quick,
            "seconds": elapsed,
            "settings": dict(settings.describe()),
            **fig.data,
        }
        out.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"wrote {out}")
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
