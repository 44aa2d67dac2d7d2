"""Candidate answer spans cut out of the sentences that may answer, with their features.

An answer is a phrase of its sentence far more often than a named entity (docs/benchmarks.md,
"Sentences and spans"), so the candidates of a French sentence are its named entities, dates and
quantities (rules), noun chunks, and the subtrees of its dependency parse: the object or
complement of a verb, an apposition, a clause. Each candidate gets features (the question's
answer type, the span's kind and entity label, how far it sits from the question's words,
whether its governing word is one the question asks about, its length, whether it repeats the
question) that a learned model (``shortanswer``) turns into a score. Languages without a parser
get rule candidates: dates, quantities, capitalised names and the pieces of the sentence between
commas.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ancre.index import analyze, fold

from .lexicon import MONTHS, NAME, NUMBER_WORDS, POINTING
from .qtype import KINDS, AnswerType

MAX_WORDS = 15
"""Longest candidate, in words (nearly every gold answer is shorter: docs/benchmarks.md,
"Sentences and spans")."""
SUBTREE_DEPS = {
    "obj",
    "obl",
    "obl:arg",
    "obl:mod",
    "obl:agent",
    "nsubj",
    "nsubj:pass",
    "nmod",
    "appos",
    "ccomp",
    "xcomp",
    "advcl",
    "acl",
    "acl:relcl",
    "conj",
    "iobj",
    "flat:name",
    "amod",
    "nummod",
    "root",
    "csubj",
    "expl:comp",
}
SPAN_KINDS = (
    "ent_PER",
    "ent_LOC",
    "ent_ORG",
    "ent_MISC",
    "date",
    "quantity",
    "chunk",
    "name",
    "piece",
    *(f"sub_{d}" for d in sorted(SUBTREE_DEPS)),
)
"""The kinds of candidate (one-hot features)."""
TYPE_MATCH = {
    "person": {"ent_PER", "ent_ORG", "name"},
    "place": {"ent_LOC", "name"},
    "date": {"date"},
    "number": {"quantity"},
    "amount": {"quantity"},
}
DATE = re.compile(
    rf"\b(?:(?:le |the )?(?:1er|\d{{1,2}})\s+(?:{MONTHS})(?:\s+\d{{3,4}})?|"
    rf"(?:en |in )?(?:{MONTHS})\s+\d{{3,4}}|"
    r"(?:en |in |vers |depuis |de |from )?(?:1\d{3}|20\d{2}|\d{3})"
    r"(?:\s*(?:-|–|à|au|to)\s*\d{2,4})?|"
    r"[IVXL]+e\s+si[èe]cle|\d{1,2}e\s+si[èe]cle|"
    r"(?:années|the)\s+\d{2,4}s?)\b",
    re.I,
)
UNIT_STOP = (
    "a|à|au|aux|ont|est|sont|était|et|ou|en|le|la|les|l|de|du|des|pour|par|sur|dans|avec|"
    "qui|que|contre|soit|dont|is|are|was|and|or|in|on|of|to|for|with"
)
"""Words that end a quantity rather than name its unit ('74 500 festivaliers ont')."""
QUANTITY = re.compile(
    rf"\b(?:(?:environ|plus de|moins de|près de|about|over|nearly)\s+)?"
    rf"(?:\d[\d\s\u00a0\u202f.,]*\d|\d|(?:{NUMBER_WORDS})(?:[-\s](?:{NUMBER_WORDS}))*)"
    r"(?:\s*(?:%|°\s?[CF]|€|\$|£)|"
    rf"\s+(?!(?:{UNIT_STOP})\b)[^\W\d_]+(?:\s+(?:de\s+|d['’])[^\W\d_]+)?)?",
    re.I,
)
ANAPHOR = re.compile(rf"(?:{POINTING})\b", re.I)
"""A word that points back to something named before ('ces pays', 'il', 'cette décision')."""


@dataclass
class SpanCandidate:
    """A span of one sentence that may answer the question."""

    start: int
    """Offset in the sentence."""
    end: int
    text: str
    kinds: set[str] = field(default_factory=set)
    features: dict[str, float] = field(default_factory=dict)
    score: float = 0.0


def _clean(text: str, start: int, end: int) -> tuple[int, int]:
    """Trim spaces, punctuation and dangling conjunctions at both ends."""
    strip = " \t\n,;:.!?()[]«»\"“”'’-–—"
    while start < end and text[start] in strip:
        start += 1
    while end > start and text[end - 1] in strip and not text[start:end].endswith(("'", "’")):
        end -= 1
    lead = re.match(r"(?:et|ou|mais|donc|and|or|but|qui|que|dont)\s+", text[start:end], re.I)
    if lead and end - start - lead.end() > 0:
        start += lead.end()
    # a closing bracket or quote stays when its opening one is in the span
    for o, c in ("()", "«»", "[]"):
        if end < len(text) and text[end] == c and o in text[start:end]:
            end += 1
    return start, end


def _add(out: dict[tuple[int, int], SpanCandidate], text: str, start: int, end: int, kind: str):
    start, end = _clean(text, start, end)
    piece = text[start:end]
    if not piece or len(piece.split()) > MAX_WORDS or not re.search(r"\w", piece):
        return
    cand = out.get((start, end))
    if cand is None:
        cand = out[(start, end)] = SpanCandidate(start, end, piece)
    cand.kinds.add(kind)


def rule_candidates(sentence: str) -> dict[tuple[int, int], SpanCandidate]:
    """Dates, quantities, capitalised names and comma-separated pieces (any language)."""
    out: dict[tuple[int, int], SpanCandidate] = {}
    for kind, pattern in (("date", DATE), ("quantity", QUANTITY), ("name", NAME)):
        for m in pattern.finditer(sentence):
            if kind == "name" and m.start() == 0 and " " not in m.group():
                continue  # the sentence's first word is capitalised anyway
            if kind == "quantity" and not (re.search(r"\d", m.group()) or m.group()[0].islower()):
                continue
            _add(out, sentence, m.start(), m.end(), kind)
    start = 0
    for m in re.finditer(r"(?<!\d),|,(?!\d)|[;:()]|\s[-–—]\s|$", sentence):
        _add(out, sentence, start, m.start(), "piece")
        start = m.end()
    return out


def parsed_candidates(doc) -> dict[tuple[int, int], SpanCandidate]:
    """Rule candidates plus spaCy's entities, noun chunks and dependency subtrees."""
    text = doc.text
    out = rule_candidates(text)
    for ent in doc.ents:
        _add(out, text, ent.start_char, ent.end_char, f"ent_{ent.label_}")
    try:
        for chunk in doc.noun_chunks:
            _add(out, text, chunk.start_char, chunk.end_char, "chunk")
    except (ValueError, NotImplementedError):  # no parse
        pass
    for tok in doc:
        dep = tok.dep_.lower()
        if dep not in SUBTREE_DEPS:
            continue
        left, right = tok.left_edge, tok.right_edge
        _add(out, text, left.idx, right.idx + len(right), f"sub_{dep}")
        if dep in ("obl", "obl:mod", "obl:arg", "nmod", "obl:agent"):
            # without the preposition: 'à l'agrégation' -> 'l'agrégation'
            first = next((c for c in tok.children if c.dep_ == "case" and c.i == left.i), None)
            if first is not None and first.i + 1 <= right.i:
                nxt = doc[first.i + 1]
                _add(out, text, nxt.idx, right.idx + len(right), f"sub_{dep}")
        if tok.pos_ in ("VERB", "AUX") and dep == "root":
            # what follows the main verb: 'X fut ... [la modernisation agricole]'
            after = [c for c in tok.children if c.i > tok.i and c.dep_ not in ("punct",)]
            if after:
                last = after[-1].right_edge
                _add(out, text, after[0].left_edge.idx, last.idx + len(last), "sub_root")
    return out


def candidates(sentence: str, doc=None) -> list[SpanCandidate]:
    """The candidate spans of ``sentence`` (``doc``: its spaCy parse, when there is one)."""
    found = parsed_candidates(doc) if doc is not None else rule_candidates(sentence)
    return sorted(found.values(), key=lambda c: (c.start, -c.end))


WH = {
    "qui",
    "que",
    "qu'",
    "quoi",
    "où",
    "quand",
    "comment",
    "pourquoi",
    "combien",
    "quel",
    "quelle",
    "quels",
    "quelles",
    "lequel",
    "laquelle",
    "lesquels",
    "lesquelles",
}


@dataclass
class QuestionInfo:
    """What the span features need to know about the question."""

    terms: list[str]
    """Its analysed terms (stems), as the lexical index has them."""
    type: AnswerType
    idf: dict[str, float]
    lemmas: set[str] = field(default_factory=set)
    """Folded lemmas of its content words (from the parse; empty without one)."""
    wh_dep: str = ""
    """The relation of its interrogative phrase ('qui a écrit' -> nsubj), from the parse."""


def question_info(
    question: str, terms: list[str], q_type: AnswerType, idf: dict[str, float], doc=None
) -> QuestionInfo:
    """Terms, type and (with the question's parse) its lemmas and interrogative relation."""
    info = QuestionInfo(terms, q_type, idf)
    if doc is None:
        return info
    info.lemmas = {fold(t.lemma_) for t in doc if t.pos_ in ("NOUN", "PROPN", "VERB", "ADJ", "NUM")}
    for tok in doc:
        if tok.lower_.replace("’", "'") in WH:
            target = tok.head if tok.dep_ in ("det", "amod") or tok.lower_ == "combien" else tok
            info.wh_dep = _coarse(target.dep_)
            break
    return info


def _coarse(dep: str) -> str:
    dep = dep.split(":")[0].lower()
    return {"advmod": "obl", "root": "nsubj", "cop": "nsubj"}.get(dep, dep)


def span_features(
    cand: SpanCandidate, sentence: str, q: QuestionInfo, language: str, doc=None
) -> dict[str, float]:
    """How much ``cand`` looks like the answer to the question ``q``."""
    q_terms, q_type, idf = q.terms, q.type, q.idf
    words = analyze(cand.text, language)
    q_set = set(q_terms)
    n = len(cand.text.split())
    total = sum(idf.get(t, 1.0) for t in q_set) or 1.0
    in_q = sum(t in q_set for t in words)
    f: dict[str, float] = {
        "words": min(n, MAX_WORDS) / MAX_WORDS,
        "log_words": math.log1p(n),
        "content_words": min(len(words), 10) / 10,
        "repeats_question": in_q / len(words) if words else 1.0,
        "all_in_question": float(bool(words) and in_q == len(words)),
        "relative_start": cand.start / max(1, len(sentence)),
        "has_digit": float(bool(re.search(r"\d", cand.text))),
        "capitalised": sum(w[:1].isupper() for w in cand.text.split()) / max(1, n),
        "starts_lower_prep": float(
            bool(
                re.match(
                    r"(?:à|au|aux|en|dans|de|du|des|par|pour|sur|vers|in|at|on|by)\b", cand.text
                )
            )
        ),
        "type_match": float(bool(cand.kinds & TYPE_MATCH.get(q_type.kind, set()))),
        "focus_in": float(bool(q_type.focus) and q_type.focus in fold(cand.text)),
        "n_kinds": len(cand.kinds) / 3,
        "q_inside": sum(idf.get(t, 1.0) for t in q_set & set(words))
        / (sum(idf.get(t, 1.0) for t in q_set) or 1.0),
        "anaphoric": float(bool(ANAPHOR.match(cand.text)) and len(cand.text.split()) <= 3),
    }
    for kind in cand.kinds:
        f[f"span_{kind}"] = 1.0
    f[f"q_{q_type.kind}"] = 1.0
    # distance to the question's words: idf-weighted terms matched before and after the span
    before = set(analyze(sentence[: cand.start], language))
    after = set(analyze(sentence[cand.end :], language))
    f["q_before"] = sum(idf.get(t, 1.0) for t in q_set & before) / total
    f["q_after"] = sum(idf.get(t, 1.0) for t in q_set & after) / total
    near = analyze(sentence[max(0, cand.start - 60) : cand.start], language)
    near += analyze(sentence[cand.end : cand.end + 60], language)
    f["q_near"] = sum(idf.get(t, 1.0) for t in q_set & set(near)) / total
    if doc is not None:
        f.update(_syntax(cand, doc, q, language))
    return f


def _syntax(cand: SpanCandidate, doc, q: QuestionInfo, language: str):
    """The span's head word: its part of speech, relation, and whether the word governing it
    (or its grandparent) is one the question names (the verb the question asks about)."""
    span = doc.char_span(cand.start, cand.end, alignment_mode="expand")
    if span is None or len(span) == 0:
        return {}
    head = span.root
    gov = head.head
    q_set, q_type = set(q.terms), q.type
    dep = _coarse(head.dep_)
    f = {
        "wh_dep_match": float(bool(q.wh_dep) and dep == q.wh_dep),
        f"wh_{q.wh_dep or 'none'}": 1.0,
        "gov_lemma_in_question": float(fold(gov.lemma_) in q.lemmas and gov is not head),
        "lemmas_inside": sum(fold(t.lemma_) in q.lemmas for t in span) / len(span),
        f"pos_{head.pos_}": 1.0,
        f"dep_{head.dep_.split(':')[0]}": 1.0,
        "gov_in_question": float(_in(gov, q_set, language)),
        "gov2_in_question": float(_in(gov.head, q_set, language)),
        "gov_is_root": float(gov.dep_ == "ROOT" or gov.dep_ == "root"),
        "gov_focus": float(bool(q_type.focus) and fold(gov.text) == q_type.focus),
        "depth": min(_depth(head), 6) / 6,
        "ents": len(span.ents) / 2,
        "whole_constituent": float(
            head.left_edge.i == span.start and head.right_edge.i == span.end - 1
        ),
    }
    prev = doc[span.start - 1] if span.start > 0 else None
    f["after_focus"] = float(
        prev is not None and bool(q_type.focus) and fold(prev.text) == q_type.focus
    )
    return f


def _in(token, q_set: set[str], language: str) -> bool:
    terms = analyze(token.text, language)
    return bool(terms) and terms[0] in q_set


def _depth(token) -> int:
    d = 0
    while token.head is not token and d < 10:
        token, d = token.head, d + 1
    return d


FEATURES = [
    "words",
    "log_words",
    "content_words",
    "repeats_question",
    "all_in_question",
    "relative_start",
    "has_digit",
    "capitalised",
    "starts_lower_prep",
    "type_match",
    "focus_in",
    "n_kinds",
    "q_before",
    "q_after",
    "q_near",
    "gov_in_question",
    "gov2_in_question",
    "gov_is_root",
    "gov_focus",
    "depth",
    "ents",
    "whole_constituent",
    "after_focus",
    "q_inside",
    "anaphoric",
    "wh_dep_match",
    "gov_lemma_in_question",
    "lemmas_inside",
    *(f"wh_{d}" for d in ("nsubj", "obj", "obl", "nmod", "iobj", "none", "det", "appos")),
    *(f"span_{k}" for k in SPAN_KINDS),
    *(f"q_{k}" for k in KINDS),
    *(f"pos_{p}" for p in ("PROPN", "NOUN", "NUM", "VERB", "ADJ", "PRON", "ADV", "DET", "AUX")),
    *(f"dep_{d}" for d in ("nsubj", "obj", "obl", "nmod", "appos", "root", "conj", "acl", "amod")),
]
"""The span features the scorer reads (sentence features are added by ``shortanswer``)."""
