"""``ancre eval``: measure retrieval and answers on a question set.

Question files are JSON Lines (``id``, ``question``, ``answers``, ``doc_id``, ``answerable``)
or SQuAD-format JSON (``data[].paragraphs[].context/qas[]``). The articles of a SQuAD file
become the corpus when no ``--corpus`` is given: one JSONL record per article (paragraphs
joined by blank lines), written under the index directory and indexed incrementally.

Metrics (every text comparison after case and accent folding, apostrophe and whitespace
normalisation, gold answers matched on word boundaries):

- retrieval: a *hit* is a retrieved passage of the question's document that contains a gold
  answer; recall@1/5/10 and MRR@10 over answerable questions, from ``Retriever.search(q, 10)``;
- answers (full runs, ``qa.ask``): how often the answer text contains a gold answer, token
  recall of the gold answer, citation precision (cited passages that contain a gold answer),
  share of answers with a citation, abstention on unanswerable and false abstention on
  answerable questions, latency, and how each answer was made (``Answer.mode``);
- ``--calibrate`` fits the abstention model of ``qa.answer.weigh_evidence`` (logistic
  regression over its features) and prints the weights to paste and a threshold table.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ancre.index.config import Settings
from ancre.index.lexical import APOSTROPHES, fold

log = logging.getLogger(__name__)

RETRIEVAL_K = 10
RECALL_AT = (1, 5, 10)
CORPUS_FOLDER = "eval-corpus"
"""Folder under the index directory that receives the articles of SQuAD files."""
THRESHOLDS = [round(0.3 + 0.05 * i, 2) for i in range(9)]
FINE_THRESHOLDS = [round(0.01 * i, 2) for i in range(1, 100)]
MAX_FALSE_ABSTENTION = 0.10


# ---- questions


@dataclass
class Question:
    id: str
    question: str
    answers: list[str]
    doc_id: str
    answerable: bool
    file: str = ""


def read_questions(path: str | Path) -> tuple[list[Question], list[dict[str, str]]]:
    """The questions of a JSON Lines or SQuAD file, and the SQuAD articles (else [])."""
    path = Path(path).expanduser()
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".jsonl":
        return _read_jsonl(text, path), []
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return _read_jsonl(text, path), []  # JSON Lines under another extension
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        return read_squad(data, path.stem, path.name)
    items = data if isinstance(data, list) else [data]
    return [_question(rec, f"{path.stem}:{n}", path.name) for n, rec in enumerate(items, 1)], []


def _read_jsonl(text: str, path: Path) -> list[Question]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: line {n}: invalid JSON ({err.msg})") from None
        out.append(_question(rec, f"{path.stem}:{n}", path.name))
    return out


def _question(rec: Any, default_id: str, file: str) -> Question:
    if not isinstance(rec, dict) or not isinstance(rec.get("question"), str):
        raise ValueError(f"{file}: {default_id}: expected an object with a 'question' field")
    answers = rec.get("answers") or []
    if isinstance(answers, str):
        answers = [answers]
    answers = [a["text"] if isinstance(a, dict) else str(a) for a in answers]
    return Question(
        id=str(rec.get("id") or default_id),
        question=rec["question"],
        answers=[a for a in dict.fromkeys(answers) if a.strip()],
        doc_id=str(rec.get("doc_id") or ""),
        answerable=bool(rec.get("answerable", True)),
        file=file,
    )


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")[:80] or "article"


def read_squad(
    data: dict[str, Any], stem: str = "squad", file: str = ""
) -> tuple[list[Question], list[dict[str, str]]]:
    """SQuAD questions and their articles (one per ``data`` entry: id, title, text).

    Unanswerable questions (``is_impossible``) keep their ``plausible_answers`` for the
    record, but are never counted as retrieval hits."""
    questions: list[Question] = []
    docs: list[dict[str, str]] = []
    used: set[str] = set()
    for n, article in enumerate(data["data"], 1):
        title = str(article.get("title") or f"{stem} {n}")
        doc_id = base = slug(title)
        suffix = 2
        while doc_id in used:
            doc_id, suffix = f"{base}-{suffix}", suffix + 1
        used.add(doc_id)
        contexts = []
        for p in article.get("paragraphs", []):
            contexts.append(" ".join(str(p.get("context", "")).split()))
            for qa in p.get("qas", []):
                impossible = bool(qa.get("is_impossible", False))
                golds = qa.get("answers") or (qa.get("plausible_answers") if impossible else [])
                questions.append(
                    Question(
                        id=str(qa.get("id") or f"{doc_id}:{len(questions) + 1}"),
                        question=str(qa["question"]),
                        answers=list(
                            dict.fromkeys(
                                str(a["text"])
                                for a in golds or []
                                if str(a.get("text", "")).strip()
                            )
                        ),
                        doc_id=doc_id,
                        answerable=not impossible,
                        file=file or f"{stem}.json",
                    )
                )
        docs.append({"id": doc_id, "title": title, "text": "\n\n".join(c for c in contexts if c)})
    return questions, docs


def write_corpus(docs: list[dict[str, str]], folder: Path, stem: str) -> Path:
    """Write articles as a JSONL corpus (rewritten only when its content changed)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug(stem)}.jsonl"
    content = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
    if not path.exists() or path.read_text(encoding="utf-8") != content:
        path.write_text(content, encoding="utf-8")
    return path


def sample(questions: list[Question], limit: int | None, seed: int) -> list[Question]:
    """``limit`` questions drawn with ``seed``, kept in file order."""
    if limit is None or limit >= len(questions):
        return questions
    picked = sorted(random.Random(seed).sample(range(len(questions)), max(limit, 0)))
    return [questions[i] for i in picked]


# ---- metrics


def normalize(text: str) -> str:
    """Casefold, accents and apostrophe variants folded, whitespace collapsed."""
    return " ".join(fold(text.translate(APOSTROPHES)).split())


def _pattern(answer: str) -> re.Pattern[str] | None:
    gold = normalize(answer)
    return re.compile(rf"(?<!\w){re.escape(gold)}(?!\w)") if gold else None


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """Does ``text`` contain one of ``answers`` (normalised, on word boundaries)?"""
    norm = normalize(text)
    for answer in answers:
        pattern = _pattern(answer)
        if pattern is not None and pattern.search(norm):
            return True
    return False


def hit_rank(passages: Sequence[Any], doc_id: str, answers: Sequence[str]) -> int | None:
    """1-based rank of the first passage of ``doc_id`` that contains a gold answer."""
    if not answers:
        return None
    for n, p in enumerate(passages, 1):
        if p.doc_id == doc_id and contains_answer(p.text, answers):
            return n
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float | None:
    if not ranks:
        return None
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr(ranks: Sequence[int | None]) -> float | None:
    if not ranks:
        return None
    return sum(1.0 / r for r in ranks if r) / len(ranks)


def tokens(text: str) -> list[str]:
    return re.findall(r"\w+", normalize(text))


def token_recall(text: str, answers: Sequence[str]) -> float:
    """Share of a gold answer's tokens present in ``text`` (best gold answer)."""
    present = set(tokens(text))
    best = 0.0
    for answer in answers:
        gold = tokens(answer)
        if gold:
            best = max(best, sum(1 for t in gold if t in present) / len(gold))
    return best


def citation_hits(citations: Sequence[Any], answers: Sequence[str]) -> tuple[int, int]:
    """(citations whose passage contains a gold answer, citations)."""
    good = sum(1 for c in citations if contains_answer(c.text, answers))
    return good, len(citations)


def citation_precision(citations: Sequence[Any], answers: Sequence[str]) -> float | None:
    good, total = citation_hits(citations, answers)
    return good / total if total else None


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


# ---- rows and summary


@dataclass
class Row:
    id: str
    file: str
    question: str
    doc_id: str
    answerable: bool
    answers: list[str]
    hit_rank: int | None = None
    retrieved: list[str] = field(default_factory=list)
    """doc_id of the retrieved passages, best first."""
    search_s: float = 0.0
    evidence: float | None = None
    error: str = ""
    # full runs only
    answer: str | None = None
    mode: str | None = None
    abstained: bool | None = None
    contains_answer: bool | None = None
    token_recall: float | None = None
    citations: int | None = None
    good_citations: int | None = None
    timings: dict[str, float] = field(default_factory=dict)


def summarize(rows: list[dict[str, Any]], threshold: float | None = None) -> dict[str, Any]:
    """The summary of per-question rows (dicts of ``Row``)."""
    ok = [r for r in rows if not r.get("error")]
    answerable = [r for r in ok if r["answerable"]]
    unanswerable = [r for r in ok if not r["answerable"]]
    gold = [r for r in answerable if r["answers"]]
    ranks = [r["hit_rank"] for r in gold]
    s: dict[str, Any] = {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "errors": len(rows) - len(ok),
    }
    for k in RECALL_AT:
        s[f"recall@{k}"] = recall_at(ranks, k)
    s["mrr"] = mrr(ranks)
    s["search_p50_s"] = percentile([r["search_s"] for r in ok], 50)
    full = [r for r in ok if r.get("mode") is not None]
    if not full:
        if threshold is not None and any(r.get("evidence") is not None for r in ok):
            s["evidence_abstention"] = _share(
                [r["evidence"] < threshold for r in unanswerable if r["evidence"] is not None]
            )
            s["evidence_false_abstention"] = _share(
                [r["evidence"] < threshold for r in answerable if r["evidence"] is not None]
            )
        return s
    f_ans = [r for r in full if r["answerable"] and r["answers"]]
    f_una = [r for r in full if not r["answerable"]]
    answered = [r for r in full if not r["abstained"]]
    cited = [r for r in f_ans if not r["abstained"]]
    good = sum(r["good_citations"] or 0 for r in cited)
    total = sum(r["citations"] or 0 for r in cited)
    s.update(
        {
            "answer_contains": _share([bool(r["contains_answer"]) for r in f_ans]),
            "token_recall": (
                sum(r["token_recall"] or 0.0 for r in f_ans) / len(f_ans) if f_ans else None
            ),
            "citation_precision": good / total if total else None,
            "cited_share": _share([(r["citations"] or 0) > 0 for r in answered]),
            "abstention": _share([bool(r["abstained"]) for r in f_una]),
            "false_abstention": _share([bool(r["abstained"]) for r in full if r["answerable"]]),
            "latency_p50_s": percentile([r["timings"].get("total", 0.0) for r in full], 50),
            "latency_p95_s": percentile([r["timings"].get("total", 0.0) for r in full], 95),
            "first_token_p50_s": percentile(
                [r["timings"].get("first_token", 0.0) for r in full], 50
            ),
            "modes": dict(Counter(r["mode"] for r in full).most_common()),
        }
    )
    return s


# key: (label, how it is measured / over which questions, format)
METRICS: list[tuple[str, str, str, str]] = [
    ("questions", "questions", "", "d"),
    ("answerable", "answerable", "", "d"),
    ("unanswerable", "unanswerable", "", "d"),
    ("errors", "errors", "questions refused by ask()", "d"),
    ("recall@1", "retrieval recall@1", "answerable; Retriever.search(q, 10)", "f"),
    (
        "recall@5",
        "retrieval recall@5",
        "hit = passage of the gold doc containing a gold answer",
        "f",
    ),
    ("recall@10", "retrieval recall@10", "", "f"),
    ("mrr", "retrieval MRR@10", "", "f"),
    ("search_p50_s", "search latency p50", "one Retriever.search(q, 10) call", "ms"),
    (
        "evidence_abstention",
        "predicted abstention (unanswerable)",
        "predicted: evidence score < abstain_threshold (no generation)",
        "f",
    ),
    ("evidence_false_abstention", "predicted false abstention", "answerable; as above", "f"),
    ("answer_contains", "answer contains a gold answer", "answerable; whole answer text", "f"),
    ("token_recall", "token recall of the gold answer", "answerable; best gold answer", "f"),
    (
        "citation_precision",
        "citation precision",
        "answerable, not abstained; cited passage contains a gold answer",
        "f",
    ),
    ("cited_share", "answers with >= 1 citation", "answers not abstained", "f"),
    ("abstention", "abstention on unanswerable", "unanswerable questions", "f"),
    ("false_abstention", "false abstention on answerable", "answerable questions", "f"),
    ("latency_p50_s", "ask() latency p50", "Answer.timings['total']", "s"),
    ("latency_p95_s", "ask() latency p95", "", "s"),
    ("first_token_p50_s", "first token p50", "Answer.timings['first_token']", "s"),
]


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "d":
        return str(int(value))
    if kind == "ms":
        return f"{value * 1000:.1f} ms"
    if kind == "s":
        return f"{value:.2f} s"
    return f"{value:.3f}"


def format_summary(summary: dict[str, Any], title: str = "") -> str:
    lines = [title] if title else []
    for key, label, how, kind in METRICS:
        if key in summary:
            lines.append(f"  {label:<34} {_fmt(summary[key], kind):>10}   {how}".rstrip())
    if summary.get("modes"):
        modes = ", ".join(f"{m} {n}" for m, n in summary["modes"].items())
        lines.append(f"  {'answers by mode':<34} {modes}")
    return "\n".join(lines)


def _status(row: dict[str, Any]) -> tuple[str, str]:
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


def compare(a: dict[str, Any], b: dict[str, Any], name_a: str = "A", name_b: str = "B") -> str:
    """Two ``--json`` outputs side by side, and the questions whose status changed."""
    sa, sb = a.get("summary", {}), b.get("summary", {})
    lines = [f"  {'metric':<34} {name_a[:14]:>14} {name_b[:14]:>14} {'delta':>10}"]
    for key, label, _how, kind in METRICS:
        if key not in sa and key not in sb:
            continue
        va, vb = sa.get(key), sb.get(key)
        delta = "-"
        if isinstance(va, int | float) and isinstance(vb, int | float):
            d = vb - va
            delta = (
                f"{d:+d}"
                if kind == "d"
                else f"{d * 1000:+.1f} ms"
                if kind == "ms"
                else f"{d:+.2f} s"
                if kind == "s"
                else f"{d:+.3f}"
            )
        lines.append(f"  {label:<34} {_fmt(va, kind):>14} {_fmt(vb, kind):>14} {delta:>10}")
    for key in sorted(set(sa.get("modes") or {}) | set(sb.get("modes") or {})):
        na, nb = (sa.get("modes") or {}).get(key, 0), (sb.get("modes") or {}).get(key, 0)
        lines.append(f"  {'mode ' + key:<34} {na:>14} {nb:>14} {nb - na:>+10d}")
    rows_a = {(r.get("file", ""), r["id"]): r for r in a.get("rows", [])}
    rows_b = {(r.get("file", ""), r["id"]): r for r in b.get("rows", [])}
    changed = []
    for key in rows_a.keys() & rows_b.keys():
        before, after = _status(rows_a[key]), _status(rows_b[key])
        hit_changed = _hit_bucket(before[0]) != _hit_bucket(after[0])
        answer_changed = bool(before[1] and after[1]) and before[1] != after[1]
        if hit_changed or answer_changed:
            changed.append((key, before, after, rows_b[key]["question"]))
    common = len(rows_a.keys() & rows_b.keys())
    lines.append("")
    lines.append(
        f"{len(changed)} of {common} common questions changed status "
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


def _hit_bucket(status: str) -> str:
    if status.startswith("hit@"):
        return "hit" if int(status[4:]) <= 5 else "miss"
    return status


# ---- running


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.compare:
        a, b = (json.loads(Path(p).expanduser().read_text(encoding="utf-8")) for p in args.compare)
        print(compare(a, b, Path(args.compare[0]).stem, Path(args.compare[1]).stem))
        return 0
    if not args.questions:
        raise ValueError("give question files (JSON Lines or SQuAD JSON), or --compare A B")
    questions, sources = load(args, settings)
    if not questions:
        raise ValueError("no questions in " + ", ".join(args.questions))
    if sources:
        build_index(sources, settings, explicit_dir=bool(args.index_dir))
    if args.calibrate:
        return calibrate(questions, settings)
    rows = evaluate(questions, settings, retrieval_only=args.retrieval_only)
    summary = summarize(rows, settings.abstain_threshold)
    info = _run_info(args, settings)
    print(format_summary(summary, _title(info, summary)))
    if args.json_out:
        out = Path(args.json_out).expanduser()
        out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"summary": summary, "settings": info, "rows": rows}
        out.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"wrote {out}")
    return 0


def load(args: argparse.Namespace, settings: Settings) -> tuple[list[Question], list[str]]:
    """The (sampled) questions, and the sources to index: --corpus, else the SQuAD articles."""
    questions: list[Question] = []
    squad_sources: list[str] = []
    for name in args.questions:
        path = Path(name).expanduser()
        if not path.is_file():
            raise ValueError(f"no such question file: {path}")
        found, docs = read_questions(path)
        if docs and not args.corpus:
            folder = Path(settings.index_dir) / CORPUS_FOLDER
            squad_sources.append(str(write_corpus(docs, folder, path.stem)))
        questions.extend(sample(found, args.limit, args.seed))
    return questions, list(args.corpus or squad_sources)


def build_index(sources: list[str], settings: Settings, explicit_dir: bool = True) -> None:
    from ancre import index

    if not explicit_dir:
        log.warning(
            "indexing the evaluation corpus into %s (the default index); pass "
            "--index-dir to keep it apart",
            settings.index_dir,
        )
    report = index.build(sources, settings=settings, progress=sys.stderr.isatty())
    for s in report.skipped:
        log.warning("skipped %s", s)
    print(
        f"index {settings.index_dir}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged; {report.documents_total} documents, "
        f"{report.chunks_total} chunks ({report.seconds:.1f} s)"
        + (f"; re-embedded everything: {report.reembedded}" if report.reembedded else ""),
        file=sys.stderr,
    )


def _progress(items: list, desc: str):
    from tqdm import tqdm

    tty = sys.stderr.isatty()
    return tqdm(
        items,
        desc=desc,
        unit="q",
        file=sys.stderr,
        mininterval=0.5 if tty else 15,
        dynamic_ncols=True,
    )


def evaluate(
    questions: list[Question], settings: Settings, retrieval_only: bool = False
) -> list[dict[str, Any]]:
    """One row per question: retrieval with k=10, then ``qa.ask`` unless retrieval_only."""
    from .answer import ask, get_qa, weigh_evidence

    qa = get_qa(settings)
    retriever = qa.retriever
    retriever.refresh()
    top_k = settings.top_k
    rows = []
    for q in _progress(questions, "eval"):
        text = " ".join(q.question.split())
        row = Row(
            id=q.id,
            file=q.file,
            question=q.question,
            doc_id=q.doc_id,
            answerable=q.answerable,
            answers=q.answers,
        )
        t0 = time.perf_counter()
        passages = retriever.search(text, RETRIEVAL_K) if text else []
        row.search_s = time.perf_counter() - t0
        row.retrieved = [p.doc_id for p in passages]
        row.hit_rank = hit_rank(passages, q.doc_id, q.answers) if q.answerable else None
        if retrieval_only:  # the score ask() would weigh (it abstains with no passage)
            ev = weigh_evidence(text, passages[:top_k], retriever) if passages else None
            row.evidence = ev.score if ev is not None and ev.candidates else 0.0
        else:
            try:
                answer = ask(text, settings=settings)
            except ValueError as err:
                log.warning("question %s: %s", q.id, err)
                row.error = str(err)
                rows.append(asdict(row))
                continue
            fill_answer(row, answer)
        rows.append(asdict(row))
    return rows


def fill_answer(row: Row, answer: Any) -> None:
    row.answer, row.mode, row.abstained = answer.text, answer.mode, answer.abstained
    row.evidence = answer.evidence
    row.timings = dict(answer.timings)
    golds = row.answers
    if answer.abstained:
        row.contains_answer, row.token_recall = False, 0.0
        row.citations, row.good_citations = 0, 0
    else:
        row.contains_answer = contains_answer(answer.text, golds) if golds else None
        row.token_recall = token_recall(answer.text, golds) if golds else None
        good, total = (
            citation_hits(answer.citations, golds) if golds else (0, len(answer.citations))
        )
        row.citations, row.good_citations = total, good


def _run_info(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    info: dict[str, Any] = dict(settings.describe())
    info.update(
        question_files=[str(Path(q).expanduser()) for q in args.questions],
        corpus=args.corpus,
        limit=args.limit,
        seed=args.seed,
        retrieval_only=bool(args.retrieval_only),
    )
    try:
        from ancre.index.store import IndexReader

        reader = IndexReader(settings.index_dir)
        stats = reader.stats()
        reader.close()
        info["index"] = {
            k: stats.get(k)
            for k in ("documents", "chunks", "embed_model", "vector_index", "generation")
        }
    except Exception as err:  # the summary is still worth writing
        log.warning("cannot read the index statistics: %s", err)
    return info


def _title(info: dict[str, Any], summary: dict[str, Any]) -> str:
    idx = info.get("index") or {}
    what = (
        "retrieval only"
        if info.get("retrieval_only")
        else (f"llm={info.get('llm')}, top_k={info.get('top_k')}")
    )
    return (
        f"ancre eval: {summary['questions']} questions ({summary['answerable']} answerable, "
        f"{summary['unanswerable']} unanswerable), {what}\n"
        f"index {info.get('index_dir')}: {idx.get('documents', '?')} documents, "
        f"{idx.get('chunks', '?')} chunks, {idx.get('embed_model', '?')}"
    )


# ---- calibration of the abstention model


def fit_logistic(
    x: Any, y: Any, l2: float = 1e-3, iterations: int = 100, balanced: bool = True
) -> tuple[Any, float]:
    """Logistic regression by Newton's method on the raw features; L2 on the weights (not
    the bias). ``balanced`` gives both classes the same total weight."""
    import numpy as np

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n, d = x.shape
    a = np.hstack([x, np.ones((n, 1))])
    sw = np.ones(n)
    if balanced and 0 < y.sum() < n:
        pos = y.sum()
        sw = np.where(y == 1, n / (2 * pos), n / (2 * (n - pos)))
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    w = np.zeros(d + 1)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ w, -50, 50)))
        grad = a.T @ (sw * (p - y)) / n + penalty * w
        hess = (a.T * (sw * p * (1 - p))) @ a / n + np.diag(penalty) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    return w[:-1], float(w[-1])


def auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    import numpy as np

    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if not pos or not neg:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def threshold_table(
    scores: Sequence[float], labels: Sequence[int], thresholds: Sequence[float] = THRESHOLDS
) -> list[dict[str, float]]:
    """For each threshold: abstention on unanswerable (label 0) and false abstention on
    answerable (label 1) questions, abstaining when score < threshold."""
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    return [
        {
            "threshold": t,
            "abstention": sum(s < t for s in neg) / len(neg) if neg else 0.0,
            "false_abstention": sum(s < t for s in pos) / len(pos) if pos else 0.0,
        }
        for t in thresholds
    ]


def suggest_threshold(
    table: list[dict[str, float]], max_false: float = MAX_FALSE_ABSTENTION
) -> dict[str, float] | None:
    allowed = [r for r in table if r["false_abstention"] <= max_false]
    return max(allowed, key=lambda r: (r["abstention"], -r["false_abstention"]), default=None)


def calibrate(questions: list[Question], settings: Settings) -> int:
    import numpy as np

    from .answer import EVIDENCE_BIAS, EVIDENCE_WEIGHTS, get_qa, weigh_evidence

    labels = [int(q.answerable) for q in questions]
    if not 0 < sum(labels) < len(labels):
        raise ValueError(
            "--calibrate needs both answerable and unanswerable questions "
            "(for example questions.jsonl and unanswerable.jsonl)"
        )
    retriever = get_qa(settings).retriever
    retriever.refresh()
    feats: list[dict[str, float]] = []
    current: list[float] = []
    for q in _progress(questions, "features"):
        text = " ".join(q.question.split())
        passages = retriever.search(text, settings.top_k) if text else []
        ev = weigh_evidence(text, passages, retriever)
        feats.append(ev.features)
        current.append(ev.score if passages else 0.0)
    names = list(dict.fromkeys([*EVIDENCE_WEIGHTS, *(k for f in feats for k in f)]))
    usable = [i for i, f in enumerate(feats) if f]
    x = np.array([[feats[i].get(k, 0.0) for k in names] for i in usable])
    y = np.array([labels[i] for i in usable])
    w, b = fit_logistic(x, y)
    scores = [0.0] * len(questions)
    for i, z in zip(usable, x @ w + b, strict=True):
        scores[i] = 1.0 / (1.0 + math.exp(-float(z)))
    weights = {k: round(float(v), 3) for k, v in zip(names, w, strict=True)}
    n_pos, n_neg = sum(labels), len(labels) - sum(labels)
    print(
        f"calibration on {len(questions)} questions ({n_pos} answerable, {n_neg} "
        f"unanswerable), features of weigh_evidence over the top {settings.top_k} passages; "
        f"logistic regression (Newton, L2 1e-3, classes weighted equally)"
    )
    if len(usable) < len(questions):
        print(
            f"questions without features (no passage or no content word), counted as score "
            f"0: {len(questions) - len(usable)}"
        )
    print(f"EVIDENCE_WEIGHTS = {weights!r}")
    print(f"EVIDENCE_BIAS = {round(b, 3)!r}")
    fitted_auc, current_auc = auc(scores, labels), auc(current, labels)
    print(
        f"AUC {fitted_auc:.3f} (fitted, in-sample); current model {current_auc:.3f} "
        f"(EVIDENCE_WEIGHTS={EVIDENCE_WEIGHTS!r}, EVIDENCE_BIAS={EVIDENCE_BIAS!r})"
    )
    table = threshold_table(scores, labels)
    print(
        f"\n  {'threshold':>9}  {'abstention (unanswerable)':>26}  "
        f"{'false abstention (answerable)':>30}"
    )
    for r in table:
        print(f"  {r['threshold']:>9.2f}  {r['abstention']:>26.3f}  {r['false_abstention']:>30.3f}")
    best = suggest_threshold(table)
    where = f"{THRESHOLDS[0]}..{THRESHOLDS[-1]}"
    if best is None:  # look further on a fine grid
        best = suggest_threshold(threshold_table(scores, labels, FINE_THRESHOLDS))
        where = f"{FINE_THRESHOLDS[0]}..{FINE_THRESHOLDS[-1]} (none in {where} qualifies)"
    if best is None:
        print(f"\nno threshold keeps false abstention <= {MAX_FALSE_ABSTENTION:.2f}")
    else:
        print(
            f"\nsuggested abstain_threshold = {best['threshold']:.2f} (the most abstention with "
            f"false abstention <= {MAX_FALSE_ABSTENTION:.2f}, searched in {where}): abstains on "
            f"{best['abstention']:.1%} of unanswerable questions, "
            f"{best['false_abstention']:.1%} of answerable ones"
        )
    now = threshold_table(current, labels, [settings.abstain_threshold])[0]
    print(
        f"current model at abstain_threshold {settings.abstain_threshold:.2f}: abstention "
        f"{now['abstention']:.3f}, false abstention {now['false_abstention']:.3f}"
    )
    return 0
