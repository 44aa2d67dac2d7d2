"""The FAISS vector index of a directory store: which kind serves an index of a given size,
how each kind is built, updated and described in the manifest.

Kinds (``IndexSettings.vector_index``):

- ``flat``: exact inner product over every vector. Its time grows with the index (about
  1.4 ms at 10,000 chunks and 20 ms at 100,000 on a 2-core machine, docs/benchmarks.md).
- ``ivf``: an inverted file (FAISS ``IndexIVFFlat``): k-means cells, a query scans the
  ``nprobe`` nearest cells only. It adds and removes vectors in place (HNSW cannot remove:
  every removal rebuilt its whole graph), and its k-means is trained once on the vectors
  present, again only when the index has grown about four times.
- ``hnsw``: FAISS HNSW, kept for indexes built with it.
- ``auto`` (the default): flat below ``APPROX_FROM`` vectors, where exact search stays
  cheap and small indexes (the PIAF figures) keep exact results; ivf from there on.

The kind in use and its parameters are recorded in the manifest (``vectors``), and the
writer converts the index when the setting or the size calls for another kind: converting
reads the stored vectors back, nothing is embedded again.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

KINDS = ("auto", "flat", "ivf", "hnsw")
APPROX_FROM = 20_000
"""Vectors from which ``auto`` uses the approximate (ivf) index."""
IVF_POINTS_PER_LIST = 39
"""FAISS' own minimum of training points per k-means cell."""
IVF_TRAIN_PER_LIST = 64
"""Training points per cell (a deterministic sample of the vectors)."""
IVF_PROBE_SHARE = 16
"""A query scans 1/16 of the cells (at least ``IVF_MIN_PROBES``): on the bench's
100,000-chunk index, recall@10 against exact search 1.0 with 1,024 cells, where 1/32
gave 0.999 and 1/64 0.977."""
IVF_MIN_PROBES = 16
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 64


def kind_for(setting: str, n: int) -> str:
    """The kind that serves ``n`` vectors under the ``vector_index`` setting."""
    if setting not in KINDS:
        raise ValueError(
            f"unknown vector index {setting!r} (ANCRE_VECTOR_INDEX): {', '.join(KINDS)}"
        )
    if setting == "auto":
        return "ivf" if n >= APPROX_FROM else "flat"
    return setting


def ivf_lists(n: int) -> int:
    """Cells for ``n`` vectors: the power of two nearest 4 x sqrt(n), with at least 39
    training points per cell."""
    ideal = 2 ** round(math.log2(max(4 * math.sqrt(max(n, 1)), 1)))
    most = 2 ** int(math.log2(max(n // IVF_POINTS_PER_LIST, 1)))
    return max(1, min(ideal, most))


def ivf_probes(nlist: int) -> int:
    return min(nlist, max(IVF_MIN_PROBES, nlist // IVF_PROBE_SHARE))


def layout_due(layout: dict[str, Any], setting: str, n: int) -> bool:
    """True when an index described by ``layout`` (the manifest's ``vectors``) and holding
    ``n`` vectors should be converted or retrained (see ``fit``)."""
    kind = layout.get("kind", "flat")
    want = kind_for(setting, n)
    if want != kind:
        return True
    return want == "ivf" and _retrain(int(layout.get("nlist", 0)), n)


def _retrain(nlist: int, n: int) -> bool:
    """A trained ivf is kept until its cell count is off by 4x from what ``n`` wants."""
    wanted = ivf_lists(n)
    return wanted >= 4 * nlist or 4 * wanted <= nlist


def kind_of(index: Any) -> str:
    import faiss

    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    inner = faiss.downcast_index(index.index)
    return "hnsw" if isinstance(inner, faiss.IndexHNSW) else "flat"


def describe(index: Any) -> dict[str, Any]:
    """What the manifest records of the index (``vectors``)."""
    kind = kind_of(index)
    if kind == "ivf":
        return {"kind": kind, "nlist": int(index.nlist), "nprobe": int(index.nprobe)}
    if kind == "hnsw":
        import faiss

        inner = faiss.downcast_index(index.index)
        return {"kind": kind, "M": HNSW_M, "ef_search": int(inner.hnsw.efSearch)}
    return {"kind": kind}


def read_flags(layout: dict[str, Any]) -> int:
    """How a reader opens the vectors file of ``layout``: an ivf index is memory-mapped on
    POSIX systems (opened at once, its cells paged in as queries scan them: see
    docs/scale.md); other kinds are read whole. A writer always reads whole (it changes
    the index)."""
    import faiss

    return faiss.IO_FLAG_MMAP if layout.get("kind") == "ivf" and os.name == "posix" else 0


def tune(index: Any, layout: dict[str, Any]) -> None:
    """Set the search parameters the manifest records (a reader calls this on load)."""
    if layout.get("kind") == "ivf" and kind_of(index) == "ivf":
        index.nprobe = int(layout.get("nprobe", ivf_probes(index.nlist)))


def new_index(dim: int, kind: str) -> Any:
    """An empty index of ``kind`` (ivf needs vectors to train: see ``build``)."""
    import faiss

    if kind == "flat":
        inner = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    elif kind in ("auto", "ivf"):
        inner = faiss.IndexFlatIP(dim)  # grows flat until it is large enough to train
    else:
        raise ValueError(f"unknown vector index {kind!r} (ANCRE_VECTOR_INDEX): {', '.join(KINDS)}")
    return faiss.IndexIDMap2(inner)


def build(dim: int, kind: str, ids: np.ndarray, vectors: np.ndarray) -> Any:
    """An index of ``kind`` holding ``vectors`` under chunk ``ids``."""
    if kind != "ivf":
        index = new_index(dim, kind)
        if len(ids):
            index.add_with_ids(vectors, ids)
        return index
    import faiss

    nlist = ivf_lists(len(ids))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = min(len(ids), IVF_TRAIN_PER_LIST * nlist)
    rows = np.sort(np.random.default_rng(0).choice(len(ids), sample, replace=False))
    index.train(np.ascontiguousarray(vectors[rows]))
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct(chunk id), removal
    index.add_with_ids(vectors, ids)
    index.nprobe = ivf_probes(nlist)
    return index


def contents(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """(chunk ids, vectors) of every stored vector; ids ascending for ivf, in the order
    they were added otherwise."""
    import faiss

    if kind_of(index) != "ivf":
        ids = faiss.vector_to_array(index.id_map).astype("int64")
        vectors = (
            index.index.reconstruct_n(0, index.ntotal)
            if index.ntotal
            else np.zeros((0, index.d), "float32")
        )
        return ids, vectors
    lists = index.invlists
    id_parts, vector_parts = [], []
    for cell in range(index.nlist):
        size = lists.list_size(cell)
        if not size:
            continue
        id_parts.append(faiss.rev_swig_ptr(lists.get_ids(cell), size).copy())
        codes = faiss.rev_swig_ptr(lists.get_codes(cell), size * lists.code_size)
        vector_parts.append(np.frombuffer(codes.copy(), dtype="float32").reshape(size, index.d))
    if not id_parts:
        return np.zeros(0, "int64"), np.zeros((0, index.d), "float32")
    ids = np.concatenate(id_parts).astype("int64")
    order = np.argsort(ids, kind="stable")
    return ids[order], np.concatenate(vector_parts)[order]


def ids_of(index: Any) -> np.ndarray:
    import faiss

    if kind_of(index) != "ivf":
        return faiss.vector_to_array(index.id_map).astype("int64")
    lists = index.invlists  # the ids of each cell, without copying its vectors
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(cell), lists.list_size(cell)).copy()
        for cell in range(index.nlist)
        if lists.list_size(cell)
    ]
    return np.sort(np.concatenate(parts)).astype("int64") if parts else np.zeros(0, "int64")


def id_mismatch(conn: Any, index: Any) -> str:
    """Why the vectors of ``index`` are not one per chunk of the store ``conn`` under the
    chunk's id ("" if they are). Compares the count, the lowest, highest and sum of the
    ids, which SQLite aggregates over its covering index on doc_id: listing every id
    through Python took seconds at a million chunks, for an open that must stay short."""
    count, low, high, total = conn.execute(
        "SELECT count(*), min(id), max(id), total(id) FROM chunks"
    ).fetchone()
    if index.ntotal != count:
        return f"{index.ntotal} vectors for {count} chunks"
    if not count:
        return ""
    ids = ids_of(index)
    if (int(ids.min()), int(ids.max()), float(ids.sum(dtype="float64"))) != (low, high, total):
        return "its vector ids are not the chunk ids"
    return ""


def remove(index: Any, ids: list[int]) -> Any:
    """The index without ``ids``: in place for flat and ivf; HNSW cannot delete, so its
    graph is rebuilt from the remaining vectors."""
    if not ids:
        return index
    gone = np.asarray(ids, dtype="int64")
    kind = kind_of(index)
    if kind == "hnsw":
        all_ids, vectors = contents(index)
        keep = ~np.isin(all_ids, gone)
        return build(index.d, kind, all_ids[keep], vectors[keep])
    index.remove_ids(gone)
    return index


def fit(index: Any, setting: str) -> Any:
    """The index as the setting wants it at its present size: converted to another kind,
    or its ivf retrained, from the stored vectors; else the same index."""
    n = int(index.ntotal)
    want = kind_for(setting, n)
    kind = kind_of(index)
    if want == kind and not (kind == "ivf" and _retrain(int(index.nlist), n)):
        return index
    ids, vectors = contents(index)
    return build(index.d, want, ids, vectors)
