"""How measurements are shown and kept: the table of ``ancre eval`` metrics, the summary and
the comparison of two runs, the ``Figures`` that ``ancre bench`` collects, the one value
formatter, the stats helpers, and the one writer of ``--json`` files.

Every figure is shown with how it was measured, so that a number never travels without its
definition.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# ---- stats and formatting


def free_port() -> int:
    """A TCP port free on the loopback address, for a server a bench starts."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation); None without values."""
    if not values:
        return None
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call of ``fn``."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def fmt(value: Any, unit: str = "") -> str:
    """A figure for a terminal: seconds under one as milliseconds, shares (no unit) with
    three decimals, other quantities with three significant digits."""
    if value is None:
        return "-"
    if not isinstance(value, float):
        return f"{value} {unit}".strip()
    if unit == "s":
        return f"{value * 1000:.1f} ms" if abs(value) < 1 else f"{value:.2f} s"
    if not unit:
        return f"{value:.3f}"
    return (f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}") + f" {unit}"


def fmt_delta(delta: float, unit: str = "") -> str:
    if isinstance(delta, int):
        return f"{delta:+d}"
    if unit == "s":
        return f"{delta * 1000:+.1f} ms" if abs(delta) < 1 else f"{delta:+.2f} s"
    return f"{delta:+.3f}"


def write_json(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented UTF-8 JSON (folders created); returns the path."""
    out = Path(path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    return out


# ---- ancre eval

METRICS: list[tuple[str, str, str, str]] = [
    # (summary key, label, how it is measured / over which questions, unit)
    ("questions", "questions", "", ""),
    ("answerable", "answerable", "", ""),
    ("unanswerable", "unanswerable", "", ""),
    ("errors", "errors", "questions refused by the answerer", ""),
    ("recall@1", "retrieval recall@1", "answerable; Retriever.search(q, 10)", ""),
    (
        "recall@5",
        "retrieval recall@5",
        "hit = passage of the gold doc containing a gold answer",
        "",
    ),
    ("recall@10", "retrieval recall@10", "", ""),
    ("mrr", "retrieval MRR@10", "", ""),
    (
        "answer_recall@1",
        "answer's first passage holds gold",
        "answerable; the passages the answer was made from",
        "",
    ),
    ("search_p50_s", "search latency p50", "one Retriever.search(q, 10) call", "s"),
    (
        "evidence_abstention",
        "predicted abstention (unanswerable)",
        "predicted: evidence score < abstain_threshold (no generation)",
        "",
    ),
    ("evidence_false_abstention", "predicted false abstention", "answerable; as above", ""),
    (
        "stated_share",
        "answers stating a short answer",
        "answers not abstained; Answer.short_answer not empty",
        "",
    ),
    (
        "stated_precision",
        "stated answers holding gold",
        "precision: answerable with a stated answer",
        "",
    ),
    (
        "stated_coverage",
        "stated answers: coverage",
        "answerable questions with a stated answer",
        "",
    ),
    (
        "stated_unanswerable",
        "unanswerable with a stated answer",
        "unanswerable questions",
        "",
    ),
    (
        "short_contains",
        "short answer contains a gold answer",
        "answerable; Answer.short_answer",
        "",
    ),
    (
        "confidence_ece",
        "confidence calibration (ECE)",
        "answers with a likely answer; 10 bins",
        "",
    ),
    ("confidence_brier", "confidence Brier score", "same answers", ""),
    ("short_words", "short answer length, mean", "stated short answers", "words"),
    ("answer_contains", "answer contains a gold answer", "answerable; whole answer text", ""),
    ("token_recall", "token recall of the gold answer", "answerable; best gold answer", ""),
    (
        "citation_precision",
        "citation precision",
        "answerable, not abstained; cited passage contains a gold answer",
        "",
    ),
    ("cited_share", "answers with >= 1 citation", "answers not abstained", ""),
    ("abstention", "abstention on unanswerable", "unanswerable questions", ""),
    ("false_abstention", "false abstention on answerable", "answerable questions", ""),
    ("latency_p50_s", "answer latency p50", "Answer.timings['total']", "s"),
    ("latency_p95_s", "answer latency p95", "", "s"),
    ("first_token_p50_s", "first token p50", "Answer.timings['first_token']", "s"),
]


def format_summary(summary: dict[str, Any], title: str = "") -> str:
    lines = [title] if title else []
    for key, label, how, unit in METRICS:
        if key in summary:
            lines.append(f"  {label:<34} {fmt(summary[key], unit):>10}   {how}".rstrip())
    if summary.get("modes"):
        modes = ", ".join(f"{m} {n}" for m, n in summary["modes"].items())
        lines.append(f"  {'answers by mode':<34} {modes}")
    if summary.get("reliability"):
        lines.append("  reliability of Answer.confidence (bin: answers, mean confidence, right):")
        lines += [
            f"    {b['from']:.1f}-{b['to']:.1f}: {b['answers']:>4}  {b['confidence']:.3f}"
            f"  {b['right']:.3f}"
            for b in summary["reliability"]
        ]
    return "\n".join(lines)


def eval_title(info: dict[str, Any], summary: dict[str, Any]) -> str:
    """The heading of an eval summary: what was asked, of which index."""
    idx = info.get("index") or {}
    where = info.get("store") or info.get("index_dir")
    what = (
        "retrieval only"
        if info.get("retrieval_only")
        else f"llm={info.get('llm')}, top_k={info.get('top_k')}"
    )
    return (
        f"ancre eval: {summary['questions']} questions ({summary['answerable']} answerable, "
        f"{summary['unanswerable']} unanswerable), {what}\n"
        f"index {where}: {idx.get('documents', '?')} documents, "
        f"{idx.get('chunks', '?')} chunks, {idx.get('embed_model', '?')} "
        f"({idx.get('embed_encoder') or 'fp32'})"
    )


def _status(row: dict[str, Any]) -> tuple[str, str]:
    """(retrieval status, answer status) of a row of a ``--json`` file."""
    rank = row.get("hit_rank")
    hit = (
        "-"
        if not row.get("answers") or not row.get("answerable")
        else (f"hit@{rank}" if rank else "miss")
    )
    if row.get("error"):
        answer = "error"
    elif row.get("mode") is None:
        answer = ""
    elif row.get("abstained"):
        answer = "abstained"
    elif not row.get("answerable"):
        answer = "answered"
    else:
        answer = "correct" if row.get("contains_answer") else "wrong"
    return hit, answer


def _hit_bucket(status: str) -> str:
    if status.startswith("hit@"):
        return "hit" if int(status[4:]) <= 5 else "miss"
    return status


def compare(a: dict[str, Any], b: dict[str, Any], name_a: str = "A", name_b: str = "B") -> str:
    """Two ``ancre eval --json`` outputs side by side, and the questions whose status
    changed (a retrieval hit within 5 gained or lost, or another answer status)."""
    sa, sb = a.get("summary", {}), b.get("summary", {})
    lines = [f"  {'metric':<34} {name_a[:14]:>14} {name_b[:14]:>14} {'delta':>10}"]
    for key, label, _how, unit in METRICS:
        if key not in sa and key not in sb:
            continue
        va, vb = sa.get(key), sb.get(key)
        both = isinstance(va, int | float) and isinstance(vb, int | float)
        delta = fmt_delta(vb - va, unit) if both else "-"
        lines.append(f"  {label:<34} {fmt(va, unit):>14} {fmt(vb, unit):>14} {delta:>10}")
    modes_a, modes_b = sa.get("modes") or {}, sb.get("modes") or {}
    for key in sorted(set(modes_a) | set(modes_b)):
        na, nb = modes_a.get(key, 0), modes_b.get(key, 0)
        lines.append(f"  {'mode ' + key:<34} {na:>14} {nb:>14} {nb - na:>+10d}")
    rows_a = {(r.get("file", ""), r["id"]): r for r in a.get("rows", [])}
    rows_b = {(r.get("file", ""), r["id"]): r for r in b.get("rows", [])}
    common = rows_a.keys() & rows_b.keys()
    changed = []
    for key in common:
        before, after = _status(rows_a[key]), _status(rows_b[key])
        hit_changed = _hit_bucket(before[0]) != _hit_bucket(after[0])
        answer_changed = bool(before[1] and after[1]) and before[1] != after[1]
        if hit_changed or answer_changed:
            changed.append((key, before, after, rows_b[key]["question"]))
    lines.append("")
    lines.append(
        f"{len(changed)} of {len(common)} common questions changed status "
        f"(retrieval hit within 5, or answer):"
    )
    for (_file, qid), before, after, question in sorted(changed):
        was = " ".join(x for x in before if x)
        now = " ".join(x for x in after if x)
        lines.append(f"  {qid}: {was} -> {now}  | {question[:70]}")
    only = len(rows_a.keys() ^ rows_b.keys())
    if only:
        lines.append(f"({only} questions are in only one of the two files)")
    return "\n".join(lines)


# ---- ancre bench


class Figures:
    """Figures collected by section (``data``, for ``--json``), each with its unit and how
    it was measured (``data["how"]``). ``echo`` receives each figure as a line as soon as
    it is measured (the CLI passes ``print``; a long bench shows progress)."""

    def __init__(self, echo: Callable[[str], None] | None = None):
        self.data: dict[str, Any] = {}
        self.echo = echo or (lambda line: None)
        self._section = ""

    def add(self, section: str, key: str, value: Any, unit: str, how: str) -> None:
        self.data.setdefault(section, {})[key] = value
        self.data.setdefault("how", {})[f"{section}.{key}"] = f"{unit}: {how}" if unit else how
        self._heading(section)
        self.echo(f"  {key:<34} {fmt(value, unit):>16}  {how}")

    def note(self, section: str, text: str) -> None:
        self.data.setdefault(section, {}).setdefault("notes", []).append(text)
        self._heading(section)
        self.echo(f"  ({text})")

    def _heading(self, section: str) -> None:
        if section != self._section:
            self.echo(f"[{section}]")
            self._section = section
