"""``ancre bench``'s generation figures: the generator alone on the prompts the answerer
builds (prompt and generated tokens/s, time to first token), then whole answers to the sample
questions asked as one conversation."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from ancre.index import Embedder, IndexSettings, detect_language
from ancre.qa.answer import Answerer
from ancre.qa.api import open_answerer
from ancre.qa.generation.llm import Generator, load_generator
from ancre.qa.generation.prompting import build_prompt
from ancre.qa.reading.evidence import weigh_evidence
from ancre.qa.reading.sentences import choose_context
from ancre.qa.settings import AnswerSettings

from .report import Figures, median, percentile, timed

GEN_TOKENS = 64
"""Tokens generated per prompt (no stop sequence)."""


def bench_generation(
    index_settings: IndexSettings,
    settings: AnswerSettings,
    questions: list[str],
    repeats: int,
    fig: Figures,
    *,
    embedder: Embedder | None = None,
    generator: Generator | None = None,
) -> None:
    """The generator alone on the answerer's prompts, then whole answers (skipped with
    llm = none). ``embedder`` / ``generator`` replace the models the settings name."""
    s, cache_dir = settings, index_settings.cache_dir
    if generator is None:
        if s.llm.strip() in ("", "none"):
            fig.note("generation", "skipped: llm = none (use --llm gemma, smollm2, a .gguf...)")
            return
        load_s, generator = timed(lambda: _loaded(load_generator(s.llm, s, cache_dir)))
        fig.add(
            "generation",
            "llm_load_s",
            load_s,
            "s",
            f"load_generator({s.llm!r}) -> {generator.model_id if generator else '?'}",
        )
    qa = open_answerer(s, index_settings, embedder=embedder, generator=generator)
    retriever = qa.retriever
    prompts = []
    for q in questions:
        passages = retriever.search(
            q, s.top_k, lexical_weight=s.lexical_weight, dense_weight=s.dense_weight
        )
        candidates = weigh_evidence(q, passages, retriever).candidates
        if candidates:
            prompts.append(build_prompt(q, choose_context(q, candidates), detect_language(q)))
    _time_prompts(generator, prompts, repeats, fig)
    _bandwidth_bound(generator, fig)
    _time_answers(qa, questions, repeats, fig)


def _loaded(generator: Generator | None) -> Generator | None:
    """``generator`` once ready: llama.cpp models load in the background (count_tokens
    waits for them)."""
    count_tokens = getattr(generator, "count_tokens", None)
    if count_tokens is not None:
        count_tokens("")
    return generator


def _time_prompts(generator: Generator, prompts: list[str], repeats: int, fig: Figures) -> None:
    # optional methods of the real backends: the Generator protocol needs neither
    count_tokens = getattr(generator, "count_tokens", None)
    reset = getattr(generator, "reset", None)
    decode_time = getattr(generator, "decode_time", None)  # llama.cpp's own timer
    prompt_tps, gen_tps, ttft, decode_ms, overhead_ms = [], [], [], [], []
    for prompt in prompts * max(1, repeats):
        if reset is not None:
            reset()  # no reuse of the previous prompt's prefix: time the whole prompt
        before = decode_time() if decode_time is not None else None
        t0 = time.perf_counter()
        first, pieces = None, 0
        for _ in generator.generate(prompt, GEN_TOKENS, 0.0, stop=None):
            if first is None:
                first = time.perf_counter() - t0
            pieces += 1
        total = time.perf_counter() - t0
        if first is None:
            continue
        ttft.append(first)
        if count_tokens is not None:
            prompt_tps.append(count_tokens(prompt) / first)
        if pieces > 1 and total > first:
            gen_tps.append((pieces - 1) / (total - first))
            if before is not None:
                ms, n = (a - b for a, b in zip(decode_time(), before, strict=True))
                if n > 0:
                    decode_ms.append(ms / n)
                    overhead_ms.append(1000 * (total - first) / (pieces - 1) - ms / n)
    how = (
        f"{setup(generator)}; {len(prompts)} answer prompts built as the answerer does "
        f"(sample questions, choose_context sentences), temperature 0, "
        f"up to {GEN_TOKENS} tokens, no stop, "
        f"{'prefix cache reset, ' if reset else ''}median over {len(ttft)} generations"
    )
    if prompt_tps:
        fig.add(
            "generation",
            "prompt_tokens_per_s",
            median(prompt_tps),
            "tokens/s",
            f"prompt tokens / time to first token; {how}",
        )
    if ttft:
        fig.add("generation", "time_to_first_token_s", median(ttft), "s", how)
    if gen_tps:
        fig.add(
            "generation",
            "generated_tokens_per_s",
            median(gen_tps),
            "tokens/s",
            "streamed pieces (one per token) after the first / their time",
        )
    if decode_ms:
        fig.add(
            "generation",
            "decode_ms_per_token",
            median(decode_ms),
            "ms",
            "llama.cpp's own time per one-token decode (llama_perf_context t_eval_ms / n_eval)",
        )
        fig.add(
            "generation",
            "python_ms_per_token",
            median(overhead_ms),
            "ms",
            "time per streamed token minus decode_ms_per_token: llama-cpp-python's loop, "
            "sampling, detokenisation and the caller",
        )


def setup(generator: Generator) -> str:
    """How the generator runs, for the figures' method: its model file, llama.cpp's threads
    and how OpenMP threads wait (what moves tokens/s most on a shared machine)."""
    import os

    threads = getattr(generator, "n_threads", None)
    parts = [f"model {generator.model_id}"]
    if threads is not None:
        parts.append(f"{threads or os.cpu_count()} threads")
    parts += [
        f"{name}={os.environ[name]}"
        for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
        if os.environ.get(name)
    ]
    return ", ".join(parts)


def read_bandwidth_gb_s(mib: int = 256) -> float:
    """Memory read bandwidth with every core: one thread per core sums its own ``mib`` MiB
    array (numpy releases the GIL), best of three."""
    import os
    import threading

    import numpy as np

    cores = os.cpu_count() or 1
    arrays = [np.ones(mib * 2**20 // 8) for _ in range(cores)]
    best = float("inf")
    for _ in range(3):
        threads = [threading.Thread(target=a.sum) for a in arrays]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        best = min(best, time.perf_counter() - t0)
    return sum(a.nbytes for a in arrays) / best / 1e9


def _bandwidth_bound(generator: Generator, fig: Figures) -> None:
    """How fast generation could be if reading the weights were all it cost: a small model
    reads every weight once per token (for Gemma 3 270M mostly its 262k-word output matrix)."""
    path = getattr(generator, "model_path", None)  # llama.cpp models only
    if path is None:
        return
    weights = Path(path).stat().st_size
    bandwidth = read_bandwidth_gb_s()
    fig.add(
        "generation",
        "weights_mb_read_per_token",
        weights / 1e6,
        "MB",
        f"size of {Path(path).name}: every weight is read once per generated token",
    )
    fig.add(
        "generation",
        "memory_read_gb_per_s",
        bandwidth,
        "GB/s",
        "numpy sums of a 256 MiB array per core in parallel threads, best of 3",
    )
    fig.add(
        "generation",
        "bandwidth_bound_tokens_per_s",
        bandwidth * 1e9 / weights,
        "tokens/s",
        "memory_read_gb_per_s / weights_mb_read_per_token: the ceiling for generated_tokens_per_s",
    )
    timed_matvec = output_matvec_s(Path(path))
    if timed_matvec is not None:
        matvec, read, what = timed_matvec
        fig.add(
            "generation",
            "output_matvec_ms",
            matvec * 1000,
            "ms",
            f"ggml mul_mat of the output matrix ({what}) by one vector, one thread, best of 5: "
            "paid once per generated token, so 1000 / this bounds tokens/s on one core",
        )
        fig.add(
            "generation",
            "output_read_ms",
            read * 1000,
            "ms",
            "a plain numpy read of the same bytes, one thread, best of 5: where output_matvec_ms "
            "is well above it, ggml's kernel, not memory, sets the pace",
        )


def output_matvec_s(path: Path, repeats: int = 5) -> tuple[float, float, str] | None:
    """Best-of-``repeats`` times, on one thread, of ggml's product of the model's output
    matrix (``output.weight``, else the tied ``token_embd.weight``) with one vector, and of a
    plain read of the same bytes; and what the matrix is. None when the file has neither.

    Why: a generated token multiplies that matrix once; for Gemma 3 270M it is 178 of the
    253 MB read per token, so ``1 / matvec`` bounds tokens/s by what ggml's CPU kernel does,
    below the memory-bandwidth bound when the kernel, not memory, is the limit."""
    import ctypes

    import numpy as np

    from ancre.qa.generation.gguf import LLMError, ggml_library, tensor_table

    try:
        table = tensor_table(path)
    except LLMError:
        return None
    found = [n for n in ("output.weight", "token_embd.weight") if n in table]
    if not found:
        return None
    ggml_type, dims, offset = table[found[0]]
    cols, rows = (*dims, 1)[:2]
    base, cpu = ggml_library("libggml-base.so"), ggml_library("libggml-cpu.so")
    vp, i64, size_t = ctypes.c_void_p, ctypes.c_int64, ctypes.c_size_t

    class GgmlParams(ctypes.Structure):
        _fields_ = [("mem_size", size_t), ("mem_buffer", vp), ("no_alloc", ctypes.c_bool)]

    for name, restype, argtypes in (
        ("ggml_init", vp, [GgmlParams]),
        ("ggml_free", None, [vp]),
        ("ggml_new_tensor_1d", vp, [vp, ctypes.c_int, i64]),
        ("ggml_new_tensor_2d", vp, [vp, ctypes.c_int, i64, i64]),
        ("ggml_get_data", vp, [vp]),
        ("ggml_mul_mat", vp, [vp, vp, vp]),
        ("ggml_new_graph", vp, [vp]),
        ("ggml_build_forward_expand", None, [vp, vp]),
        ("ggml_type_name", ctypes.c_char_p, [ctypes.c_int]),
        ("ggml_row_size", size_t, [ctypes.c_int, i64]),
    ):
        getattr(base, name).restype, getattr(base, name).argtypes = restype, argtypes
    cpu.ggml_graph_compute_with_ctx.argtypes = [vp, vp, ctypes.c_int]
    cpu.ggml_cpu_init()  # its conversion tables (done once per process; llama.cpp does it too)
    ctx = None
    try:
        nbytes = base.ggml_row_size(ggml_type, cols) * rows
        data = np.array(np.memmap(path, np.uint8, "r", offset, (nbytes,)))
        ctx = base.ggml_init(GgmlParams(nbytes + 16 * 2**20, None, False))
        weights = base.ggml_new_tensor_2d(ctx, ggml_type, cols, rows)
        ctypes.memmove(base.ggml_get_data(weights), data.ctypes.data, nbytes)
        vector = base.ggml_new_tensor_1d(ctx, 0, cols)  # GGML_TYPE_F32
        x = np.ctypeslib.as_array(
            ctypes.cast(base.ggml_get_data(vector), ctypes.POINTER(ctypes.c_float)), (cols,)
        )
        x[:] = np.random.default_rng(0).standard_normal(cols)
        graph = base.ggml_new_graph(ctx)
        base.ggml_build_forward_expand(graph, base.ggml_mul_mat(ctx, weights, vector))
        words = data[: nbytes // 8 * 8].view(np.uint64)
        matvec = read = float("inf")
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            cpu.ggml_graph_compute_with_ctx(ctx, graph, 1)
            matvec = min(matvec, time.perf_counter() - t0)
            t0 = time.perf_counter()
            np.bitwise_or.reduce(words)
            read = min(read, time.perf_counter() - t0)
    finally:
        if ctx:
            base.ggml_free(ctx)
    kind = base.ggml_type_name(ggml_type).decode()
    return matvec, read, f"{found[0]} {kind} {rows} x {cols}, {nbytes / 1e6:.0f} MB"


def _time_answers(qa: Answerer, questions: list[str], repeats: int, fig: Figures) -> None:
    """The questions asked in order as one conversation, as the chat would (the answerer
    decides which ones are follow-ups)."""
    qa.ask(questions[0])  # warm-up
    totals, firsts, modes = [], [], Counter()
    passes = max(1, repeats)
    for _ in range(passes):
        history: list[dict[str, str]] = []
        for q in questions:
            answer = qa.ask(q, history=history)
            history = [{"role": "user", "content": q}]
            totals.append(answer.timings["total"])
            firsts.append(answer.timings["first_token"])
            modes[answer.mode] += 1
    what = f"the {len(questions)} sample questions x {passes} as one conversation"
    fig.add("generation", "ask_p50_s", percentile(totals, 50), "s", f"{what}, Answer total")
    fig.add("generation", "ask_p95_s", percentile(totals, 95), "s", "same, p95")
    fig.add(
        "generation",
        "ask_first_token_p50_s",
        percentile(firsts, 50),
        "s",
        "same, Answer.timings first_token (retrieval included; unlike the figures "
        "above, the answerer reuses the prefix its prompts share)",
    )
    fig.add("generation", "ask_modes", dict(modes), "", "how those answers were made")
