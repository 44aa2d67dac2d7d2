"""``ancre bench --copies DIR``: do syndicated copies crowd the top passages?

From a corpus of articles (``DIR/corpus.jsonl``, records with ``id``, ``title``, ``text``)
and its questions (``DIR/questions.jsonl``), a second corpus is made where a share of the
articles have 1 to 4 near-copies, as other outlets run a wire story: their own header and
footer, a few words dropped, their own title and link. Both corpora are indexed; every
answerable question is searched in both, and compared: recall@5 (a passage of the
question's story that holds a gold answer, whichever copy it comes from) and the number of
distinct stories among the top 5 passages.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ancre.index import Embedder, IndexSettings, build
from ancre.qa.retrieval.search import Retriever
from ancre.qa.settings import AnswerSettings

from .metrics import contains_answer
from .questions import read_questions

SHARE = 0.3
"""Share of the articles given copies."""
COPIES = (1, 4)
"""How many copies such an article has (at least, at most)."""
TOP = 5
OUTLETS = ("ledauphine", "ouestfrance", "lavoixdunord", "sudouest", "lamontagne", "midilibre")
HEADERS = (
    "{site} — Avec AFP",
    "Par la rédaction de {site}, avec agences",
    "Publié le 12/03/2026 à 14h05 · Mis à jour le 12/03/2026 à 16h30",
    "ACTUALITÉ · {site}",
)
FOOTERS = (
    "© {site} 2026. Tous droits réservés. Reproduction interdite sans autorisation.",
    "Cet article vous a intéressé ? Retrouvez toute l'actualité de votre région sur {site}.",
    "Vous avez repéré une erreur ? Écrivez à la rédaction de {site}.",
)
SEP = "~"
"""A copy's id: the story's id, this, the outlet."""


def story(doc_id: str) -> str:
    return doc_id.split(SEP, 1)[0]


def syndicate(records: list[dict[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    """``records`` and, after each chosen one, its copies (the original comes first, as the
    wire's story usually does)."""
    rng = random.Random(seed)
    chosen = set(rng.sample(range(len(records)), round(SHARE * len(records))))
    out = []
    for n, rec in enumerate(records):
        out.append(rec)
        if n not in chosen:
            continue
        for site in rng.sample(OUTLETS, rng.randint(*COPIES)):
            words = rec["text"].split(" ")
            for _ in range(3):  # light edits: three words dropped
                if len(words) > 10:
                    del words[rng.randrange(len(words))]
            text = (
                rng.choice(HEADERS).format(site=site)
                + "\n\n"
                + " ".join(words)
                + "\n\n"
                + rng.choice(FOOTERS).format(site=site)
            )
            out.append(
                {
                    "id": f"{rec['id']}{SEP}{site}",
                    "title": f"{rec.get('title', '')} - {site}",
                    "url": f"https://www.{site}.example/{rec['id']}",
                    "text": text,
                }
            )
    return out


def bench_copies(
    folder: str | Path,
    show: Callable[[str], None] = print,
    *,
    embedder: Embedder | None = None,
    settings: AnswerSettings | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Index ``folder``'s corpus with and without copies and compare the top passages of
    its answerable questions (the first ``limit``); returns the figures."""
    folder = Path(folder).expanduser()
    records = [
        json.loads(line)
        for line in (folder / "corpus.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    questions = [q for q in read_questions(folder / "questions.jsonl")[0] if q.answerable]
    questions = questions[:limit]
    s = settings or AnswerSettings()
    copied = syndicate(records)
    figures: dict[str, Any] = {
        "articles": len(records),
        "with_copies": sum(1 for r in copied if SEP in r["id"]),
        "questions": len(questions),
    }
    with tempfile.TemporaryDirectory(prefix="ancre-copies-") as tmp:
        for name, corpus in (("originals", records), ("with copies", copied)):
            src = Path(tmp) / name.replace(" ", "-") / "corpus.jsonl"
            src.parent.mkdir()
            src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in corpus), "utf-8")
            index = IndexSettings.from_env(index_dir=str(Path(tmp) / f"index-{src.parent.name}"))
            report = build([src.parent], settings=index, embedder=embedder)
            retriever = Retriever.open(index.index_dir, embedder=embedder)
            hits, distinct, alternates = 0, 0, 0
            for q in questions:
                top = retriever.search(
                    q.question,
                    TOP,
                    lexical_weight=s.lexical_weight,
                    dense_weight=s.dense_weight,
                    rerank=s.rerank,
                )
                hits += any(
                    story(p.doc_id) == q.doc_id and contains_answer(p.text, q.answers) for p in top
                )
                distinct += len({story(p.doc_id) for p in top})
                alternates += sum(len(p.also) for p in top)
            retriever.close()
            n = len(questions) or 1
            figures[name] = {
                "documents_indexed": report.documents_total,
                "near_copies": report.near_copies,
                "recall@5": round(hits / n, 4),
                "distinct_stories_top5": round(distinct / n, 3),
                "alternates_shown_top5": round(alternates / n, 3),
            }
            show(f"{name}: {figures[name]}")
    return figures
