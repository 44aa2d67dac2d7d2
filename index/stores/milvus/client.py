"""Talking to a Milvus store (see reader.py for its layout): the client, one-line errors for
what a user can fix, the collections' names and keys, and the meta rows."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from ..base import StoreError
from ..location import MilvusAddress

log = logging.getLogger(__name__)

PIP_MILVUS = 'pip install "ancre[milvus]"'
MAX_TEXT = 65535
"""Milvus' largest VARCHAR, in UTF-8 bytes."""


def doc_key(doc_id: str) -> str:
    """A fixed-length, expression-safe key for a document id (ids may hold any character)."""
    return hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:40]


def chunks_name(collection: str, layout: int) -> str:
    return f"{collection}_chunks_{layout}"


def docs_name(collection: str, layout: int) -> str:
    return f"{collection}_docs_{layout}"


def terms_name(collection: str, layout: int) -> str:
    return f"{collection}_terms_{layout}"


def quoted(values: list[str]) -> str:
    """A Milvus list literal of hex keys (safe characters only)."""
    return "[" + ",".join(f'"{v}"' for v in values) + "]"


def connect(address: MilvusAddress, token: str = "", timeout: float = 10.0):
    """A client of the Milvus at ``address``; one-line StoreErrors for what a user can fix."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise StoreError(f"the Milvus store needs pymilvus: {PIP_MILVUS}") from None
    # pymilvus logs every failed call with a traceback; ancre reports them in one line.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    try:
        return MilvusClient(uri=address.uri, token=token, timeout=timeout)
    except Exception as err:
        if not _listening(address):
            raise translate(err, address) from None
    # The server is there: a channel it closed (gRPC GOAWAY, e.g. "too_many_pings" after a
    # long idle time) fails its next call once and then reconnects. One more try.
    try:
        return MilvusClient(uri=address.uri, token=token, timeout=timeout)
    except Exception as err:
        raise translate(err, address) from None


def _listening(address: MilvusAddress) -> bool:
    import socket

    try:
        with socket.create_connection((address.host, address.port), timeout=2):
            return True
    except OSError:
        return False


def translate(err: Exception, address: MilvusAddress) -> StoreError:
    """A Milvus or gRPC failure as one line saying what to do."""
    text = str(getattr(err, "message", "") or err)
    code = getattr(err, "code", None)
    low = text.lower()
    where = f"{address.host}:{address.port}"
    if code == 2 or "fail connecting" in low or "unavailable" in low:
        return StoreError(
            f"cannot reach Milvus at {where}: start it (see docs/milvus.md) or fix "
            "--store / ANCRE_STORE"
        )
    if any(w in low for w in ("auth", "credential", "password", "permission denied")):
        return StoreError(
            f"Milvus at {where} refused the token: check --store-token / ANCRE_STORE_TOKEN"
        )
    if "unimplemented" in low:
        return StoreError(f"{where} does not answer as Milvus' gRPC port (default 19530)")
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return StoreError(f"Milvus at {address}: {first}")


def is_missing_collection(err: Exception) -> bool:
    return "collection not found" in str(getattr(err, "message", "") or err).lower()


def read_meta(client, address: MilvusAddress, key: str) -> dict[str, Any]:
    """A meta row's JSON value ({} when absent, or when the store does not exist yet)."""
    try:
        rows = client.get(address.collection, ids=[key], output_fields=["value"])
    except Exception as err:
        if is_missing_collection(err):
            return {}
        raise translate(err, address) from None
    return json.loads(rows[0]["value"]) if rows else {}


def no_index(address: MilvusAddress) -> StoreError:
    return StoreError(
        f"{address} holds no finished index build: run "
        f"`ancre index build SOURCE... --store {address}`"
    )
