"""The real Milvus engine for tests: the C++ server inside the pinned milvus-lite wheel, on
127.0.0.1 and a free port, stopped by its process id (``ancre.qa.measure.milvuslite``).

``python tests/milvus_server.py DIR [PORT]`` runs one in the foreground (for trying ancre's
Milvus store by hand)."""

from __future__ import annotations

import sys
from pathlib import Path

from ancre.qa.measure.milvuslite import binary, free_port, running, start, stop

__all__ = ["binary", "free_port", "running", "start", "stop"]

if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "milvus-data")
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 19530
    server = start(folder, port)
    print(f"Milvus on milvus://127.0.0.1:{port} (pid {server.pid}); Ctrl-C stops it")
    try:
        server.wait()
    except KeyboardInterrupt:
        stop(server)
