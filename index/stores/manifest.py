"""How an index was built (its manifest), shared by both stores: the format version, the
settings that make an index what it is, and when a difference means embedding it again."""

from __future__ import annotations

from typing import Any

from ..lexical import ANALYSIS

FORMAT_VERSION = 2
"""2: path-derived document ids name their SOURCE folder (``folder@hash/path``); format 1
used the bare path, which two folders could share. A writer opening a format-1 index keeps
every document and re-keys each one when a build loads its file again (no re-embedding)."""
READABLE_FORMATS = (1, 2)
"""Formats whose tables and vectors the directory store reads (ids aside, 1 and 2 are the
same)."""


def wanted_manifest(
    settings: Any, model_id: str, dim: int | None, encoder: str = "fp32"
) -> dict[str, Any]:
    """How an index built with these settings is made; a difference means re-embedding.
    ``encoder`` is the embedder's exact encoder (``fp32`` or ``int8-...``, see embed.py)."""
    return {
        "format_version": FORMAT_VERSION,
        "embed_model": model_id,
        "embed_precision": encoder.partition("-")[0],
        "embed_encoder": encoder,
        "embed_dim": dim,
        "chunker": {
            "splitter": "recursive-tokens-titled",
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap,
        },
        "language": settings.language,
        "analysis": ANALYSIS,
        "vector_index": settings.vector_index,
    }


def reembed_reason(
    old: dict[str, Any], wanted: dict[str, Any], rebuild: bool, *, converts_vectors: bool = False
) -> str:
    """Why an index built as ``old`` must be embedded again to be as ``wanted`` ("" if not).
    ``converts_vectors``: the store changes its vector index kind from the stored vectors
    (the directory store, vectors.py), so a ``vector_index`` change is no reason."""
    if not old:
        return ""
    if rebuild:
        return "rebuild requested"
    old = {"embed_encoder": "fp32", **old}  # built before ancre recorded the encoder
    keys = ["embed_model", "embed_encoder", "chunker", "language"]
    if not converts_vectors:
        keys.append("vector_index")
    for key in keys:
        before, after = old.get(key), wanted[key]
        if key == "vector_index" and {before, after} <= {"auto", "flat"}:
            continue  # auto was flat's place as the default; only hnsw is another layout
        if before != after:
            return f"{key} changed: {before} -> {after}"
    return ""
