"""The write path's settings, and the one reader of ``ANCRE_*`` environment variables.

Each layer owns a small frozen dataclass of documented defaults: ``IndexSettings`` here,
``ancre.qa.AnswerSettings`` for the read path. ``from_env(cls, **overrides)`` fills any of
them from ``ANCRE_<FIELD>`` variables and then from non-None overrides (CLI flags), so the
precedence is flag > environment > default. Settings are frozen: a function that needs
another value makes a copy with ``dataclasses.replace``; nothing mutates what it was given.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from .stores.location import MilvusAddress, is_milvus

T = TypeVar("T")


def default_index_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "ancre" / "index")


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "ancre")


@dataclass(frozen=True)
class IndexSettings:
    """Where the index lives and how documents are turned into it."""

    index_dir: str = dataclasses.field(default_factory=default_index_dir)
    """Directory holding the index (vectors, chunk store, lexical index, manifest)."""
    store: str = ""
    """Where the index lives: empty = ``index_dir``; a directory; or
    ``milvus://HOST:PORT[/COLLECTION]`` (``pip install "ancre[milvus]"``), which wins over
    ``index_dir``."""
    store_token: str = dataclasses.field(default="", repr=False)
    """Token of a secured Milvus (``USER:PASSWORD`` or an API key); unused for directories."""
    cache_dir: str = dataclasses.field(default_factory=default_cache_dir)
    """Cache for converted models (the OpenVINO export of the embedding model, Gemma's GGUF)."""
    embed_model: str = ""
    """Embedding model: empty = the model the index was built with, or the bundled
    all-MiniLM-L6-v2 for a new index. Else a folder or a Hugging Face id (needs network)."""
    embed_backend: str = "auto"
    """auto (OpenVINO for mean-pooling BERT models, converted once into cache_dir; else
    torch), torch or openvino."""
    embed_precision: str = ""
    """int8 or fp32. Empty = the precision the index was built with, or int8 for a new index
    (and for an index built before ancre recorded it) where OpenVINO serves the model: twice
    the speed for a dense recall@5 change within 0.005 (docs/benchmarks.md). Changing it
    re-embeds the index; a reader always embeds queries with the index's own encoder."""
    embed_batch_size: int = 32
    chunk_tokens: int = 256
    """Longest chunk, in the embedding model's word pieces. Each document's chunks are also
    kept under the encoder's limit (256 for all-MiniLM-L6-v2) once its title is counted."""
    chunk_overlap: int = 48
    """Overlap between consecutive chunks, in word pieces."""
    language: str = "french"
    """Snowball stemmer of the lexical index (french, english, german, spanish, ..., or none)."""
    vector_index: str = "auto"
    """FAISS index: auto (exact below 20,000 chunks, ivf from there), flat (exact inner
    product), ivf (approximate, recall@10 about 0.99+ of exact) or hnsw; a change converts
    the stored vectors, nothing is embedded again (vectors.py)."""
    max_file_mb: float = 50.0
    """Files larger than this are skipped with a message."""
    max_page_mb: float = 5.0
    """Web pages and feeds larger than this are skipped with a message (read as they come:
    a larger one is never held whole)."""
    fetch_timeout: float = 20.0
    """Seconds to wait for a web server to connect, and then for each part of its answer."""
    commit_docs: int = 500
    """A build commits what it has embedded every this many documents..."""
    commit_seconds: float = 60.0
    """...or after this many seconds, whichever comes first: an interrupted build keeps
    every batch committed before it stopped, and the next build goes on from there."""

    def __post_init__(self) -> None:
        store, index_dir = self.store.strip(), self.index_dir
        if is_milvus(index_dir) and not is_milvus(store):  # index_dir= also takes a URI
            store, index_dir = index_dir, default_index_dir()
        if is_milvus(store):
            MilvusAddress.parse(store)  # a malformed URI fails here, naming the field
        elif store:  # a directory given as --store / ANCRE_STORE
            store, index_dir = "", store
        object.__setattr__(self, "store", store)
        object.__setattr__(self, "index_dir", str(Path(index_dir).expanduser()))
        object.__setattr__(self, "cache_dir", str(Path(self.cache_dir).expanduser()))

    @classmethod
    def from_env(cls, **overrides: Any) -> IndexSettings:
        return from_env(cls, **overrides)

    def at(self, location: str | Path) -> IndexSettings:
        """These settings pointed at ``location`` (a directory or a Milvus URI), as given to
        ``build(index_dir=...)`` or ``ask(index_dir=...)``. A Milvus store already chosen
        (``ANCRE_STORE``, ``--store``) wins over a directory."""
        where = str(location)
        if is_milvus(where):
            return dataclasses.replace(self, store=where)
        if is_milvus(self.store):
            logging.getLogger(__name__).info("%s set: %s is not used", self.store, where)
            return self
        return dataclasses.replace(self, index_dir=where, store="")


def from_env(cls: type[T], **overrides: Any) -> T:
    """``cls`` (a settings dataclass) from its defaults, then ``ANCRE_<FIELD>`` environment
    variables, then the non-None ``overrides``. Unknown override names are an error;
    overrides that ``cls`` lacks but another layer owns can be dropped with ``only_known``."""
    only_known = overrides.pop("only_known", False)
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name in names:
        raw = os.environ.get(f"ANCRE_{name.upper()}")
        if raw is not None and raw != "":
            values[name] = _coerce(name, hints[name], raw)
    for key, value in overrides.items():
        if key not in names:
            if only_known:
                continue
            raise TypeError(f"unknown setting {key!r} for {cls.__name__}")
        if value is not None:
            values[key] = value
    return cls(**values)


def describe(settings: Any) -> list[tuple[str, Any]]:
    """(name, value) of every field, for ``ancre config`` (secrets shown as ``***``)."""
    return [
        (
            f.name,
            "***"
            if f.name.endswith("token") and getattr(settings, f.name)
            else getattr(settings, f.name),
        )
        for f in fields(settings)
    ]


def _coerce(name: str, kind: Any, raw: str) -> Any:
    try:
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
    except ValueError:
        raise ValueError(
            f"environment variable ANCRE_{name.upper()}={raw!r} is not a valid "
            f"{getattr(kind, '__name__', kind)}"
        ) from None
    return raw
