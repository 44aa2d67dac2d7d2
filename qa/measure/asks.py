"""``ancre ask`` as a user meets it: wall time of a fresh process from spawn to exit, over the
same questions, (1) with nothing else running (cold: it loads the models), (2) the
LangChain tutorial's question side on the same articles with the same models
(``recipe.py``), the two in turn so that they share the machine's load, and (3) with an
``ancre serve`` of the same index running, whose process answers over its socket (warm).

Every process gets its own ``XDG_RUNTIME_DIR`` (a temporary folder), so that no server of
the user's own is asked, and the bench's server is found by its socket file there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ancre.index import IndexSettings

from ..settings import AnswerSettings
from . import recipe
from .ingest_vs import run_child
from .report import Figures, free_port, median, percentile

ASKS = 20
"""Questions asked each way (``--quick``: 5)."""
READY_S = 600.0
"""How long the server may take to start listening."""

Command = Callable[[str], list[str]]


def ask_command(index_settings: IndexSettings, settings: AnswerSettings, cold: bool) -> Command:
    """The command line of ``ancre ask QUESTION --json`` on this index and generator."""
    flags = ["--index-dir", index_settings.index_dir, "--llm", settings.llm, "--json"]
    flags += ["--cold"] if cold else []
    return lambda question: [sys.executable, "-m", "ancre.ui.cli", "ask", question, *flags]


def serve_command(index_settings: IndexSettings, settings: AnswerSettings) -> list[str]:
    """``ancre serve`` of this index and generator on a free loopback port."""
    port = free_port()
    return [
        sys.executable,
        "-m",
        "ancre.ui.cli",
        "serve",
        "--index-dir",
        index_settings.index_dir,
        "--llm",
        settings.llm,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-sample",
    ]


def recipe_commands(
    corpus: Path, work: Path, index_settings: IndexSettings, settings: AnswerSettings
) -> tuple[list[str], Command] | str:
    """The recipe's indexing command and its question command, or why it cannot run."""
    missing = recipe.missing_packages()
    if missing:
        return f"the LangChain recipe needs {', '.join(missing)} (pip install {' '.join(missing)})"
    if settings.llm == "none" or settings.llm.startswith("openai:"):
        return f"the recipe answers with a llama.cpp model, not --llm {settings.llm}"
    from ..generation.gguf import resolve_gguf

    llm = str(resolve_gguf(settings.llm, index_settings.cache_dir))
    folder = work / "recipe-ask"
    build = [sys.executable, "-m", recipe.__name__, str(corpus), str(folder)]
    tokens = str(settings.max_tokens)
    return build, lambda q: [
        sys.executable,
        "-m",
        recipe.__name__,
        "ask",
        str(folder),
        llm,
        tokens,
        q,
    ]


def bench_asks(
    corpus: str | Path,
    index_settings: IndexSettings,
    settings: AnswerSettings,
    questions: list[str],
    work: Path,
    fig: Figures,
    *,
    runs: int = ASKS,
    cold_cmd: Command | None = None,
    warm_cmd: Command | None = None,
    server_cmd: list[str] | None = None,
    recipe_cmds: tuple[list[str], Command] | str | None = None,
    ready_s: float = READY_S,
) -> None:
    """The three ways of asking ``runs`` of ``questions`` (cycled if fewer) on the index of
    ``index_settings`` (built from ``corpus``). The commands default to the real ones; tests
    pass fakes."""
    if not questions:
        raise ValueError("the ask bench needs questions")
    asked = [questions[i % len(questions)] for i in range(runs)]
    run_dir = work / "run"
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {
        **os.environ,
        "ANCRE_CACHE_DIR": index_settings.cache_dir,
        "XDG_RUNTIME_DIR": str(run_dir),
    }
    cold_cmd = cold_cmd or ask_command(index_settings, settings, cold=True)
    warm_cmd = warm_cmd or ask_command(index_settings, settings, cold=False)
    if recipe_cmds is None:
        recipe_cmds = recipe_commands(Path(corpus).resolve(), work, index_settings, settings)
    if isinstance(recipe_cmds, str):
        fig.note("ask", f"recipe skipped: {recipe_cmds}")
        recipe_ask = None
    else:
        run_child(recipe_cmds[0], env)
        recipe_ask = recipe_cmds[1]
    cold, cold_inside, cold_cpu, recipe_s, recipe_cpu, steps = [], [], [], [], [], []
    for question in asked:
        done = run_child(cold_cmd(question), env)
        cold.append(done.seconds)
        cold_cpu.append(done.cpu_seconds)
        cold_inside.append(_timings(done.stdout, "cold", question)["cold"])
        if recipe_ask is not None:
            done = run_child(recipe_ask(question), env)
            recipe_s.append(done.seconds)
            recipe_cpu.append(done.cpu_seconds)
            steps.append(json.loads(done.stdout.strip().splitlines()[-1]))
    warm, warm_inside = _warm_asks(
        asked,
        warm_cmd,
        server_cmd or serve_command(index_settings, settings),
        env,
        run_dir,
        ready_s,
    )
    how = (
        f"`ancre ask QUESTION --index-dir DIR --llm {settings.llm} --json`, a fresh process from "
        f"spawn to exit, over {runs} questions"
    )
    _add_spread(fig, "cold", cold, f"{how}, nothing else running (--cold): models loaded")
    fig.add(
        "ask",
        "cold_inside_p50_s",
        median(cold_inside),
        "s",
        "same, from the question to the answer inside the process (timings.cold), p50",
    )
    _add_spread(
        fig,
        "warm",
        warm,
        f"{how}, an `ancre serve` of the same index running: answered by its process over "
        "its Unix socket",
    )
    fig.add(
        "ask",
        "warm_inside_p50_s",
        median(warm_inside),
        "s",
        "same, from sending the question to the answer back (timings.warm), p50",
    )
    if recipe_s:
        _add_spread(
            fig,
            "recipe",
            recipe_s,
            f"the LangChain tutorial's question side (recipe.py: sentence-transformers on torch, "
            f"FAISS, 4 chunks of 1000 characters, rlm/rag-prompt, the same GGUF model, "
            f"max_tokens={settings.max_tokens}), a fresh process per question, in turn with the "
            "cold asks",
        )
        for side, times in (("cold", cold), ("warm", warm)):
            fig.add(
                "ask",
                f"{side}_vs_recipe",
                median(times) / median(recipe_s),
                "x",
                f"`ancre ask` {side} p50 / the recipe's p50, same run (goal <= 0.10)",
            )
        fig.add(
            "ask",
            "cold_vs_recipe_cpu",
            median(cold_cpu) / median(recipe_cpu),
            "x",
            f"user + system CPU time of a cold `ancre ask` (p50 {median(cold_cpu):.2f} s) / the "
            f"recipe's (p50 {median(recipe_cpu):.2f} s): less sensitive than wall time to other "
            "jobs on the machine",
        )
        keys = ("import_s", "load_s", "search_s", "llm_load_s", "generate_s")
        parts = ", ".join(f"{k[:-2]} {median([s[k] for s in steps]):.2f} s" for k in keys)
        fig.note("ask", f"recipe steps (median): {parts}")


def _add_spread(fig: Figures, side: str, times: list[float], how: str) -> None:
    fig.add("ask", f"{side}_p50_s", median(times), "s", f"{how}, p50")
    fig.add("ask", f"{side}_p95_s", percentile(times, 95), "s", "same, p95")


def _timings(stdout: str, way: str, question: str) -> dict[str, float]:
    """The timings of the answer a child printed, which must have come ``way``."""
    timings = json.loads(stdout)["timings"]
    if way not in timings:
        raise RuntimeError(f"`ancre ask {question!r}` was not answered {way}: {timings}")
    return timings


def _warm_asks(
    asked: list[str],
    warm_cmd: Command,
    server_cmd: list[str],
    env: dict[str, str],
    run_dir: Path,
    ready_s: float,
) -> tuple[list[float], list[float]]:
    """Start the server, wait for its socket, ask once untimed (its first answer may wait
    for its warm-up), then time the asks; the server is stopped in any case."""
    with open(run_dir.parent / "server.log", "wb") as log:
        server = subprocess.Popen(server_cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + ready_s
        while not list((run_dir / "ancre").glob("*.sock")):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = (run_dir.parent / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the warm server did not start listening: {tail}")
            time.sleep(0.2)
        _timings(run_child(warm_cmd(asked[0]), env).stdout, "warm", asked[0])
        warm, inside = [], []
        for question in asked:
            done = run_child(warm_cmd(question), env)
            warm.append(done.seconds)
            inside.append(_timings(done.stdout, "warm", question)["warm"])
        return warm, inside
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
