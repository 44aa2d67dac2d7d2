"""The build lock of a Milvus store: a lease in the store itself, so that builds on
different machines exclude each other without any other service."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

from ..base import BuildLocked
from ..location import MilvusAddress
from .client import read_meta
from .schema import put_meta

log = logging.getLogger(__name__)

LEASE_S = 60.0
"""A build's lock expires this long after its last renewal (renewed every third of it)."""


class Lease:
    """The build lock of one store: a meta row naming its owner until it expires. Taken over
    at once when its owner was on this host and is dead (kill -9), else when it expires."""

    def __init__(self, client, address: MilvusAddress, wait: float = 0.0):
        self.client, self.address = client, address
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + wait
        while not self._take():
            if time.monotonic() >= deadline:
                raise BuildLocked(
                    f"another build ({self.holder.get('host')}, pid {self.holder.get('pid')}) "
                    f"is writing {address}; wait for it to finish and run again"
                )
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._renew_loop, daemon=True)
        self._beat.start()

    def _take(self) -> bool:
        self.holder = read_meta(self.client, self.address, "lock")
        if self.holder and not self._stale(self.holder):
            return False
        self._write()
        time.sleep(0.2)  # a concurrent taker's write lands meanwhile: the last one wins
        self.holder = read_meta(self.client, self.address, "lock")
        return self.holder.get("owner") == self.owner

    def _stale(self, held: dict[str, Any]) -> bool:
        if held.get("expires", 0) < time.time():
            return True
        if held.get("host") != socket.gethostname():
            return False
        try:
            os.kill(int(held.get("pid", 0)), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, ValueError, OSError):
            return False
        return False

    def _write(self) -> None:
        value = {
            "owner": self.owner,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "expires": time.time() + LEASE_S,
        }
        put_meta(self.client, self.address, "lock", value)

    def _renew_loop(self) -> None:
        while not self._stop.wait(LEASE_S / 3):
            try:
                self._write()
            except Exception as err:  # the next renewal may succeed; the build goes on
                log.warning("cannot renew the build lock of %s: %s", self.address, err)

    def release(self) -> None:
        self._stop.set()
        self._beat.join()
        try:
            if read_meta(self.client, self.address, "lock").get("owner") == self.owner:
                self.client.delete(self.address.collection, ids=["lock"])
        except Exception as err:  # an expired lease frees the store anyway
            log.warning("cannot release the build lock of %s: %s", self.address, err)
