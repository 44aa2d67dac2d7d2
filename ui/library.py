"""The Index tab as a document library, without the page (no gradio import).

Uploads are indexed as soon as they arrive, and each file gets a status: added, updated,
already indexed, or refused with a reason in the page's language. A file named like a
different indexed document can be held while the page asks whether it replaces that
document (« mis à jour ») or is kept beside it. A refused file is deleted
from ``uploads/`` (so it is reported once, not at every build). A server folder can be
indexed only when the operator named it with ``--allow-dir``. Removing a document names it.
Messages never show a server path.
"""

from __future__ import annotations

import filecmp
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ancre.index import Embedder, IndexSettings, fold

from .i18n import count, counted, date, t, timestamp
from .render import NEW_TAB, esc, file_name, safe_url
from .uploads import (
    MAX_UPLOAD_MB,
    UploadRefused,
    checked_size,
    copy_over,
    held,
    hold,
    reason_key,
    release,
    sanitize_filename,
    store_upload,
    uploads_dir,
)

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
SAMPLE_QUESTION = re.compile(r"^\| \d+ \| (.+?) \| .+? \| `articles/([^`]+)`", re.MULTILINE)
EXAMPLES = 3
SameName = Literal["beside", "ask"]
"""What an upload named like a different indexed document does: go beside it, or wait for
the user's choice (``Library.decide``)."""
Choice = Literal["replace", "keep", "cancel"]


@dataclass(frozen=True)
class FileStatus:
    """What became of one file: ``state`` is added, updated, unchanged, refused, same_name
    (held under ``held`` until the user decides) or cancelled; ``key`` and ``values`` give
    the page's text for it."""

    name: str
    state: str
    key: str
    values: tuple[tuple[str, Any], ...] = ()
    held: str = ""

    def text(self, lang: str) -> str:
        values = dict(self.values)
        if isinstance(values.get("passages"), int):
            values["passages"] = counted(values["passages"], "passages", lang)
        return t(lang, self.key, **values)


class Library:
    """Reads and changes the index for the page; one build at a time."""

    def __init__(
        self,
        index_settings: IndexSettings,
        *,
        embedder: Embedder | None = None,
        allow_dirs: Sequence[str | Path] = (),
        max_upload_mb: float = MAX_UPLOAD_MB,
        allow_private_urls: bool = False,
    ):
        self.index_settings = index_settings
        self.embedder = embedder
        self.allow_dirs = [Path(d).expanduser().resolve() for d in allow_dirs]
        self.max_upload_mb = max_upload_mb
        self.allow_private_urls = allow_private_urls
        self._lock = threading.Lock()

    # ---- reading
    def documents(self, query: str = "") -> list[dict[str, Any]]:
        """The indexed documents, newest first; with ``query``, those whose title, date,
        URL or name contains it (accents and case ignored)."""
        from ancre.index import StoreError, open_reader

        try:
            with open_reader(self.index_settings) as reader:
                docs = reader.documents()
        except StoreError:
            return []
        needle = fold(query.strip().lower())
        if needle:
            docs = [
                d
                for d in docs
                if needle
                in fold(
                    " ".join(
                        str(d.get(k) or "") for k in ("title", "date", "url", "doc_id")
                    ).lower()
                )
            ]
        return sorted(docs, key=lambda d: (d.get("date") or "", d.get("title") or ""), reverse=True)

    def summary(self) -> tuple[int, int, str]:
        """(documents, passages, date of the last change)."""
        from ancre.index import StoreError, open_reader

        try:
            with open_reader(self.index_settings) as reader:
                stats = reader.stats()
        except StoreError:
            return 0, 0, ""
        return stats.get("documents", 0), stats.get("chunks", 0), str(stats.get("built_at", ""))

    def examples(self) -> list[str]:
        """Questions to try: the sample corpus's own questions when its articles are indexed,
        else none. Questions made up from a library's titles (« De quoi parle … ? ») are the
        kind the short-answer reader does worst: a bad first answer is worse than none."""
        from ancre.samples import ARTICLES

        docs = self.documents()
        names = {Path(d.get("source") or "").name for d in docs}
        table = ARTICLES.parent / "QUESTIONS.md"
        found = []
        if table.is_file():
            for question, article in SAMPLE_QUESTION.findall(table.read_text(encoding="utf-8")):
                if article in names and not question.startswith("Et "):
                    found.append(question.strip())
        return found[:EXAMPLES]

    def folders(self) -> list[str]:
        """The folders the page may index (named by the operator with ``--allow-dir``)."""
        return [d.name or str(d) for d in self.allow_dirs]

    # ---- changing
    def add_files(
        self,
        paths: Sequence[str | Path],
        progress: Progress | None = None,
        *,
        same_name: SameName = "beside",
    ) -> list[FileStatus]:
        """Store uploaded files and index them at once; one status per file. With
        ``same_name="ask"``, a file named like a different indexed document is held instead
        (state ``same_name``) for ``decide``."""
        statuses: list[FileStatus] = []
        stored: dict[Path, str] = {}
        taken = self._names_taken() if same_name == "ask" else {}
        for p in paths:
            src = Path(p)
            try:
                name = sanitize_filename(src.name)
                checked_size(src, self.max_upload_mb)
                if taken.get(name.lower()) and not self._identical_indexed(src):
                    token = hold(src, self.index_settings.index_dir, name)
                    statuses.append(
                        FileStatus(src.name, "same_name", "status_same_name", held=token)
                    )
                    continue
                stored[
                    store_upload(src, self.index_settings.index_dir, max_mb=self.max_upload_mb)
                ] = src.name
            except UploadRefused as err:
                statuses.append(FileStatus(src.name, "refused", err.key, tuple(err.values.items())))
            except OSError:
                statuses.append(FileStatus(src.name, "refused", "reason_unreadable"))
        if stored:
            statuses += self._index(stored, progress, discard=True)
        return statuses

    def decide(
        self, waiting: Sequence[FileStatus], choice: Choice, progress: Progress | None = None
    ) -> list[FileStatus]:
        """What the user chose for files held by ``add_files``: ``replace`` the indexed
        document of that name (its upload is rewritten in place; a document from elsewhere,
        a sample say, is removed and the new file indexed: « mis à jour »), ``keep`` both
        (the new one beside it, « -2 »), or ``cancel`` (nothing added). When the new file
        cannot be indexed, the old document is kept or put back: nothing indexed is lost."""
        from ancre.index import BuildLocked

        index_dir = self.index_settings.index_dir
        files: dict[Path, str] = {}
        olds: dict[str, list[dict[str, Any]]] = {}
        before: dict[str, tuple[Path, bytes]] = {}
        statuses: list[FileStatus] = []
        taken = self._names_taken()
        up = uploads_dir(index_dir).resolve()
        try:
            for status in waiting:
                path = held(index_dir, status.held)
                if path is None:
                    statuses.append(FileStatus(status.name, "refused", "reason_unreadable"))
                elif choice == "cancel":
                    statuses.append(FileStatus(status.name, "cancelled", "status_cancelled"))
                elif choice == "keep":
                    target = store_upload(path, index_dir, max_mb=self.max_upload_mb)
                    files[target] = status.name
                else:
                    same = taken.get(path.name.lower(), [])
                    mine = [d for d in same if Path(d["source"]).resolve().parent == up][:1]
                    if mine:
                        target = Path(mine[0]["source"]).resolve()
                        before[status.name] = (target, target.read_bytes())
                        copy_over(path, target)
                    else:
                        target = store_upload(path, index_dir, max_mb=self.max_upload_mb)
                    files[target] = status.name
                    olds[status.name] = [d for d in same if d not in mine]
            for doc in (d for docs in olds.values() for d in docs):
                self.remove(doc["doc_id"])  # first: the new version may be a near copy of it
        except BuildLocked:
            statuses += self._refused(files, "busy", discard=True)
            files = {}
        finally:
            for status in waiting:
                release(index_dir, status.held)
        if files:
            statuses += self._index(files, progress, discard=True)
        return [self._replaced(s, olds.get(s.name), before.get(s.name)) for s in statuses]

    def _replaced(
        self,
        status: FileStatus,
        olds: list[dict[str, Any]] | None,
        before: tuple[Path, bytes] | None,
    ) -> FileStatus:
        """``status`` of a file that replaced ``olds`` (``before``: the upload it rewrote and
        its former bytes): « mis à jour », or the old version put back when the new file
        was not indexed."""
        if olds is None:
            return status
        if status.state in ("added", "updated"):
            return FileStatus(status.name, "updated", "status_updated", status.values)
        from ancre import index

        if before is not None:
            before[0].write_bytes(before[1])
        sources = sorted({str(d["source"]) for d in olds if Path(str(d["source"])).is_file()})
        try:
            if sources:
                with self._lock:
                    index.build(sources, settings=self.index_settings, embedder=self.embedder)
        except (index.BuildLocked, index.StoreError, OSError, ValueError, RuntimeError):
            log.exception("putting back %s failed", ", ".join(sources))
        return status

    def _names_taken(self) -> dict[str, list[dict[str, Any]]]:
        """The indexed documents read from a file, by their file's safe name (lower case)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for d in self.documents():
            source = str(d.get("source") or "")
            if not source or re.match(r"(?i)^https?://", source):
                continue
            try:
                name = sanitize_filename(Path(source).name)
            except UploadRefused:
                continue
            out.setdefault(name.lower(), []).append(d)
        return out

    def _identical_indexed(self, src: Path) -> bool:
        """Whether a file with exactly ``src``'s bytes is indexed already (the build then
        says unchanged, or refuses a duplicate: nothing to ask)."""
        size = src.stat().st_size
        for d in self.documents():
            other = Path(str(d.get("source") or ""))
            try:
                if other.is_file() and other.stat().st_size == size and filecmp.cmp(src, other):
                    return True
            except OSError:
                continue
        return False

    def add_url(self, url: str, progress: Progress | None = None) -> list[FileStatus]:
        """Index a feed's entries or a page from its URL: http(s) only, and not this
        machine's or its private network's addresses unless the server allows them."""
        from ancre import index
        from ancre.index.fetch import FetchError, check_url

        url = (url or "").strip()
        try:
            check_url(url, public_only=not self.allow_private_urls)
        except FetchError as err:
            if err.kind != "other":
                return [FileStatus(url, "refused", f"url_{err.kind}")]
            return [FileStatus(url, "refused", "url_refused", (("reason", str(err)),))]
        if not self._lock.acquire(blocking=False):
            return [FileStatus("", "refused", "busy")]
        try:
            if progress:
                progress(0.05, "indexing")
            report = index.build(
                [url],
                settings=self.index_settings,
                embedder=self.embedder,
                public_only=not self.allow_private_urls,
            )
        except index.BuildLocked:
            return [FileStatus("", "refused", "busy")]
        except (index.StoreError, OSError, ValueError, RuntimeError):
            log.exception("build failed")
            return [FileStatus("", "refused", "build_failed")]
        finally:
            self._lock.release()
        if progress:
            progress(1.0, "done")
        out = [
            FileStatus(s.path, "refused", "url_refused", (("reason", s.reason),))
            for s in report.skipped
        ]
        changed = report.added + report.updated
        values = (
            ("added", report.added),
            ("updated", report.updated),
            ("unchanged", report.unchanged),
        )
        if changed or report.unchanged or not out:
            state = "added" if changed else "unchanged"
            out.insert(0, FileStatus(url, state, "status_url", values))
        return out

    def add_folder(self, choice: int, progress: Progress | None = None) -> list[FileStatus]:
        """Index allowed folder number ``choice``; files are named relative to it. The walk
        is confined to the folder: a file that a link leads to outside it is refused."""
        if not 0 <= choice < len(self.allow_dirs):
            return [FileStatus("", "refused", "folder_refused")]
        folder = self.allow_dirs[choice]
        if not folder.is_dir():
            return [FileStatus(folder.name, "refused", "folder_missing")]
        from ancre.index import EXTENSIONS

        files = {
            p.resolve(): p.relative_to(folder).as_posix()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
            and p.suffix.lower() in EXTENSIONS
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        }
        return self._index(files, progress, discard=False, root=folder)

    def _index(
        self,
        files: dict[Path, str],
        progress: Progress | None,
        *,
        discard: bool,
        root: Path | None = None,
    ) -> list[FileStatus]:
        from ancre import index

        if not self._lock.acquire(blocking=False):
            return self._refused(files, "busy", discard)
        try:
            if progress:
                progress(0.05, "indexing")
            before = {d["doc_id"]: d for d in self.documents()}
            try:
                report = index.build(
                    [root] if root else list(files),
                    settings=self.index_settings,
                    embedder=self.embedder,
                    confined=True,
                    stand_ins=[],  # an upload identical to a sample is refused, not swapped in
                )
            except index.BuildLocked:
                return self._refused(files, "busy", discard)
            except (index.StoreError, OSError, ValueError, RuntimeError):
                log.exception("build failed")
                return self._refused(files, "build_failed", discard)
            after = self.documents()
        finally:
            self._lock.release()
        if progress:
            progress(1.0, "done")
        skipped: dict[Path, str] = {}
        for s in report.skipped:
            skipped.setdefault(Path(s.path).resolve(), s.reason)
        by_file: dict[Path, list[dict[str, Any]]] = {}
        for d in after:
            by_file.setdefault(Path(d.get("source") or "").resolve(), []).append(d)
        out = []
        for path, name in files.items():
            docs = by_file.get(path, [])
            if not docs:
                key, values = reason_key(skipped.get(path, ""))
                if path not in skipped and report.near_copies:
                    key, values = "reason_near_copy", {}
                if discard:
                    path.unlink(missing_ok=True)
                out.append(FileStatus(name, "refused", key, tuple(values.items())))
                continue
            passages = sum(int(d.get("n_chunks") or 0) for d in docs)
            if any(d["doc_id"] not in before for d in docs):
                state = "added"
            elif any(before[d["doc_id"]].get("indexed_at") != d.get("indexed_at") for d in docs):
                state = "updated"
            else:
                state = "unchanged"
            out.append(FileStatus(name, state, f"status_{state}", (("passages", passages),)))
        for s in report.skipped if root else ():  # what the walk refused (a link out, say)
            raw = Path(s.path)
            if raw.is_absolute() and raw.is_relative_to(root) and raw.resolve() not in files:
                key, values = reason_key(s.reason)
                out.append(
                    FileStatus(
                        raw.relative_to(root).as_posix(), "refused", key, tuple(values.items())
                    )
                )
        return out

    def _refused(self, files: dict[Path, str], key: str, discard: bool) -> list[FileStatus]:
        """Every file refused with ``key`` (another build holds the index, say); uploads
        that no indexed document comes from are not kept."""
        if discard:
            sources = {Path(d.get("source") or "").resolve() for d in self.documents()}
            for path in files:
                if path.resolve() not in sources:
                    path.unlink(missing_ok=True)
        return [FileStatus(name, "refused", key) for name in files.values()]

    def remove(self, doc_id: str) -> str | None:
        """Remove one document (and its uploaded file once nothing of it is left); its title,
        or None when it is not in the index."""
        from ancre import index

        docs = self.documents()
        doc = next((d for d in docs if d["doc_id"] == doc_id), None)
        if doc is None:
            return None
        with self._lock:
            removed, _missing = index.remove(
                [doc_id], settings=self.index_settings, embedder=self.embedder
            )
        if not removed:
            return None
        source = Path(doc.get("source") or "").resolve()
        up = uploads_dir(self.index_settings.index_dir).resolve()
        left = [
            d
            for d in docs
            if d["doc_id"] != doc_id and Path(d.get("source") or "").resolve() == source
        ]
        if source.parent == up and not left and source.is_file():
            source.unlink()
        return doc.get("title") or file_name(doc_id)


# ---------------------------------------------------------------- the tab's HTML


def render_statuses(statuses: list[FileStatus], lang: str) -> str:
    """One line per file: its name and what became of it."""
    if not statuses:
        return ""
    rows = "".join(
        f'<li class="ancre-status ancre-status-{esc(s.state)}">'
        + (f'<span class="ancre-status-name">{esc(file_name(s.name))}</span> ' if s.name else "")
        + (
            f"{esc(t(lang, 'status_refused', reason=s.text(lang)))}"
            if s.state == "refused" and s.key.startswith("reason_")
            else esc(s.text(lang))
        )
        + "</li>"
        for s in statuses
    )
    return f'<ul class="ancre-statuses">{rows}</ul>'


def render_documents(docs: list[dict[str, Any]], lang: str, query: str = "") -> str:
    """The library: one row per document, each with its Remove button."""
    if not docs:
        key = "no_match" if query.strip() else "no_documents"
        values = {"query": query.strip()} if query.strip() else {}
        return f'<p class="ancre-library-empty">{esc(t(lang, key, **values))}</p>'
    head = "".join(
        f"<th>{esc(t(lang, k))}</th>"
        for k in ("col_title", "col_date", "col_source", "col_passages", "col_added")
    )
    rows = []
    for d in docs:
        url = safe_url(d.get("url") or "")
        title = esc(d.get("title") or file_name(d["doc_id"]))
        if url:
            title = f'<a href="{esc(url)}" {NEW_TAB}>{title}</a>'
        source = (
            re.sub(r"^https?://(www\.)?", "", url).split("/")[0] if url else file_name(d["doc_id"])
        )
        added = timestamp(float(d["indexed_at"]), lang) if d.get("indexed_at") else ""
        rows.append(
            f'<tr data-doc="{esc(d["doc_id"])}"><td class="ancre-doc-title">{title}</td>'
            f"<td>{esc(date(d.get('date') or '', lang))}</td><td>{esc(source)}</td>"
            f'<td class="ancre-num">{esc(count(int(d.get("n_chunks") or 0), lang))}</td>'
            f"<td>{esc(added)}</td>"
            f'<td><button type="button" class="ancre-remove" data-doc="{esc(d["doc_id"])}">'
            f"{esc(t(lang, 'remove'))}</button></td></tr>"
        )
    return (
        f'<table class="ancre-library"><thead><tr>{head}<th></th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
