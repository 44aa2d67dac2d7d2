"""``python tests/milvus_crash.py STORE SOURCE METHOD N [rebuild]``: index SOURCE into the
Milvus STORE with the hashing embedder (pruning; re-embedding everything with ``rebuild``),
in this process, which kills itself with SIGKILL just before its Nth ``MilvusClient.METHOD``
call on the store's chunk or document collections (N = 0: never). A build interrupted at a
chosen point, as kill -9 would, or simply a build made by another process."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from pymilvus import MilvusClient

from ancre.index import build
from conftest import HashEmbedder


def dying(method: str, nth: int):
    real = getattr(MilvusClient, method)
    calls = 0

    def call(self, collection_name, *args, **kwargs):
        nonlocal calls
        if "_chunks_" in collection_name or "_docs_" in collection_name:
            calls += 1
            if calls == nth:
                os.kill(os.getpid(), signal.SIGKILL)
        return real(self, collection_name, *args, **kwargs)

    return call


if __name__ == "__main__":
    store, source, method, nth = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    setattr(MilvusClient, method, dying(method, nth))
    rebuild = sys.argv[5:] == ["rebuild"]
    report = build([source], index_dir=store, embedder=HashEmbedder(), prune=True, rebuild=rebuild)
    print(report.documents_total, report.chunks_total)
