"""BM25 over the analysed chunk texts, in memory (numpy), scored as SQLite FTS5 scores it.

Why: FTS5 computes ``bm25()`` row by row through its auxiliary-function interface, for every
chunk that holds a query word, then sorts: 42 ms p50 at 100,000 chunks on the bench's
synthetic index, 141 ms at 1,000,000 grown from real text (docs/benchmarks.md), where
scoring the same postings as arrays takes well under a millisecond per term.

The postings are derived from the store's FTS5 table (the analysed tokens of each chunk),
never a source of truth: the writer keeps them in ``lexical-<generation>.npz`` beside
``vectors-<generation>.faiss``, written in full before the SQLite transaction that moves the
index to that generation (writer.py's commit protocol), so a reader always loads the postings
of the generation it reads. A directory without that file (built before it existed) is
searched through FTS5 until its next commit writes one.

Scores follow FTS5's ``bm25()`` (k1 = 1.2, b = 0.75): idf = ln((N - n + 0.5) / (n + 0.5)),
1e-6 where that is not positive; a chunk's length is its number of tokens as FTS5 counts
them (``term_key``).
"""

from __future__ import annotations

import zipfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ...errors import DamagedFile, repair_command
from ...lexical import indexed_terms, term_key
from .atomic import replacing

K1, B = 1.2, 0.75
FORMAT = 1


class Postings:
    """Term -> (chunk positions, term counts), with each chunk's id and length. Immutable:
    ``updated`` returns a new one."""

    def __init__(
        self,
        terms: list[str],
        indptr: np.ndarray,
        rows: np.ndarray,
        counts: np.ndarray,
        ids: np.ndarray,
        lengths: np.ndarray,
    ):
        self.terms = terms
        self.indptr, self.rows, self.counts = indptr, rows, counts
        self.ids, self.lengths = ids, lengths
        self._where = {t: i for i, t in enumerate(terms)}
        avgdl = (float(lengths.sum()) / len(lengths) if len(lengths) else 0.0) or 1.0
        tf = np.arange(int(counts.max(initial=0)) + 1, dtype="float64")[:, None]
        size = np.arange(int(lengths.max(initial=0)) + 1, dtype="float64")[None, :]
        self._table = tf * (K1 + 1) / (tf + K1 * (1 - B + B * size / avgdl))
        """The BM25 term-frequency factor (what a query multiplies by idf) of every (count,
        length) pair: a query reads it for the postings of its terms only, so that opening
        the index and its memory do not grow by a float per posting (docs/scale.md)."""

    @property
    def size(self) -> int:
        """Chunks held."""
        return len(self.ids)

    @classmethod
    def empty(cls) -> Postings:
        return cls.from_texts([], [])

    @classmethod
    def from_texts(cls, ids: Iterable[int], bodies: Iterable[str]) -> Postings:
        """From chunk ids and their analysed bodies (tokens joined by spaces, as in FTS5)."""
        terms: list[str] = []
        added = _count({}, terms, ids, bodies, 0)
        none = np.zeros(0, "int64")
        return _assemble(terms, none, none, none, *added)

    def doc_freq(self, term: str) -> int:
        i = self._where.get(term)
        return 0 if i is None else int(self.indptr[i + 1] - self.indptr[i])

    def search(self, tokens: list[str], k: int) -> list[tuple[int, float]]:
        """The ``k`` best chunks for the query tokens (any of them), best first, as
        (chunk id, BM25 score); ties go to the lower chunk id."""
        n = self.size
        keys = dict.fromkeys(map(term_key, tokens))
        found = [self._where[t] for t in keys if t in self._where]
        if not found or not n or k <= 0:
            return []
        rows, weights = [], []
        for i in found:
            lo, hi = self.indptr[i], self.indptr[i + 1]
            df = hi - lo
            idf = np.log((n - df + 0.5) / (df + 0.5))
            part = self.rows[lo:hi]
            saturated = self._table[self.counts[lo:hi], self.lengths[part]]
            rows.append(part)
            weights.append(saturated * (idf if idf > 0 else 1e-6))
        scores = np.bincount(np.concatenate(rows), np.concatenate(weights), minlength=n)
        best = np.flatnonzero(scores)  # the chunks holding a query term: partitioned alone
        if k < len(best):  # every chunk that ties with the k-th best, so that ties go by id
            held = scores[best]
            best = best[held >= np.partition(held, len(held) - k)[len(held) - k]]
        ids = self.ids[best]
        order = np.lexsort((ids, -scores[best]))[:k]
        return [(int(ids[j]), float(scores[best[j]])) for j in order]

    def updated(self, removed: Iterable[int], ids: Iterable[int], bodies: Iterable[str]):
        """These postings without chunks ``removed``, with chunks ``ids`` (analysed
        ``bodies``) added; terms no chunk holds any more are dropped."""
        gone = np.fromiter(removed, dtype="int64")
        keep = ~np.isin(self.ids, gone) if len(gone) else np.ones(self.size, bool)
        position = np.cumsum(keep) - 1
        term_of = np.repeat(np.arange(len(self.terms)), np.diff(self.indptr))
        alive = keep[self.rows]
        where = dict(self._where)
        terms = list(self.terms)
        start = int(keep.sum())
        added = _count(where, terms, ids, bodies, start)
        return _assemble(
            terms,
            term_of[alive],
            position[self.rows[alive]],
            self.counts[alive],
            *added,
            kept_ids=self.ids[keep],
            kept_lengths=self.lengths[keep],
        )

    # ---- files
    def save(self, path: Path) -> None:
        """Write in full under ``path`` (a temporary file, fsync, rename); on an error (a
        full disk) the temporary file is removed."""
        with replacing(path) as fh:
            np.savez(
                fh,
                format=np.array([FORMAT]),
                terms=np.frombuffer("\n".join(self.terms).encode(), dtype="uint8"),
                indptr=self.indptr,
                rows=self.rows,
                counts=self.counts,
                ids=self.ids,
                lengths=self.lengths,
            )

    @classmethod
    def load(cls, path: Path) -> Postings | None:
        """The postings in ``path``, or None if there is none (or of another format);
        ``DamagedFile`` if it cannot be read."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"][0]) != FORMAT:
                    return None
                blob = data["terms"].tobytes().decode()
                return cls(
                    blob.split("\n") if blob else [],
                    data["indptr"],
                    data["rows"],
                    data["counts"],
                    data["ids"],
                    data["lengths"],
                )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            what = f"not a readable postings file: {type(err).__name__}"
            raise DamagedFile(path, what, repair_command(path.parent)) from None


def _count(
    where: dict[str, int],
    terms: list[str],
    ids: Iterable[int],
    bodies: Iterable[str],
    start: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Postings of new chunks, numbered from ``start``; new terms are appended to
    ``terms`` (and ``where``). Returns (term, position, count, ids, lengths) arrays."""
    t_col: list[int] = []
    p_col: list[int] = []
    c_col: list[int] = []
    new_ids: list[int] = []
    lengths: list[int] = []
    for position, (cid, body) in enumerate(zip(ids, bodies, strict=True), start):
        tokens, length = indexed_terms(body)
        new_ids.append(int(cid))
        lengths.append(length)
        for term, count in Counter(tokens).items():
            i = where.get(term)
            if i is None:
                i = where[term] = len(terms)
                terms.append(term)
            t_col.append(i)
            p_col.append(position)
            c_col.append(count)
    return (
        np.asarray(t_col, dtype="int64"),
        np.asarray(p_col, dtype="int64"),
        np.asarray(c_col, dtype="int64"),
        np.asarray(new_ids, dtype="int64"),
        np.asarray(lengths, dtype="int64"),
    )


def _assemble(
    terms: list[str],
    term_of: np.ndarray,
    rows: np.ndarray,
    counts: np.ndarray,
    new_terms: np.ndarray,
    new_rows: np.ndarray,
    new_counts: np.ndarray,
    new_ids: np.ndarray,
    new_lengths: np.ndarray,
    *,
    kept_ids: np.ndarray | None = None,
    kept_lengths: np.ndarray | None = None,
) -> Postings:
    """Postings from (term, position, count) triples, sorted by term then position; terms
    without postings dropped."""
    t = np.concatenate([term_of, new_terms]).astype("int64")
    r = np.concatenate([rows, new_rows]).astype("int32")
    c = np.concatenate([counts, new_counts]).astype("uint16")
    per_term = np.bincount(t, minlength=len(terms))
    used = np.flatnonzero(per_term)
    if len(used) < len(terms):
        renumber = np.full(len(terms), -1, dtype="int64")
        renumber[used] = np.arange(len(used))
        t = renumber[t]
        terms = [terms[i] for i in used]
        per_term = per_term[used]
    order = np.lexsort((r, t))
    indptr = np.zeros(len(terms) + 1, dtype="int64")
    np.cumsum(per_term, out=indptr[1:])
    ids = new_ids if kept_ids is None else np.concatenate([kept_ids, new_ids])
    lengths = new_lengths if kept_lengths is None else np.concatenate([kept_lengths, new_lengths])
    return Postings(terms, indptr, r[order], c[order], ids.astype("int64"), lengths.astype("int32"))
