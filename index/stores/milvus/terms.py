"""The term counts of a Milvus layout (``C_terms_g``: analysed term -> chunks holding it),
kept by the writer at each commit so that a reader gets a question's term statistics in
one request, on any Milvus (Milvus Lite has no text-match index to count them with).

A commit adds the terms of the chunks it writes and takes off those of the chunks it
deletes; a build killed before its counts are in has them counted again from the chunks
when the next build repairs the layout (collections.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from ...lexical import indexed_terms
from .schema import TERM_BYTES

SLICE = 500
"""Terms per request."""


def chunk_terms(lex: str) -> set[str]:
    """The terms of a chunk's analysed text, as the directory store's postings count them
    (``lexical.indexed_terms``)."""
    return set(indexed_terms(lex)[0])


def kept(term: str) -> bool:
    """Whether ``term`` has a row (longer terms are counted by search)."""
    return len(term.encode("utf-8")) <= TERM_BYTES


def count(lexes: Iterable[str]) -> Counter[str]:
    """Chunks holding each term, over chunks' analysed texts."""
    out: Counter[str] = Counter()
    for lex in lexes:
        out.update(chunk_terms(lex))
    return out


def changes(added: Iterable[str], removed: Iterable[str]) -> dict[str, int]:
    """What a commit does to the counts: + the terms of the chunks written, - those of the
    chunks deleted (terms left unchanged are not listed)."""
    delta = count(added)
    delta.subtract(count(removed))
    return {t: n for t, n in delta.items() if n and kept(t)}


def row(term: str, df: int) -> dict[str, Any]:
    return {"term": term, "df": df, "v": [0.0, 0.0]}


def apply(run: Callable[..., Any], name: str, delta: dict[str, int]) -> None:
    """Add ``delta`` to the counts of collection ``name`` (``run(method, ...)`` calls the
    client): new terms inserted, changed ones upserted, those down to zero deleted."""
    terms = list(delta)
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    gone: list[str] = []
    for i in range(0, len(terms), SLICE):
        part = terms[i : i + SLICE]
        have = {r["term"]: int(r["df"]) for r in run("get", name, ids=part, output_fields=["df"])}
        for t in part:
            df = have.get(t, 0) + delta[t]
            if df <= 0:
                if t in have:
                    gone.append(t)
            elif t in have:
                changed.append(row(t, df))
            else:
                new.append(row(t, df))
    for rows, how in ((new, "insert"), (changed, "upsert")):
        for i in range(0, len(rows), SLICE):
            run(how, name, rows[i : i + SLICE])
    for i in range(0, len(gone), SLICE):
        run("delete", name, ids=gone[i : i + SLICE])


def fill(run: Callable[..., Any], name: str, counts: Counter[str]) -> None:
    """Write the counts of an empty collection ``name``."""
    rows = [row(t, n) for t, n in counts.items() if n > 0 and kept(t)]
    for i in range(0, len(rows), SLICE):
        run("insert", name, rows[i : i + SLICE])
