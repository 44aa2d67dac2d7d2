"""Side-by-side ingestion: ``ancre index build`` against the LangChain tutorial's recipe
(``recipe.py``) on the same articles, in turn, in the same run.

Each build runs in a fresh child process into a fresh folder and is timed from spawn to
exit, so that both sides pay their imports and model loading as a user does; the two sides
alternate (recipe, ancre, recipe, ancre...) so that they share the machine's load. The
figure is articles per second for each side (median of the repeats) and their ratio.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ancre.index import IndexSettings

from . import recipe
from .report import Figures, median

log = logging.getLogger(__name__)


@dataclass
class ChildRun:
    """One child process: its wall time, its CPU time and what it printed."""

    seconds: float
    stdout: str
    cpu_seconds: float = 0.0
    """User + system time of the child (and its own children): less sensitive than the
    wall time to other jobs on the machine, though threads that spin while they wait for a
    core count in it."""


def run_child(command: list[str], env: dict[str, str] | None = None) -> ChildRun:
    """Run ``command`` to its end: wall seconds from spawn to exit, and its output. Raises
    with the end of its stderr if it fails. (Its peak memory is not reported: a child's
    ru_maxrss on Linux starts from its parent's, which it shared until exec.)"""
    with tempfile.TemporaryFile() as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=err, env=env)
        seconds = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip()[-2000:]
            raise RuntimeError(f"{' '.join(command[:4])}... failed ({proc.returncode}): {tail}")
        return ChildRun(seconds, proc.stdout.decode(errors="replace"), cpu)


def recipe_command(corpus: Path, out_dir: Path) -> list[str]:
    return [sys.executable, "-m", recipe.__name__, str(corpus), str(out_dir)]


def ancre_command(corpus: Path, index_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ancre.ui.cli",
        "index",
        "build",
        str(corpus),
        "--index-dir",
        str(index_dir),
    ]


def bench_vs_recipe(
    corpus: str | Path,
    settings: IndexSettings,
    work: Path,
    repeats: int,
    fig: Figures,
    documents: int,
    *,
    recipe_cmd: Callable[[Path, Path], list[str]] = recipe_command,
    ancre_cmd: Callable[[Path, Path], list[str]] = ancre_command,
) -> None:
    """Articles/s of the recipe and of ``ancre index build`` on ``corpus`` (``documents``
    articles, as ancre counted them), in turn; skipped with a note when the recipe's
    packages are missing. ``recipe_cmd`` / ``ancre_cmd`` make each side's command line from
    (corpus, output folder); tests pass fakes."""
    missing = recipe.missing_packages()
    if missing:
        fig.note(
            "ingestion_vs_recipe",
            f"skipped: the LangChain recipe needs {', '.join(missing)} "
            f"(pip install {' '.join(missing)})",
        )
        return
    corpus = Path(corpus).resolve()
    env = {**os.environ, "ANCRE_CACHE_DIR": settings.cache_dir}
    runs: dict[str, list[ChildRun]] = {"recipe": [], "ancre": []}
    steps: list[dict] = []
    for i in range(max(1, repeats)):
        done = run_child(recipe_cmd(corpus, work / f"recipe-{i}"), env)
        steps.append(json.loads(done.stdout.strip().splitlines()[-1]))
        runs["recipe"].append(done)
        runs["ancre"].append(run_child(ancre_cmd(corpus, work / f"vs-ancre-{i}"), env))
    times = {side: [r.seconds for r in done] for side, done in runs.items()}
    last = steps[-1]
    if last["documents"] != documents:
        fig.note(
            "ingestion_vs_recipe",
            f"the recipe read {last['documents']} documents, ancre indexed {documents}",
        )
    how = (
        f"{documents} articles of {corpus.name}, each build a fresh process into a fresh "
        f"folder, spawn to exit (imports and model loading included), median of {repeats}, "
        "the two sides in turn"
    )
    speeds = {side: documents / median(t) for side, t in times.items()}
    fig.add(
        "ingestion_vs_recipe",
        "recipe_articles_per_s",
        speeds["recipe"],
        "articles/s",
        f"LangChain tutorial recipe: RecursiveCharacterTextSplitter 1000/200 "
        f"({last['chunks']} chunks), sentence-transformers all-MiniLM-L6-v2 on torch (cpu, "
        "batch 32), FAISS IndexFlatL2, saved to disk; done with the libraries "
        "HuggingFaceEmbeddings and langchain's FAISS wrap (not installed). " + how,
    )
    fig.add(
        "ingestion_vs_recipe",
        "ancre_articles_per_s",
        speeds["ancre"],
        "articles/s",
        f"`ancre index build CORPUS --index-dir DIR` (chunk_tokens={settings.chunk_tokens}, "
        f"embed_backend={settings.embed_backend}, precision "
        f"{settings.embed_precision or 'default'}, FAISS + SQLite FTS5). " + how,
    )
    fig.add(
        "ingestion_vs_recipe",
        "speedup",
        speeds["ancre"] / speeds["recipe"],
        "x",
        "ancre's articles/s / the recipe's (goal >= 2.5)",
    )
    for side in ("recipe", "ancre"):
        fig.add(
            "ingestion_vs_recipe",
            f"{side}_seconds",
            [round(s, 2) for s in times[side]],
            "",
            f"{side}: wall seconds of each build, in order",
        )
        fig.add(
            "ingestion_vs_recipe",
            f"{side}_cpu_s",
            median([r.cpu_seconds for r in runs[side]]),
            "s",
            f"{side}: user + system CPU time of a build, median (all threads)",
        )
    keys = ("import_s", "read_s", "split_s", "model_s", "embed_s", "store_s")
    parts = ", ".join(f"{k[:-2]} {median([s[k] for s in steps]):.2f} s" for k in keys)
    fig.note("ingestion_vs_recipe", f"recipe steps (median): {parts}")
