"""The Milvus engine inside the pinned milvus-lite wheel, run as a server on 127.0.0.1 and a
free port and stopped by its process id: what the scale bench measures against and what the
tests use (``tests/milvus_server.py``)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from .report import free_port


def binary() -> Path:
    """The server binary of the milvus-lite wheel (ImportError when it is not installed)."""
    import importlib.util

    spec = importlib.util.find_spec("milvus_lite")
    if spec is None or not spec.origin:
        raise ImportError('milvus-lite is not installed: pip install -e ".[milvus]"')
    return Path(spec.origin).parent / "lib" / "milvus"


def start(data_dir: Path, port: int) -> subprocess.Popen:
    lib = binary().parent
    env = {**os.environ, "LD_LIBRARY_PATH": f"{lib}:{os.environ.get('LD_LIBRARY_PATH', '')}"}
    data_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [str(binary()), str(data_dir / "ancre.db"), f"127.0.0.1:{port}", "ERROR"],
        env=env,
        cwd=data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def answers(port: int) -> bool:
    """Does the server answer a client call (an open port alone is not enough on a first
    start, while the engine sets up its data)?"""
    try:
        from pymilvus import MilvusClient

        MilvusClient(uri=f"http://127.0.0.1:{port}", timeout=2).list_collections()
    except Exception:
        return False
    return True


def warm_up(port: int) -> None:
    """Create and drop one collection: an engine's first collection can take longer than a
    client call's timeout on a busy machine, and that first wait belongs to the fixture, not
    to the first test."""
    from pymilvus import MilvusClient

    client = MilvusClient(uri=f"http://127.0.0.1:{port}", timeout=120)
    client.create_collection("ancre_warm_up", dimension=4)
    client.insert("ancre_warm_up", [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}])
    client.drop_collection("ancre_warm_up")


def wait_ready(proc: subprocess.Popen, port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            if answers(port):
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Milvus server did not start (exit code {proc.poll()})")
        time.sleep(0.1)


def stop(proc: subprocess.Popen) -> None:
    """Stop the server by its pid: SIGTERM, then SIGKILL if it does not exit."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


@contextlib.contextmanager
def server(data_dir: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A Milvus server on 127.0.0.1 for the block: its ``milvus://HOST:PORT`` and process."""
    port = free_port()
    proc = start(data_dir, port)
    try:
        wait_ready(proc, port)
        warm_up(port)
        yield f"milvus://127.0.0.1:{port}", proc
    finally:
        stop(proc)


@contextlib.contextmanager
def running(data_dir: Path) -> Iterator[str]:
    """A Milvus server on 127.0.0.1 for the block; yields its ``milvus://HOST:PORT``."""
    with server(data_dir) as (uri, _proc):
        yield uri
