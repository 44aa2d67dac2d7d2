"""The KV state of a prompt's fixed start, kept on disk so that a fresh process skips it.

Why: every answer prompt starts with the same instructions and example (119 of about 255
Gemma tokens for the French prompt). Within one process llama-cpp-python already reuses the
longest prefix shared with the previous prompt; a fresh ``ancre ask`` had to evaluate it
again. Its KV state is about 2 MB and loads in a few milliseconds (time to first token 0.40 s
instead of 0.83-1.0 s in the same conditions, see docs/benchmarks.md).

The file is keyed by the model file (path, size, modification time), the context size, the
llama-cpp-python version and the prefix's tokens: any change makes another file.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.metadata
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def state_path(folder: Path, model_path: Path, n_ctx: int, tokens: list[int]) -> Path:
    stat = model_path.stat()
    key = hashlib.sha1(
        repr(
            (
                str(model_path.resolve()),
                stat.st_size,
                stat.st_mtime_ns,
                n_ctx,
                importlib.metadata.version("llama_cpp_python"),
                tokens,
            )
        ).encode()
    ).hexdigest()[:16]
    return folder / f"{model_path.stem}-{key}.state"


def restore(llm: Any, path: Path, tokens: list[int]) -> bool:
    """Load the saved state of ``tokens`` into an empty context (a ``llama_cpp.Llama``);
    True when it did. The wrapper's prefix matching then evaluates only the rest."""
    import llama_cpp

    if llm.n_tokens or not path.is_file():
        return False
    out = (llama_cpp.llama_token * len(tokens))()
    count = ctypes.c_size_t(0)
    size = llama_cpp.llama_state_seq_load_file(
        llm.ctx, str(path).encode(), 0, out, len(tokens), ctypes.byref(count)
    )
    if not size or list(out[: count.value]) != tokens:
        log.debug("prompt state %s not usable; evaluating the prompt in full", path)
        llm.reset()
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
        return False
    llm.input_ids[: len(tokens)] = tokens
    llm.n_tokens = len(tokens)
    return True


def save(llm: Any, path: Path, tokens: list[int]) -> None:
    """Keep only ``tokens`` (the start of what the context holds) and write their state."""
    import llama_cpp

    n = len(tokens)
    if llm.n_tokens < n or list(llm.input_ids[:n]) != tokens:
        return
    llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llm.ctx), 0, n, -1)
    llm.n_tokens = n
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    array = (llama_cpp.llama_token * n)(*tokens)
    if llama_cpp.llama_state_seq_save_file(llm.ctx, str(tmp).encode(), 0, array, n):
        os.replace(tmp, path)
    else:
        tmp.unlink(missing_ok=True)
