"""Question sets for ``ancre eval`` and ``ancre bench``: JSON Lines and SQuAD readers, the
corpus written from SQuAD articles, and reproducible sampling.

JSON Lines records carry ``id``, ``question``, ``answers``, ``doc_id``, ``answerable``. A
SQuAD-format file (``data[].paragraphs[].context/qas[]``) also yields its articles, one per
``data`` entry (paragraphs joined by blank lines), which become the corpus to index when no
other corpus is given.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ancre.index import fold

CORPUS_FOLDER = "eval-corpus"
"""Folder under the index directory that receives the articles of SQuAD files."""


@dataclass
class Question:
    id: str
    question: str
    answers: list[str]
    """Accepted gold answers (a question may have several, or none when unanswerable)."""
    doc_id: str
    """The document that answers it (for retrieval hits)."""
    answerable: bool
    file: str = ""
    """Name of the file it came from (ids are unique per file only)."""


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
        answers=_unique(answers),
        doc_id=str(rec.get("doc_id") or ""),
        answerable=bool(rec.get("answerable", True)),
        file=file,
    )


def _unique(answers: Iterable[str]) -> list[str]:
    return [a for a in dict.fromkeys(answers) if a.strip()]


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
                        answers=_unique(str(a.get("text", "")) for a in golds or []),
                        doc_id=doc_id,
                        answerable=not impossible,
                        file=file or f"{stem}.json",
                    )
                )
        docs.append({"id": doc_id, "title": title, "text": "\n\n".join(c for c in contexts if c)})
    return questions, docs


def write_corpus(docs: list[dict[str, str]], folder: Path, stem: str) -> Path:
    """Write articles as a JSONL corpus (rewritten only when its content changed, so that
    an incremental build finds nothing to do)."""
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


SPLITS = ("train", "validation")
VALIDATION_SHARE = 3
"""Tenths of the articles held out for validation."""


def split_of(doc_id: str) -> str:
    """'train' or 'validation' for a question, by its article (a stable hash of ``doc_id``):
    the learned models are fitted on the train articles and judged on articles they never
    saw. Unanswerable questions are split the same way by the article they were written on."""
    digest = hashlib.sha1(doc_id.encode("utf-8")).hexdigest()
    return "validation" if int(digest, 16) % 10 < VALIDATION_SHARE else "train"


def in_split(questions: list[Question], split: str | None) -> list[Question]:
    """The questions of ``split`` ('train', 'validation'; None or 'all': all of them)."""
    if split in (None, "all"):
        return questions
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: train, validation or all")
    return [q for q in questions if split_of(q.doc_id) == split]


def load_questions(
    files: list[str | Path],
    *,
    limit: int | None = None,
    seed: int = 0,
    corpus_folder: Path | None = None,
) -> tuple[list[Question], list[Path]]:
    """The questions of ``files`` (``limit`` per file, drawn with ``seed``), and the corpus
    files written into ``corpus_folder`` from their SQuAD articles (none when it is None)."""
    questions: list[Question] = []
    corpora: list[Path] = []
    for name in files:
        path = Path(name).expanduser()
        if not path.is_file():
            raise ValueError(f"no such question file: {path}")
        found, docs = read_questions(path)
        if docs and corpus_folder is not None:
            corpora.append(write_corpus(docs, corpus_folder, path.stem))
        questions.extend(sample(found, limit, seed))
    return questions, corpora


def read_question_table(path: str | Path) -> list[str]:
    """The questions of a Markdown table whose rows start ``| number | question |`` (the
    sample articles' QUESTIONS.md), in order."""
    text = Path(path).read_text(encoding="utf-8")
    return [
        m.group(2).strip()
        for m in re.finditer(r"^\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|", text, re.MULTILINE)
    ]
