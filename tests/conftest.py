"""Shared fixtures and fakes.

``HashEmbedder`` and ``ScriptedGenerator`` implement ancre's ``Embedder`` and ``Generator``
protocols and are passed in through the public arguments (``build(embedder=...)``,
``ask(embedder=..., generator=...)``), so the whole read path has fast tests. The real models
are used by the tests marked ``slow``."""

from __future__ import annotations

import socket
import struct
import time
import uuid
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from ancre.index import IndexSettings, analyze, build
from ancre.qa import Passage
from ancre.samples import ARTICLES


class HashEmbedder:
    """Deterministic bag-of-stems vectors: texts that share words are close."""

    def __init__(
        self,
        dim: int = 256,
        model_id: str = "hash-256",
        delay: float = 0.0,
        encoder: str = "fp32",
    ):
        self.model_id = model_id
        self.encoder = encoder
        self.dim = dim
        self.max_tokens = 256
        self.calls = 0
        self.texts = 0
        """Texts embedded so far (tests that check what a build embedded again)."""
        self.delay = delay
        """Seconds spent per text, like a real model (tests that interrupt a build)."""

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        if self.delay:
            time.sleep(self.delay * len(texts))
        out = np.zeros((len(texts), self.dim), dtype="float32")
        for row, text in enumerate(texts):
            for term in analyze(text, "french"):
                h = zlib.crc32(term.encode())
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


class ScriptedGenerator:
    """Answers every prompt with ``reply`` (a string, or a function of the prompt), in
    word-sized pieces; remembers the prompts it was given."""

    def __init__(self, reply: str | Callable[[str], str] = "", model_id: str = "scripted"):
        self.reply = reply
        self.model_id = model_id
        self.prompts: list[str] = []

    def generate(
        self,
        prompt: str,
        max_tokens: int = 48,
        temperature: float = 0.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        self.prompts.append(prompt)
        text = self.reply(prompt) if callable(self.reply) else self.reply
        for stop_at in stop or []:
            text = text.split(stop_at)[0]
        for i, word in enumerate(text.split(" ")):
            yield word if i == 0 else " " + word


def make_passage(text: str, rank: int = 1, **fields) -> Passage:
    """A Passage with plausible defaults for the fields a test does not care about."""
    values = dict(
        rank=rank,
        chunk_id=rank,
        doc_id=f"doc-{rank}",
        title=f"Titre {rank}",
        url="",
        date="",
        text=text,
        start=0,
        end=len(text),
        score=1.0,
    )
    values.update(fields)
    return Passage(**values)


def rank_for(question: str, passages: list[Passage]) -> tuple[list, dict[str, float]]:
    """The sentences of ``passages`` ranked for ``question`` (``extract.rank_sentences``),
    every word of the question weighted alike, and that idf for ``best_span``."""
    from ancre.qa.reading.sentences import rank_sentences

    idf = {t: 1.0 for t in analyze(question)}
    return rank_sentences(question, passages, idf), idf


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory) -> Path:
    """The sample articles indexed with the hashing embedder (well under a second)."""
    index_dir = tmp_path_factory.mktemp("tiny") / "index"
    report = build([ARTICLES], index_dir=index_dir, embedder=HashEmbedder())
    assert report.added >= 14 and not report.skipped, report
    return index_dir


@pytest.fixture
def index_settings(tmp_path) -> IndexSettings:
    """Settings for a fresh index in tmp_path (model caches stay in the user's cache)."""
    return IndexSettings.from_env(index_dir=str(tmp_path / "index"))


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory) -> str:
    """The sample articles indexed with the real default embedding model."""
    index_dir = tmp_path_factory.mktemp("sample") / "index"
    report = build([ARTICLES], index_dir=index_dir, settings=IndexSettings.from_env())
    assert report.added >= 14 and not report.skipped, report
    return str(index_dir)


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory) -> Iterator[str]:
    """The real Milvus engine (the server inside the pinned milvus-lite wheel) on 127.0.0.1
    and a free port for the session, stopped by its pid; ``milvus://127.0.0.1:PORT``.
    Skipped when the ``milvus`` extra is not installed."""
    why = 'the Milvus store tests need: pip install -e ".[milvus]"'
    pytest.importorskip("pymilvus", reason=why)
    with warnings.catch_warnings():  # milvus-lite 2.5 imports pkg_resources
        warnings.simplefilter("ignore")
        pytest.importorskip("milvus_lite", reason=why)
    from milvus_server import running

    with running(tmp_path_factory.mktemp("milvus")) as uri:
        yield uri


@pytest.fixture
def milvus_uri(milvus_server) -> str:
    """A new collection on the session's Milvus."""
    return f"{milvus_server}/t_{uuid.uuid4().hex[:16]}"


@pytest.fixture(params=["directory", "milvus"])
def store(request, tmp_path) -> str:
    """Where a new index goes, on each backend in turn: the same tests run on both."""
    if request.param == "directory":
        return str(tmp_path / "index")
    return request.getfixturevalue("milvus_uri")


def write_gguf(path: Path, tensors: list[tuple[str, int, tuple[int, ...], int]]) -> None:
    """A GGUF file without metadata: (name, ggml type id, dims, data bytes) per tensor."""
    infos, offset = b"", 0
    for name, ggml_type, dims, size in tensors:
        infos += struct.pack("<Q", len(name)) + name.encode() + struct.pack("<I", len(dims))
        infos += struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", ggml_type, offset)
        offset += (size + 31) // 32 * 32
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), 0) + infos
    path.write_bytes(head + bytes(-len(head) % 32) + bytes(offset))
