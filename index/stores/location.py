"""Where an index lives: a directory, or a Milvus collection named
``milvus://HOST:PORT[/COLLECTION]``; parsed once, and named the same way in every message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

MILVUS_SCHEME = "milvus://"
DEFAULT_COLLECTION = "ancre"
COLLECTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,150}$")


class Located(Protocol):
    """What names a store (``IndexSettings`` has both)."""

    @property
    def store(self) -> str: ...

    @property
    def index_dir(self) -> str: ...


def is_milvus(location: object) -> bool:
    return isinstance(location, str) and location.strip().lower().startswith(MILVUS_SCHEME)


@dataclass(frozen=True)
class MilvusAddress:
    """``milvus://HOST:PORT[/COLLECTION]``: a Milvus server (one process or a cluster's
    proxy: the client call is the same) and the collection that holds the index."""

    host: str
    port: int
    collection: str = DEFAULT_COLLECTION

    @classmethod
    def parse(cls, location: str) -> MilvusAddress:
        rest = location.strip()[len(MILVUS_SCHEME) :].rstrip("/")
        hostport, _, collection = rest.partition("/")
        host, _, port = hostport.rpartition(":")
        collection = collection or DEFAULT_COLLECTION
        if not host or not port.isdigit() or not COLLECTION_NAME.match(collection):
            raise ValueError(
                f"bad store {location!r}: expected milvus://HOST:PORT[/COLLECTION] "
                "(COLLECTION: letters, digits and _, not starting with a digit)"
            )
        return cls(host.strip("[]"), int(port), collection)

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{MILVUS_SCHEME}{host}:{self.port}/{self.collection}"


def describe_location(settings: Located) -> str:
    """The store as a user names it, for messages: the Milvus URI or the directory."""
    if is_milvus(settings.store):
        return str(MilvusAddress.parse(settings.store))
    return settings.index_dir


def location_flag(settings: Located) -> str:
    """The command-line option that names this store, for the commands a message suggests."""
    if is_milvus(settings.store):
        return f"--store {MilvusAddress.parse(settings.store)}"
    return f"--index-dir {settings.index_dir}"
