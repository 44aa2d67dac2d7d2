"""``evaluate``: run an answerer over a question set and score every question.

Each question is retrieved with k=10 (for recall@10 and MRR@10, independent of the
answerer's top_k), then answered by the answerer unless ``retrieval_only``, in which case
the evidence score it would weigh is recorded instead, so that abstention can be predicted
without generating. This module prints nothing: the CLI shows the summary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ancre.index import IndexSettings, StoreError, describe, open_reader
from ancre.qa.answer import Answerer
from ancre.qa.reading.evidence import weigh_evidence
from ancre.qa.settings import AnswerSettings

from .metrics import Row, hit_rank
from .questions import Question

log = logging.getLogger(__name__)

RETRIEVAL_K = 10
"""Passages retrieved per question for the retrieval metrics."""

T = TypeVar("T")


def progress_bar(items: Sequence[T], desc: str, show: bool) -> Iterable[T]:
    """``items``, with a progress bar on stderr when ``show`` (sparse when not a terminal,
    so that a log file gets a line every 15 s)."""
    if not show:
        return items
    import sys

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
    questions: Sequence[Question],
    answerer: Answerer,
    *,
    retrieval_only: bool = False,
    progress: bool = False,
) -> list[Row]:
    """One scored ``Row`` per question, in order. The answerer's settings give the fusion
    weights and top_k; a question the answerer refuses (empty, too long) is a row with
    ``error`` set."""
    return list(_rows(questions, answerer, retrieval_only, progress))


def _rows(
    questions: Sequence[Question], answerer: Answerer, retrieval_only: bool, progress: bool
) -> Iterator[Row]:
    retriever, s = answerer.retriever, answerer.settings
    retriever.refresh()
    for q in progress_bar(questions, "eval", progress):
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
        passages = (
            retriever.search(
                text,
                RETRIEVAL_K,
                lexical_weight=s.lexical_weight,
                dense_weight=s.dense_weight,
                rerank=s.rerank,
            )
            if text
            else []
        )
        row.search_s = time.perf_counter() - t0
        row.retrieved = [p.doc_id for p in passages]
        row.hit_rank = hit_rank(passages, q.doc_id, q.answers) if q.answerable else None
        if retrieval_only:  # the score the answerer would weigh (no passage: it abstains)
            ev = weigh_evidence(text, passages[: s.top_k], retriever) if passages else None
            row.evidence = ev.score if ev is not None and ev.candidates else 0.0
        else:
            try:
                row.score_answer(answerer.ask(text))
            except ValueError as err:
                log.warning("question %s: %s", q.id, err)
                row.error = str(err)
        yield row


def index_info(where: IndexSettings | str | Path) -> dict[str, Any]:
    """What an evaluation report records of its index (a directory, a ``milvus://`` URI or
    the store of some settings; empty if it cannot be read)."""
    settings = where if isinstance(where, IndexSettings) else IndexSettings().at(where)
    try:
        with open_reader(settings) as reader:
            stats = reader.stats()
    except (StoreError, OSError) as err:  # the summary is still worth writing
        log.warning("cannot read the index statistics: %s", err)
        return {}
    return {
        k: stats.get(k)
        for k in (
            "documents",
            "chunks",
            "embed_model",
            "embed_encoder",
            "vector_index",
            "generation",
        )
    }


def run_info(
    index_settings: IndexSettings,
    settings: AnswerSettings,
    *,
    question_files: Sequence[str | Path],
    corpus: Sequence[str | Path] | None,
    limit: int | None,
    seed: int,
    retrieval_only: bool,
) -> dict[str, Any]:
    """The settings and inputs of a run, kept beside its rows in ``--json`` files."""
    info: dict[str, Any] = dict(describe(index_settings) + describe(settings))
    info.update(
        question_files=[str(Path(q).expanduser()) for q in question_files],
        corpus=[str(c) for c in corpus] if corpus else None,
        limit=limit,
        seed=seed,
        retrieval_only=retrieval_only,
        index=index_info(index_settings),
    )
    return info
