"""Find the files under the sources a build names, and say why anything is left out.

A folder is walked in name order. Hidden entries (``.git``, ``.DS_Store``) and files of
other types are passed over on purpose; anything else that cannot be read (a folder without
permission, a symbolic link that loops or points nowhere) becomes a ``Skipped`` naming it.
Linked folders are followed once: a link back into a folder being walked is a loop. A
*confined* walk (the chat server's folders) resolves every file and folder and refuses what
lies outside the folder it was given, so that a link cannot expose other files of the server.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class LoadError(Exception):
    """A file that cannot become a document; the message says why."""


def printable(text: str) -> str:
    """``text`` on one line: control characters, line breaks and undecodable bytes of a
    file name are written as escapes (``\\n``, ``\\x1b``, ``\\udcff``), so that every report
    stays one line per item and can be printed in any terminal encoding."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
    return "".join(out)


@dataclass
class Skipped:
    """An input left out of the index, and why (shown once, on one line)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{printable(self.path)}: {printable(self.reason)}"


@dataclass
class Notice:
    """A document that was indexed but deserves a look (an encoding guessed, say)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{printable(self.path)}: {printable(self.message)}"


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _link_problem(path: Path) -> str:
    """Why a symbolic link cannot be followed ("" if it can)."""
    try:
        path.stat()
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop"
        if err.errno == errno.ENOENT:
            return "broken symbolic link (its target does not exist)"
        return f"cannot read: {err.strerror or err}"
    return ""


OUTSIDE = "symbolic link leads out of the folder"


def walk(
    source: Path, extensions: tuple[str, ...], *, confined: bool = False
) -> Iterator[Path | Skipped]:
    """The files of ``source`` (a file or a folder) with one of ``extensions``, in name
    order, and a ``Skipped`` for each folder or link that cannot be walked (or, when
    ``confined``, that leads out of ``source``)."""
    if source.is_dir():
        root = source.resolve()
        yield from _walk_dir(source, extensions, (root,), root, set(), confined)
    else:
        yield source


def _walk_dir(
    folder: Path,
    extensions: tuple[str, ...],
    ancestors: tuple[Path, ...],
    root: Path,
    walked: set[Path],
    confined: bool,
) -> Iterator[Path | Skipped]:
    walked.add(ancestors[-1])
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as err:
        yield Skipped(str(folder), f"cannot read folder: {err.strerror or err}")
        return
    for entry in entries:
        if _hidden(entry.name):
            continue
        path = folder / entry.name
        suffix = path.suffix.lower()
        if entry.is_symlink():
            problem = _link_problem(path)
            if problem:
                if suffix in extensions or not suffix:  # possibly ours: a file or a folder
                    yield Skipped(str(path), problem)
                continue
        try:
            is_dir = entry.is_dir()
        except OSError as err:
            yield Skipped(str(path), f"cannot read: {err.strerror or err}")
            continue
        if is_dir:
            real = path.resolve()
            if real in ancestors:
                yield Skipped(str(path), "symbolic link loop (links to a folder above it)")
            elif entry.is_symlink() and (real in walked or real.is_relative_to(root)):
                yield Skipped(str(path), "link to a folder read through another path")
            elif confined and not real.is_relative_to(root):
                yield Skipped(str(path), OUTSIDE)
            else:
                yield from _walk_dir(path, extensions, (*ancestors, real), root, walked, confined)
        elif suffix in extensions:
            if confined and not path.resolve().is_relative_to(root):
                yield Skipped(str(path), OUTSIDE)
            else:
                yield path
