"""Uploaded files: a safe name, a size check, a copy into ``<index_dir>/uploads/``.

The accepted extensions are the loaders' (``ancre.index.EXTENSIONS``), so what the page
takes is exactly what the index can read. Nothing is ever written outside the uploads
folder, whatever the file's name.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

from ancre.index import EXTENSIONS

MAX_UPLOAD_MB = 20.0
UPLOADS = "uploads"
MAX_NAME_CHARS = 100


class UploadRefused(ValueError):
    """A file the index tab does not take; the message says why."""


def sanitize_filename(name: str) -> str:
    """A safe file name for ``name`` (any path dropped, ASCII letters, digits, '.', '-', '_'),
    keeping an allowed extension; UploadRefused otherwise."""
    base = re.split(r"[\\/]", str(name or ""))[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ext = "." + ext.lower() if ext else ""
    if ext not in EXTENSIONS:
        raise UploadRefused(
            f"{name}: extension {ext or '(aucune)'} refusée ; acceptées : " + " ".join(EXTENSIONS)
        )
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem)
    stem = re.sub(r"-{2,}", "-", stem).strip(".-_ ")[: MAX_NAME_CHARS - len(ext)]
    return (stem or "document") + ext


def uploads_dir(index_dir: str | Path) -> Path:
    return Path(index_dir).expanduser() / UPLOADS


def store_upload(
    src: str | Path,
    index_dir: str | Path,
    original_name: str | None = None,
    max_mb: float = MAX_UPLOAD_MB,
) -> Path:
    """Copy an uploaded file into ``<index_dir>/uploads/`` under a sanitised name (an existing
    file of that name is replaced: a new version of the article). Never writes elsewhere."""
    src = Path(src)
    name = sanitize_filename(original_name or src.name)
    size = src.stat().st_size
    if size > max_mb * 1024 * 1024:
        raise UploadRefused(
            f"{original_name or src.name}: {size / 1e6:.1f} Mo, au-delà de la "
            f"limite de {max_mb:g} Mo par fichier"
        )
    if size == 0:
        raise UploadRefused(f"{original_name or src.name}: fichier vide")
    folder = uploads_dir(index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = (folder / name).resolve()
    if target.parent != folder.resolve():  # cannot happen after sanitising; belt and braces
        raise UploadRefused(f"{original_name or src.name}: nom de fichier refusé")
    tmp = target.with_name(f".{target.name}.part")
    shutil.copyfile(src, tmp)
    tmp.replace(target)
    return target
