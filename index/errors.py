"""The errors of the write path and the stores, in one leaf module that every store imports.

(``walk.LoadError``, a file that cannot be read, stays beside the loaders that raise it.)
"""

from __future__ import annotations


class StoreError(RuntimeError):
    """The index is missing, unreadable or built differently; the message says what to run."""


class BuildLocked(StoreError):
    """Another build holds the store."""
