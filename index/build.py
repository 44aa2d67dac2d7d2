"""Build and update an index directory incrementally, without losing what it holds.

Unchanged documents (same content hash) are passed over without embedding, changed ones
replaced, exact duplicates skipped. A document only ever replaces the indexed one with its
id when it comes from the same file (or that file is gone): an id already used by another
file that still exists is reported, never overwritten. With ``prune``, documents under the
SOURCEs whose file is gone are removed (and records that left a file read in full); a file
that failed to load keeps its documents. Work is committed in batches as it is embedded (see
``writer``): an interrupted build keeps every batch committed before it stopped, and the
next build goes on from there.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .embed import Embedder
from .errors import StoreError
from .feeds import WebLimits, load_all
from .fetch import is_url
from .loaders import Document, Notice, Skipped, legacy_id, printable
from .nearcopies import NearCopies
from .settings import IndexSettings
from .stores import StoreWriter, is_milvus, open_writer

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[Notice] = field(default_factory=list)
    """Documents indexed with a doubt worth a look (an encoding guessed)."""
    chunks: int = 0
    """Chunks embedded by this build."""
    seconds: float = 0.0
    """Time the build took once it held the index (waiting for another build excluded)."""
    documents_total: int = 0
    chunks_total: int = 0
    reembedded: str = ""
    """Why every document was re-embedded (model or chunker changed), if it was."""
    rekeyed: int = 0
    """Documents of a format-1 index given their collision-free id (not re-embedded)."""
    renamed: int = 0
    """Documents whose file was renamed or moved: they took the new name (not re-embedded)."""
    commits: int = 0
    """Batches this build committed."""
    near_copies: int = 0
    """Documents not indexed because they are near-copies of an indexed one (kept as its
    alternate sources, ``nearcopies``)."""
    adopted: int = 0
    """Documents indexed from the bundled sample articles (``ancre chat``'s first run) that
    the same files found elsewhere took over (a checkout's ``samples/``; not re-embedded)."""
    gone: int = 0
    """Indexed files under the sources that no longer exist (still answered from until a
    build with ``prune`` removes them); 0 when this build pruned."""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["skipped"] = [str(s) for s in self.skipped]
        d["warnings"] = [str(w) for w in self.warnings]
        return d


def _real(path: str) -> str:
    """A path as ``Document.source`` writes it (absolute, links resolved, printable)."""
    try:
        return printable(str(Path(path).resolve()))
    except (OSError, RuntimeError):  # a link loop
        return printable(os.path.abspath(path))


def _gone(source: str) -> bool:
    """True only when the file is known not to exist (unreadable is not gone)."""
    try:
        os.lstat(source)
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False
    return False


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def bundled_samples() -> tuple[str, ...]:
    """The folder of the sample articles installed with ancre: its documents give way to
    the same files indexed from anywhere else (``stand_ins``)."""
    from ancre.samples import ARTICLES

    return (_real(str(ARTICLES)),)


def distinct(sources: list[str | Path]) -> list[str | Path]:
    """``sources`` without those named twice or inside another one (a folder given with its
    sub-folder): each file is read once."""
    reals = [None if is_url(s) else _real(str(Path(s).expanduser())) for s in sources]
    out = []
    for i, (source, real) in enumerate(zip(sources, reals, strict=True)):
        if real is not None and any(
            other is not None and _under(real, other) and (other != real or j < i)
            for j, other in enumerate(reals)
            if j != i
        ):
            continue
        out.append(source)
    return out


class _Plan:
    """What to do with each loaded document, given what the index holds."""

    def __init__(
        self,
        w: StoreWriter,
        report: BuildReport,
        copies: NearCopies | None = None,
        stand_ins: tuple[str, ...] = (),
    ):
        self.w, self.report, self.copies, self.stand_ins = w, report, copies, stand_ins
        self.known = w.known_sources()
        self.by_hash = {h: d for d, (h, _) in self.known.items()}
        self.seen: dict[str, str] = {}
        self.first: dict[str, str] = {}
        """Documents put by this build: id -> source (a later exact duplicate is skipped)."""
        self.loaded: set[str] = set()
        self.problems: set[str] = set()

    def skipped(self, item: Skipped) -> None:
        self.report.skipped.append(item)
        self.problems.add(_real(item.path))

    def document(self, doc: Document) -> None:
        r, digest = self.report, doc.hash
        self.loaded.add(doc.source)
        if doc.doc_id in self.seen:
            first = self.seen[doc.doc_id]
            r.skipped.append(Skipped(doc.source, f"duplicate id {doc.doc_id!r} (first in {first})"))
            return
        self.seen[doc.doc_id] = doc.source
        if doc.doc_id not in self.known and self.w.legacy_ids and self._legacy(doc, digest):
            return
        entry = self.known.get(doc.doc_id)
        if entry is not None and entry[0] == digest:
            r.unchanged += 1
            if self._stands_in(entry[1], doc) and self._adopt(doc.doc_id, doc):
                self.known[doc.doc_id] = (digest, doc.source)
            if self.copies is not None:
                self.copies.copy_of(doc, indexed=True)
            return
        if (
            entry is not None
            and _real(entry[1]) != doc.source
            and not _gone(entry[1])
            and not self._stands_in(entry[1], doc)
        ):
            r.skipped.append(
                Skipped(
                    doc.source,
                    f"id {doc.doc_id!r} is already used by {entry[1]}, which is still there: "
                    "not replaced (remove it first with `ancre index remove`)",
                )
            )
            return
        twin = self.by_hash.get(digest)
        if twin is not None and twin != doc.doc_id and twin in self.known:
            if entry is None and self._renamed(twin, doc):
                return
            r.skipped.append(Skipped(doc.source, f"exact duplicate of already indexed {twin!r}"))
            return
        if twin is not None and twin != doc.doc_id and twin in self.first:
            first = self.first[twin]
            r.skipped.append(Skipped(doc.source, f"exact duplicate of {first} (same build)"))
            return
        if self.copies is not None and self.copies.copy_of(doc) is not None:
            if entry is not None:  # indexed before, now a copy of another: its alternate
                self.w.remove(doc.doc_id)
                r.removed += 1
            r.near_copies += 1
            return
        self._claim(doc)
        if entry is not None:
            r.updated += 1
        else:
            r.added += 1
        self.w.put(doc)

    def _claim(self, doc: Document) -> None:
        """``doc`` is in the index for this build: a later exact duplicate of it is skipped."""
        self.by_hash[doc.hash] = doc.doc_id
        self.first[doc.doc_id] = doc.source

    def _stands_in(self, source: str, doc: Document) -> bool:
        """Whether the indexed ``source`` is a bundled sample that ``doc``, the same
        content from a file elsewhere, takes over."""
        real = _real(source) if source else ""
        return any(_under(real, root) and not _under(doc.source, root) for root in self.stand_ins)

    def _adopt(self, doc_id: str, doc: Document) -> bool:
        """The document ``doc_id`` now comes from ``doc``'s file (same content: nothing is
        embedded). False where the store cannot re-key (it keeps the sample's source)."""
        try:
            self.w.rekey(doc_id, doc.doc_id, doc.source)
        except StoreError:
            return False
        self.report.adopted += 1
        return True

    def _renamed(self, twin: str, doc: Document) -> bool:
        """``doc`` is the indexed ``twin`` whose file is gone (renamed or moved), or a
        bundled sample: the document takes its new id and source, without embedding (a store
        that cannot re-key replaces a gone file's, keeps a sample's). False when the twin's
        file is still there (a true duplicate)."""
        source = self.known[twin][1]
        if twin in self.seen or not source:
            return False
        gone = _gone(source)
        if not gone and not (self._stands_in(source, doc) and self._adopt(twin, doc)):
            return False
        del self.known[twin]
        self._claim(doc)
        moved = True
        if gone:
            self.report.renamed += 1
            try:
                self.w.rekey(twin, doc.doc_id, doc.source)
            except StoreError:
                self.w.remove(twin)
                self.w.put(doc)
                moved = False
        if moved:
            self.known[doc.doc_id] = (doc.hash, doc.source)
            self.report.unchanged += 1
        if self.copies is not None:
            self.copies.forget([twin])
            self.copies.copy_of(doc, indexed=True)
        return True

    def _legacy(self, doc: Document, digest: str) -> bool:
        """A document indexed by a format-1 build under its bare path: give it its new id
        (same content: no embedding), or replace it if its own file changed."""
        old = legacy_id(doc.doc_id)
        entry = self.known.get(old) if old else None
        if entry is None or old in self.seen:
            return False
        same_file = _real(entry[1]) == doc.source
        if entry[0] != digest and not same_file:
            return False  # another document that had the same bare path
        del self.known[old]
        self.seen[old] = doc.source
        if entry[0] == digest:
            self.w.rekey(old, doc.doc_id, doc.source)
            self.known[doc.doc_id] = (digest, doc.source)
            self.report.rekeyed += 1
            self.report.unchanged += 1
        else:
            self.w.remove(old)
            self.w.put(doc)
            self.report.updated += 1
        self._claim(doc)
        return True

    def _unseen_under(self, sources: list[str | Path]) -> Iterator[tuple[str, str]]:
        """(doc_id, file) of the indexed documents under ``sources`` that this build did not
        meet."""
        roots = [_real(str(Path(s).expanduser())) for s in sources if Path(s).exists()]
        for doc_id, (_, source) in self.known.items():
            if doc_id in self.seen:
                continue
            path = source if os.path.isabs(source) else _real(source) if source else ""
            if path and any(_under(path, root) for root in roots):
                yield doc_id, path

    def gone(self, sources: list[str | Path]) -> set[str]:
        """The indexed files under ``sources`` that no longer exist."""
        return {path for _, path in self._unseen_under(sources) if _gone(path)}

    def prunable(self, sources: list[str | Path]) -> list[str]:
        """Indexed documents under ``sources`` whose file is gone, or which a file read in
        full no longer holds. Never those of a file or folder that failed to load."""
        out = []
        for doc_id, path in self._unseen_under(sources):
            if any(_under(path, bad) for bad in self.problems):
                continue  # failed to load this time: keep what was indexed
            if path in self.loaded or _gone(path):
                out.append(doc_id)
        return out


def build(
    sources: list[str | Path],
    index_dir: str | Path | None = None,
    *,
    settings: IndexSettings | None = None,
    embedder: Embedder | None = None,
    prune: bool = False,
    rebuild: bool = False,
    progress: bool = False,
    wait: float = 0.0,
    public_only: bool = False,
    confined: bool = False,
    stand_ins: list[str | Path] | None = None,
) -> BuildReport:
    """Index the documents under ``sources`` into ``index_dir`` (a directory or a
    ``milvus://`` URI; else the store ``settings`` name, else ``ANCRE_STORE`` /
    ``ANCRE_INDEX_DIR``); see the module docstring. ``embedder`` replaces the model the
    settings name (tests pass a fake); ``public_only`` refuses URLs of this machine or its
    private network and ``confined`` refuses files that a symbolic link leads to outside
    a folder named (both for the chat server's sources). Documents indexed from a folder of
    ``stand_ins`` (default: the bundled sample articles) are taken over by the same content
    found elsewhere, as one set of documents. ``FileNotFoundError`` when none of the
    ``sources`` exists (a mistyped folder: nothing is created)."""
    missing = [s for s in sources if not is_url(s) and not os.path.lexists(Path(s).expanduser())]
    if sources and len(missing) == len(sources):
        names = ", ".join(str(m) for m in missing)
        raise FileNotFoundError(f"nothing to index: no such file or folder: {names}")
    settings = _settings(settings, index_dir)
    report = BuildReport()
    with open_writer(
        settings, embedder=embedder, wait=wait, rebuild=rebuild, progress=progress
    ) as w:
        t0 = time.perf_counter()  # the lock is held: waiting for it is not build time
        report.reembedded = w.reembed_reason
        if w.reembed_reason:
            log.info("re-embedding every document: %s", w.reembed_reason)
            report.chunks += w.reembed(progress)
        copies = None
        if not is_milvus(settings.store):
            copies = NearCopies(settings.index_dir, w.known_sources())
        roots = bundled_samples() if stand_ins is None else tuple(_real(str(p)) for p in stand_ins)
        try:
            _build(w, report, copies, roots, sources, prune, settings, public_only, confined)
        except BaseException:
            if copies is not None:  # an open table would stay locked for the next build
                copies.abort()
            raise
        if copies is not None:
            copies.close()
        report.commits = w.commits
        report.documents_total, report.chunks_total = w.counts()
    report.seconds = time.perf_counter() - t0
    return report


def _build(
    w: StoreWriter,
    report: BuildReport,
    copies: NearCopies | None,
    roots: tuple[str, ...],
    sources: list[str | Path],
    prune: bool,
    settings: IndexSettings,
    public_only: bool,
    confined: bool,
) -> None:
    """Load every source, hand each document to the writer and commit as it goes."""
    plan = _Plan(w, report, copies, roots)
    limits = WebLimits(settings.fetch_timeout, int(settings.max_page_mb * 1e6), public_only)
    for item in load_all(distinct(sources), settings.max_file_mb, limits, confined=confined):
        if isinstance(item, Notice):
            report.warnings.append(item)
        elif isinstance(item, Skipped):
            plan.skipped(item)
        else:
            plan.document(item)
        if w.due():
            report.chunks += w.commit()
    if prune:
        pruned = plan.prunable(sources)
        for doc_id in pruned:
            w.remove(doc_id)
            report.removed += 1
        if copies is not None:
            copies.forget(pruned)
    else:
        report.gone = len(plan.gone(sources))
    report.chunks += w.commit()
    w.finished()


def remove(
    doc_ids: list[str],
    index_dir: str | Path | None = None,
    *,
    settings: IndexSettings | None = None,
    embedder: Embedder | None = None,
) -> tuple[list[str], list[str]]:
    """Remove documents by id, or every document of a file or folder named instead of an id;
    returns (removed ids, names that matched nothing)."""
    with open_writer(_settings(settings, index_dir), embedder=embedder) as w:
        known = w.known_sources()
        found, missing = [], []
        for name in doc_ids:
            if name in known:
                found.append(name)
                continue
            matches = []
            if os.path.exists(name):
                path = _real(name)
                matches = [d for d, (_, src) in known.items() if src and _under(_real(src), path)]
            found += [d for d in matches if d not in found]
            if not matches:
                missing.append(name)
        for d in found:
            w.remove(d)
        w.commit()
    return found, missing


def _settings(settings: IndexSettings | None, index_dir: str | Path | None) -> IndexSettings:
    settings = settings or IndexSettings.from_env()
    return settings if index_dir is None else settings.at(index_dir)
