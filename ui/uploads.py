"""Uploaded files: a safe name, a size check, a copy into ``<index_dir>/uploads/``.

The accepted extensions are the loaders' (``ancre.index.EXTENSIONS``), so what the page takes
is exactly what the index can read. Nothing is written outside the uploads folder, whatever
the file's name, and an upload never replaces another file: a different file of the same
name is stored beside it, unless the user chose to replace it. A file whose name is taken by
a different indexed document can be held (``uploads/.pending/<token>/``, out of the index's
walk) while the page asks which to keep. Refusals carry a text key, so the page says why in
its language (never with a server path).
"""

from __future__ import annotations

import contextlib
import filecmp
import re
import secrets
import shutil
import time
import unicodedata
from pathlib import Path

from ancre.index import EXTENSIONS

MAX_UPLOAD_MB = 20.0
UPLOADS = "uploads"
PENDING = ".pending"
MAX_NAME_CHARS = 100
HELD_FOR_S = 24 * 3600.0
"""Files held for a decision that never came are deleted after this long."""
TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class UploadRefused(ValueError):
    """A file the Index tab does not take: ``key`` and ``values`` name the reason among the
    page's texts."""

    def __init__(self, key: str, **values: object):
        super().__init__(f"{key} {values}" if values else key)
        self.key = key
        self.values = values


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
        raise UploadRefused("reason_extension", extensions=" ".join(EXTENSIONS))
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
    """Copy an uploaded file into ``<index_dir>/uploads/`` under a sanitised name. The same
    file uploaded again lands on its earlier copy; a different file of the same name gets
    ``-2``, ``-3``... Never writes elsewhere."""
    src = Path(src)
    name = sanitize_filename(original_name or src.name)
    checked_size(src, max_mb)
    folder = uploads_dir(index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem, ext = name[: -len(Path(name).suffix)], Path(name).suffix
    for n in range(1, 1000):
        target = (folder / (name if n == 1 else f"{stem}-{n}{ext}")).resolve()
        if target.parent != folder.resolve():  # cannot happen after sanitising
            raise UploadRefused("reason_unreadable")
        if not target.exists():
            break
        if filecmp.cmp(src, target, shallow=False):
            return target
    else:
        raise UploadRefused("reason_unreadable")
    return copy_over(src, target)


def copy_over(src: str | Path, target: Path) -> Path:
    """Copy ``src`` to ``target`` through a temporary file, so that a reader never sees half
    a file (``target`` is replaced when it exists)."""
    tmp = target.with_name(f".{target.name}.part")
    shutil.copyfile(src, tmp)
    tmp.replace(target)
    return target


def checked_size(src: Path, max_mb: float) -> None:
    """UploadRefused for a file too big or empty."""
    size = src.stat().st_size
    if size > max_mb * 1024 * 1024:
        raise UploadRefused("reason_too_big", size=f"{size / 1e6:.1f}", max=f"{max_mb:g}")
    if size == 0:
        raise UploadRefused("reason_empty")


def hold(src: str | Path, index_dir: str | Path, name: str) -> str:
    """Keep a copy of ``src`` named ``name`` (already sanitised) until the user decides what
    to do with it; the token that finds it again. Copies held for too long are deleted."""
    pending = uploads_dir(index_dir) / PENDING
    if pending.is_dir():
        for old in pending.iterdir():
            if time.time() - old.stat().st_mtime > HELD_FOR_S:
                shutil.rmtree(old, ignore_errors=True)
    token = secrets.token_urlsafe(12)
    folder = pending / token
    folder.mkdir(parents=True)
    copy_over(src, folder / sanitize_filename(name))
    return token


def held(index_dir: str | Path, token: str) -> Path | None:
    """The file held under ``token``, or None (unknown or malformed token)."""
    if not TOKEN.match(token or ""):
        return None
    folder = uploads_dir(index_dir) / PENDING / token
    found = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    return found[0] if len(found) == 1 else None


def release(index_dir: str | Path, token: str) -> None:
    """Delete what is held under ``token``."""
    if TOKEN.match(token or ""):
        pending = uploads_dir(index_dir) / PENDING
        shutil.rmtree(pending / token, ignore_errors=True)
        with contextlib.suppress(OSError):  # once nothing else waits
            pending.rmdir()


REASONS = (
    ("unsupported extension", "reason_extension"),
    ("MB limit", "reason_too_big_file"),
    ("empty file", "reason_empty"),
    ("binary content", "reason_binary"),
    ("encoding", "reason_encoding"),
    ("no text found", "reason_no_text"),
    ("PDF has no text", "reason_pdf"),
    ("unreadable PDF", "reason_format"),
    ("JSON", "reason_format"),
    ("field", "reason_format"),
    ("duplicate", "reason_duplicate"),
    ("out of the folder", "reason_outside"),
)


def reason_key(reason: str) -> tuple[str, dict[str, object]]:
    """The page's text for a loader's refusal (its English reason may hold a server path,
    so it is never shown as is)."""
    for needle, key in REASONS:
        if needle in reason:
            if key == "reason_extension":
                return key, {"extensions": " ".join(EXTENSIONS)}
            return key, {}
    return "reason_unreadable", {}


def discard_received(paths: list) -> None:
    """Delete the copies Gradio keeps of uploaded files (``/tmp/gradio/<hash>/<name>``, and
    its folder once empty) as soon as they are indexed or refused: kept, any logged-in user
    could fetch them by path for an hour, refused files included."""
    for p in paths:
        path = Path(str(p))
        try:
            path.unlink(missing_ok=True)
            path.parent.rmdir()
        except OSError:  # the folder holds another upload, or is already gone
            pass
