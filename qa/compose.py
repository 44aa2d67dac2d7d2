"""The answer's texts: the stated answer with its evidence quoted and cited (``compose``),
and the words said when ancre abstains or quotes without stating."""

from __future__ import annotations

import re
from itertools import pairwise

from .reading.sentences import Candidate, previous_sentence, starts_with_anaphor
from .records import Citation, Passage
from .templates import render
from .verify import CITATION, support


def incomplete_text(lang: str) -> str:
    """The reply to a follow-up asked with no question before it: ask it in full."""
    return render("followup", lang)


def evidence_lead(lang: str) -> str:
    """The words that say the quote is the closest passage, not a stated answer."""
    return render("evidence", lang)


def abstention_text(lang: str, passages: list[Passage], absent: str = "") -> str:
    """The abstention (naming what no passage mentions, when that is why), then the titles
    of the closest passages' articles (three at most)."""
    text = render("absent", lang, what=absent) if absent else render("abstain", lang)
    closest = list(
        dict.fromkeys((p.title or p.doc_id) + (f" ({p.date})" if p.date else "") for p in passages)
    )[:3]
    if closest:
        text += "\n\n" + render("closest", lang, titles="\n".join(f"- {c}" for c in closest))
    return text


def strip_citations(text: str) -> str:
    """A verified draft as the likely answer: without its [n] and its closing full stop."""
    return CITATION.sub("", text).strip().rstrip(".")


def joint(gap: str, before: str) -> str:
    """What stands between two quoted sentences on one line: " … " for text left out; a
    dash after a line without closing punctuation (a heading), which a space would glue to
    the sentence after it; else a space."""
    if gap.strip():
        return " … "
    if "\n" in gap and not re.search(r"[.!?…:;»”\"')\]]\s*$", before):
        return " — "
    return " "


def compose(
    short: str, first: Candidate, candidates: list[Candidate], language: str, lead: str = ""
) -> tuple[str, list[Citation]]:
    """The answer text and its one citation: the short answer with its [n], then the evidence
    quoted from its passage: the sentence it comes from (the one before it too when it opens
    with an anaphor: 'ces pays ont indiqué...' needs the sentence naming them) and the
    passage's next best sentence, in text order. Without a short answer, ``lead`` (the words
    that say the quote is the closest passage) comes first. One passage only: quoting a
    second one lowered citation precision (docs/benchmarks.md, "Citations")."""
    p = first.passage
    quoted = [first.sentence]
    if starts_with_anaphor(first.sentence.text):
        before = previous_sentence(p.text, first.sentence)
        if before is not None:
            quoted.insert(0, before)
    other = next(
        (c for c in candidates if c.passage.rank == p.rank and c.sentence not in quoted), None
    )
    if other is not None:
        quoted.append(other.sentence)
    quoted = sorted(dict.fromkeys(quoted, None), key=lambda s: s.start)
    parts = [quoted[0].text]
    for a, b in pairwise(quoted):
        parts.append(joint(p.text[a.end : b.start], a.text) + b.text)
    backed = support(short or first.sentence.text, first.sentence.text, language)
    citation = Citation.of(p, first.sentence, round(backed, 3))
    quote = f"> « {''.join(parts)} » [{p.rank}]"
    if short:
        return f"{short} [{p.rank}]\n\n{quote}", [citation]
    return (f"{lead}\n\n{quote}" if lead else quote), [citation]
