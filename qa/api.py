"""``ask()``: the read path in one call, over resources loaded once per process.

Loaded resources (an index with its embedding model, a generator) are cached by what they
load; everything else (top_k, fusion weights, temperature, threshold...) is a per-call
option, honoured on every call. Switching the generator reuses the loaded index.
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, overload

from ancre.index import Embedder, IndexSettings

from .answer import Answerer
from .generation.llm import Generator, load_generator
from .records import Answer, AnswerStream
from .retrieval.search import Filters, Retriever
from .settings import AnswerSettings

log = logging.getLogger(__name__)
_retrievers: dict[tuple, Retriever] = {}
_lock = threading.Lock()


def open_retriever(
    index_settings: IndexSettings | None = None, *, embedder: Embedder | None = None
) -> Retriever:
    """The retriever of the store ``index_settings`` name (``store``, else ``index_dir``),
    opened once per process and per embedding model."""
    s = index_settings or IndexSettings.from_env()
    where = s.store or str(Path(s.index_dir).resolve())
    key = (
        where,
        s.store_token,
        s.embed_model,
        s.embed_precision,
        s.embed_backend,
        s.cache_dir,
        embedder,
    )
    with _lock:
        if key not in _retrievers:
            _retrievers[key] = Retriever.open(embedder=embedder, settings=s)
        return _retrievers[key]


def open_answerer(
    settings: AnswerSettings | None = None,
    index_settings: IndexSettings | None = None,
    *,
    embedder: Embedder | None = None,
    generator: Generator | None = None,
) -> Answerer:
    """An Answerer over the cached resources that ``index_settings`` and ``settings.llm``
    name (``embedder`` / ``generator`` replace them: tests pass fakes)."""
    s = settings or AnswerSettings.from_env()
    xs = index_settings or IndexSettings.from_env()
    retriever = open_retriever(xs, embedder=embedder)
    if generator is None:
        generator = load_generator(s.llm, s, xs.cache_dir)
    return Answerer(retriever, generator, s)


def preload(
    settings: AnswerSettings | None = None,
    index_settings: IndexSettings | None = None,
    *,
    embedder: Embedder | None = None,
) -> list[threading.Thread]:
    """Start loading what a question will need, each in its own thread, so that the loads
    overlap each other and the imports instead of following one another: the generator
    (llama.cpp loads in a thread of its own), spaCy's French pipeline, the index with its
    embedding model (and its first inference), the reranker's weights. Nothing a question
    does not need: no generator for ``llm='none'``. ``ask`` then waits only for what is
    still loading; a load that fails is left for it to report. Returns the threads
    (``embedder`` replaces the index's model, as in ``open_retriever``)."""
    from .learned import load_model
    from .reading import nlp

    s = settings or AnswerSettings.from_env()
    xs = index_settings or IndexSettings.from_env()
    nlp.preload(xs.language)

    def index_and_encoder() -> None:
        # the encoder loaded and compiled for its first question
        open_retriever(xs, embedder=embedder).embedder.embed(["."])

    loads = {"index": index_and_encoder, "reranker": lambda: load_model("rerank")}
    if s.llm.strip() not in ("", "none"):
        loads["generator"] = lambda: load_generator(s.llm, s, xs.cache_dir)
    threads = [
        threading.Thread(target=_quietly, args=(load,), name=f"ancre-preload-{name}", daemon=True)
        for name, load in loads.items()
    ]
    for thread in threads:
        thread.start()
    return threads


def _quietly(load: Any) -> None:
    try:
        load()
    except Exception as err:  # the question reports it, in its own thread
        log.info("preloading failed: %s", err)


def answerer(*args: Any, **kwargs: Any) -> Answerer:
    """Deprecated name of ``open_answerer``."""
    warnings.warn(
        "ancre.qa.answerer() is now ancre.qa.open_answerer()", DeprecationWarning, stacklevel=2
    )
    return open_answerer(*args, **kwargs)


@overload
def ask(question: str, *, stream: Literal[False] = False, **kwargs: Any) -> Answer: ...
@overload
def ask(question: str, *, stream: Literal[True], **kwargs: Any) -> AnswerStream: ...


def ask(
    question: str,
    *,
    index_dir: str | Path | None = None,
    history: list | None = None,
    filters: Filters | None = None,
    top_k: int | None = None,
    llm: str | None = None,
    temperature: float | None = None,
    settings: AnswerSettings | None = None,
    index_settings: IndexSettings | None = None,
    embedder: Embedder | None = None,
    generator: Generator | None = None,
    stream: bool = False,
) -> Answer | AnswerStream:
    """Answer ``question`` from the index at ``index_dir`` (a directory or a
    ``milvus://HOST:PORT[/COLLECTION]`` URI; else ``ANCRE_STORE`` / ``ANCRE_INDEX_DIR``; a
    Milvus store set by ``ANCRE_STORE`` wins over a directory).

    ``settings`` (default: ``AnswerSettings.from_env()``) and the shortcuts ``top_k``,
    ``llm``, ``temperature`` apply to this call only. ``stream=True`` returns an
    ``AnswerStream``: iterate it for Events (stages, unverified draft pieces, the verified
    text) and call ``.answer()`` for the Answer."""
    s = settings or AnswerSettings.from_env()
    s = replace(
        s,
        **{
            k: v
            for k, v in (("top_k", top_k), ("llm", llm), ("temperature", temperature))
            if v is not None
        },
    )
    xs = index_settings or IndexSettings.from_env()
    if index_dir is not None:
        xs = xs.at(index_dir)
    parts = open_answerer(s, xs, embedder=embedder, generator=generator).stream(
        question, history=history, filters=filters
    )
    return parts if stream else parts.answer()
