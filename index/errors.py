"""The errors of the write path and the stores, in one leaf module that every store imports.

(``walk.LoadError``, a file that cannot be read, stays beside the loaders that raise it.)
"""

from __future__ import annotations


class StoreError(RuntimeError):
    """The index is missing, unreadable or built differently; the message says what to run."""


class BuildLocked(StoreError):
    """Another build holds the store."""


class DamagedFile(StoreError):
    """A file of the index is missing or damaged; the message names it, says what is wrong
    and gives the one command that repairs it."""

    def __init__(self, path: object, what: str, repair: str):
        self.path, self.what = path, what
        super().__init__(f"{path} is damaged ({what}): repair it with `{repair}`")


def repair_command(index_dir: object) -> str:
    """The command that rebuilds an index directory's derived files (vectors, postings)
    from its store, without reading the sources again."""
    return f"ancre index repair --index-dir {index_dir}"


def disk_full(path: object, err: Exception) -> str | None:
    """The message for a write that failed on a full disk (SQLite says "database or disk is
    full"), else None: it is not damage, and the last commit is whole."""
    if "full" not in str(err):
        return None
    return (
        f"cannot write {path}: the disk is full ({err}); free some space and run the build "
        "again (the index keeps its last commit)"
    )
