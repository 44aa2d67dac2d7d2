"""All of ancre's settings in one place.

Every field has a documented default and can be overridden by an environment variable
``ANCRE_<FIELD>`` (for example ``ANCRE_INDEX_DIR=~/news-index``) or by a CLI flag.
Precedence: CLI flag > environment variable > default.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


def _default_index_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "ancre" / "index")


def _default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "ancre")


@dataclass
class Settings:
    # --- where things live
    index_dir: str = dataclasses.field(default_factory=_default_index_dir)
    """Directory holding the index (vectors, chunk store, lexical index, manifest)."""
    cache_dir: str = dataclasses.field(default_factory=_default_cache_dir)
    """Cache for converted models (the OpenVINO export of the embedding model)."""

    # --- write path (index)
    embed_model: str = ""
    """Embedding model: empty = the model the index was built with, or the bundled
    all-MiniLM-L6-v2 for a new index. Else a folder or a Hugging Face id (needs network)."""
    embed_backend: str = "auto"
    """auto (OpenVINO for mean-pooling BERT models, converted once into cache_dir; else
    torch), torch or openvino."""
    embed_batch_size: int = 32
    chunk_tokens: int = 256
    """Longest chunk, in the embedding model's word pieces. Each document's chunks are also
    kept under the encoder's limit (256 for all-MiniLM-L6-v2) once its title is counted."""
    chunk_overlap: int = 48
    """Overlap between consecutive chunks, in word pieces."""
    language: str = "french"
    """Snowball stemmer of the lexical index (french, english, german, spanish, ..., or none)."""
    vector_index: str = "flat"
    """FAISS index: flat (exact inner product) or hnsw (approximate, for large corpora)."""
    max_file_mb: float = 50.0
    """Files larger than this are skipped with a message."""

    # --- read path (qa)
    top_k: int = 5
    """Passages retrieved for an answer."""
    lexical_weight: float = 1.0
    """Weight of the max-normalised BM25 score in the hybrid fusion."""
    dense_weight: float = 1.0
    """Weight of the cosine similarity in the hybrid fusion."""
    llm: str = "gemma"
    """Generator: 'gemma' (Gemma 3 270M, bundled), 'smollm2' (SmolLM2-135M-Instruct, bundled),
    'none' (extractive answers only), a .gguf path, 'hf:REPO/FILE.gguf' (needs network),
    or 'openai:http://host:port/v1' for an OpenAI-compatible server."""
    llm_model_name: str = ""
    """Model name sent to an OpenAI-compatible server (its default when empty)."""
    temperature: float = 0.0
    max_tokens: int = 48
    n_ctx: int = 2048
    n_threads: int = 0
    """llama.cpp threads; 0 = all cores."""
    abstain_threshold: float = 0.3
    """Evidence score under which ancre says the articles don't tell (calibrated on PIAF dev)."""
    max_question_chars: int = 1000

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Defaults, then ``ANCRE_*`` environment variables, then the non-None ``overrides``."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = os.environ.get(f"ANCRE_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _coerce(f, raw)
        for key, value in overrides.items():
            if key not in {f.name for f in fields(cls)}:
                raise TypeError(f"unknown setting {key!r}")
            if value is not None:
                values[key] = value
        settings = cls(**values)
        settings.index_dir = str(Path(settings.index_dir).expanduser())
        settings.cache_dir = str(Path(settings.cache_dir).expanduser())
        return settings

    def describe(self) -> list[tuple[str, Any]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


def _coerce(f: dataclasses.Field, raw: str) -> Any:
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ValueError(
            f"environment variable ANCRE_{f.name.upper()}={raw!r} is not a valid {kind}"
        ) from None
    return raw
