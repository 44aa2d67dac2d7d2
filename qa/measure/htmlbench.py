"""``ancre bench --html CORPUS_DIR``: how well web pages become articles, on a corpus laid
out like trafilatura's evaluation corpus (``evaldata.json`` naming, for each page, its file
under ``cache/`` or ``eval/``, strings its article must contain, ``with``, and boilerplate
strings it must not, ``without``).

Counted the way that corpus's own scorer counts: a string is found when it is a substring
of the text, whitespace runs made single spaces; precision, recall and F1 over all strings;
boilerplate kept is the share of ``without`` strings found; a page refused is one whose text
comes out empty (``ancre index build`` skips it). Both of ancre's readers run on every page
in the same process, page by page, so that their pages per second compare.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Reader = Callable[[bytes], str]


@dataclass
class Scores:
    name: str
    found: int = 0
    missed: int = 0
    kept: int = 0
    dropped: int = 0
    refused: list[str] = field(default_factory=list)
    seconds: float = 0.0
    pages: int = 0

    @property
    def precision(self) -> float:
        return self.found / (self.found + self.kept) if self.found + self.kept else 0.0

    @property
    def recall(self) -> float:
        return self.found / (self.found + self.missed) if self.found + self.missed else 0.0

    @property
    def f1(self) -> float:
        denom = 2 * self.found + self.kept + self.missed
        return 2 * self.found / denom if denom else 0.0

    @property
    def boilerplate_kept(self) -> float:
        return self.kept / (self.kept + self.dropped) if self.kept + self.dropped else 0.0

    def row(self) -> dict[str, Any]:
        return {
            "reader": self.name,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "boilerplate_kept": round(self.boilerplate_kept, 4),
            "refused": len(self.refused),
            "pages_per_s": round(self.pages / self.seconds, 2) if self.seconds else None,
        }


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def count(scores: Scores, text: str, item: dict[str, Any]) -> None:
    """Add one page's strings found and missed to ``scores``."""
    squeezed = _squeeze(text)
    found = sum(_squeeze(s) in squeezed for s in item["with"])
    kept = sum(_squeeze(s) in squeezed for s in item["without"])
    scores.found += found
    scores.missed += len(item["with"]) - found
    scores.kept += kept
    scores.dropped += len(item["without"]) - kept


def load_corpus(folder: Path) -> list[tuple[str, bytes, dict[str, Any]]]:
    """(name, bytes, annotations) of every page, in name order."""
    listing = folder / "evaldata.json"
    if not listing.is_file():
        raise ValueError(f"{folder}: no evaldata.json (expected trafilatura's tests/ layout)")
    data = json.loads(listing.read_text("utf-8"))
    pages = []
    for name in sorted(data):
        item = data[name]
        for sub in ("cache", "eval"):
            path = folder / sub / str(item.get("file", ""))
            if item.get("file") and path.is_file():
                pages.append((name, path.read_bytes(), item))
                break
        else:
            raise ValueError(f"{listing}: {name}: file {item.get('file')!r} not found")
    return pages


def readers() -> dict[str, Reader]:
    """ancre's reader of web pages, and the one it replaced (``htmltext`` alone)."""
    from ancre.index.decode import decode
    from ancre.index.htmltext import read_html
    from ancre.index.loaders import normalize_text
    from ancre.index.webpage import read_article

    return {
        "ancre (webpage: trafilatura, htmltext fallback)": lambda data: normalize_text(
            read_article(decode(data)).text
        ),
        "htmltext alone (before)": lambda data: normalize_text(read_html(decode(data)).text),
    }


def bench_html(
    folder: str | Path, show: Callable[[str], None] = print, limit: int | None = None
) -> list[dict[str, Any]]:
    """Score each reader on the corpus in ``folder``; one row per reader."""
    pages = load_corpus(Path(folder).expanduser())[:limit]
    chosen = readers()
    table = [Scores(name) for name in chosen]
    for name, data, item in pages:  # page by page, so that a busy machine slows both alike
        for scores, read in zip(table, chosen.values(), strict=True):
            t0 = time.perf_counter()
            try:
                text = read(data)
            except Exception:  # a reader that fails on a page refuses it
                text = ""
            scores.seconds += time.perf_counter() - t0
            scores.pages += 1
            if not text:
                scores.refused.append(name)
            count(scores, text, item)
    rows = [s.row() for s in table]
    show(f"{len(pages)} pages of {folder}")
    show("| reader | precision | recall | F1 | boilerplate kept | refused | pages/s |")
    show("|---|---|---|---|---|---|---|")
    for r in rows:
        show(
            f"| {r['reader']} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.4f} "
            f"| {r['boilerplate_kept']:.3f} | {r['refused']} | {r['pages_per_s']} |"
        )
    for s in table:
        for name in s.refused:
            show(f"refused by {s.name}: {name}")
    return rows
