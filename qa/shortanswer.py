"""The short answer: the best span of the sentences that may answer, chosen by a learned model.

The sentences come ranked from ``extract.rank_sentences``; the few best are parsed (French:
spaCy, see ``nlp``), cut into candidate spans (``spans``), and every candidate of every
sentence is scored at once, so the model chooses the sentence and the span together (the
right sentence is ranked first only about half of the time on PIAF dev). The model
(``qa/weights/spans.json``, or ``spans-rules.json`` where no parser is available) was fitted
on the dev set's training articles by ``ancre.qa.measure.train``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from ancre.index import analyze, fold

from . import nlp
from .describe import describe, who_is
from .extract import YEAR, Candidate, previous_sentence
from .learned import Model, load_model
from .qtype import AnswerType, answer_type
from .spans import NUMBER_WORDS, SpanCandidate, candidates, question_info, span_features
from .verify import CALENDAR

log = logging.getLogger(__name__)

SENTENCES = 5
"""Best-ranked sentences of the best sentence's passage whose spans compete (the sentence
ranked first holds the gold answer for 51% of PIAF dev questions)."""


@dataclass
class ShortAnswer:
    text: str
    sentence: Candidate
    """The ranked sentence (and its passage) the span was cut from."""
    span: SpanCandidate
    score: float
    """The model's score squashed to 0..1 (a ranker's: higher is better, not a probability;
    the evidence model reads it as one of its features)."""
    margin: float = 0.0
    """How far ``score`` is above the best candidate that does not overlap this span (1.0
    when there is none): a span far ahead of any other answer is more often right."""
    fits: bool = True
    """Whether the span fits the type of answer asked for (``fits_type``)."""
    row: dict[str, float] | None = None
    """The span model's features of this span (``spans.span_features``)."""


def model_name(parsed: bool) -> str:
    return "spans" if parsed else "spans-rules"


def span_rows(
    question: str,
    ranked: list[Candidate],
    idf: dict[str, float],
    language: str,
    parsed: bool | None = None,
    q_type: AnswerType | None = None,
) -> tuple[list[tuple[Candidate, SpanCandidate]], list[dict[str, float]]]:
    """The candidate spans of the best sentences and their feature rows (the training code
    calls this too, so that features are computed one way)."""
    if not ranked:
        return [], []
    # one passage, the best sentence's: the answer and its quote cite the same source, and
    # spans from other passages won nothing on PIAF dev (0.283 -> 0.285 of answerable)
    top = [c for c in ranked if c.passage.rank == ranked[0].passage.rank][:SENTENCES]
    if parsed is None:
        parsed = nlp.available(language)
    docs = nlp.parse([question] + [c.sentence.text for c in top]) if parsed else []
    q_doc = docs[0] if docs else None
    s_docs = docs[1:] if docs else [None] * len(top)
    terms = list(dict.fromkeys(analyze(question, language)))
    q = question_info(question, terms, q_type or answer_type(question), idf, q_doc)
    best = top[0].score or 1.0
    pairs, rows = [], []
    for rank, (sent, doc) in enumerate(zip(top, s_docs, strict=True)):
        lemma_cov = 0.0
        if doc is not None and q.lemmas:
            lemma_cov = len(q.lemmas & {fold(t.lemma_) for t in doc}) / len(q.lemmas)
        for span in candidates(sent.sentence.text, doc):
            row = span_features(span, sent.sentence.text, q, language, doc)
            row.update(
                sentence_rank=rank,
                sentence_score=sent.score / best,
                sentence_coverage=sent.coverage,
                passage_rank=sent.passage.rank,
                passage_score=sent.passage.score,
                sentence_lemma_coverage=lemma_cov,
            )
            pairs.append((sent, span))
            rows.append(row)
    return pairs, rows


def question_type(asked: str, query: str = "") -> AnswerType:
    """The type of answer asked for. A follow-up is searched with the question before it
    ('Quand ouvrira la ligne C ? Et combien de stations ?'): its own interrogative word decides
    when it has one, the searched text's otherwise ('Et en 2025 ?' after 'Qui a gagné ?')."""
    own = answer_type(asked)
    return own if own.kind != "other" or not query else answer_type(query)


DATE_FILLERS = "vers depuis des ans annee annees siecle siecles heure heures the since year years"
DATE_WORDS = CALENDAR | {fold(w) for w in NUMBER_WORDS.split("|")} | set(DATE_FILLERS.split())
"""Folded words of three letters or more that a date or a number is written with
('dimanche 23 mars 2025', 'depuis 1868', 'deux cents ans'), besides its digits."""


CURRENCY = re.compile(
    r"[€$£¥]|\b(euros?|dollars?|francs?|livres?|yens?|yuans?|roubles?|pesos?|dinars?|"
    r"dirhams?|couronnes?|centimes?|pounds?|gratuite?s?|free)\b",
    re.IGNORECASE,
)
"""What an amount of money is written with: 'combien a coûté' is answered by one."""
NUMERAL = re.compile(
    rf"\d|\b({NUMBER_WORDS}|dizaines?|douzaines?|centaines?|milliers?|moitie|tiers|quart|"
    r"dozens?|hundreds?|thousands?|millions?|billions?|half|third|quarter)\b"
)
"""What a count or a measure is written with, in figures or in words ('une coudée et demie'),
in folded text."""
DATE = re.compile(
    rf"\b(\d{{1,2}}(er)?\s+)?({'|'.join(sorted(CALENDAR))})(\s+\d{{4}})?\b|"
    r"\b(en|depuis|des|avant|apres|vers|jusqu['’]en|in|since|until)\s+(1\d{3}|20\d{2})\b"
)
"""A date written out, in folded text ('samedi 13 septembre 2025', 'en 1868'): its figures
count nothing."""
PREDICATE = re.compile(
    r"^(est|sont|était|étaient|fut|furent|sera|seront|serait|a|ont|avait|avaient|eut|eurent|"
    r"aura|auront|aurait|n['’]est|n['’]a|s['’]est|se|peut|peuvent|doit|doivent|devient|"
    r"reste|permet|fait|font|is|are|was|were|has|have|had)\b",
    re.IGNORECASE,
)
"""A span that opens on a finite verb ('est avant tout un animal sauvage', 'a ainsi validé
sa montée') says something of the subject: it does not name a person, a place, a date, a
quantity or a thing (7 of 1,523 PIAF dev gold answers open so; 11 of the 12 such short
answers stated on the validation articles were wrong)."""
NAMING_KINDS = frozenset({"person", "place", "date", "number", "amount", "thing"})


def fits_type(q_type: AnswerType, text: str) -> bool:
    """False for a short answer that cannot be of the type asked for. A date or a number
    alone ('2025', 'dimanche 23 mars 2025'), or a phrase that opens on a figure, for 'qui'
    or 'où' (a word of three letters or more that is not a date's or a number's is needed;
    no PIAF dev gold answer to either opens on a figure). No figure or number word, but those
    of a date, or a year alone, for 'combien' ('circuleront le samedi 13 septembre' for
    'combien de stations'). No currency for 'combien a coûté'. A predicate ('a ainsi validé...') for
    any question that asks to name something.

    Used for a verified draft and for the span model's candidates alike. Preferring spans of
    the asked type outright measured worse on PIAF dev (short answer holds the gold 0.247 ->
    0.237: people and places are often described, 'le comité et des communes riveraines'):
    these only pass over what cannot be the answer."""
    kind = q_type.kind
    if kind in NAMING_KINDS and PREDICATE.match(text):
        return False
    if kind == "amount":
        return bool(CURRENCY.search(text))
    if kind == "number":
        return not YEAR.fullmatch(text.strip()) and bool(NUMERAL.search(DATE.sub(" ", fold(text))))
    if kind not in ("person", "place"):
        return True
    if text[:1].isdigit():  # '2 à 1 lors de la journée' is a score, not who or where
        return False
    return any(len(w) >= 3 and fold(w) not in DATE_WORDS for w in re.findall(r"[^\W\d_]+", text))


DETERMINER = re.compile(
    r"^(le|la|les|l['’]|un|une|des|du|de|d['’]|ce|cet|cette|ces|son|sa|ses|leur|leurs|the|a|an)\b",
    re.IGNORECASE,
)
UNIT = re.compile(r"\b(?:combien\s+(?:de|d['’])|how\s+many)\s*([^\W\d_]{3,})", re.IGNORECASE)
"""'combien d'hectares', 'how many stations': the unit a count must be given in."""
COST = re.compile(
    r"\b(?:co[uû]t\w*|pay\w*|vend\w*|cost\w*|pric\w*|prix|tarif\w*)\s+"
    r"(?:(?:le|la|les|l['’]|un|une|des|du|the|a|an)\s*)?([^\W\d_]{3,})",
    re.IGNORECASE,
)
"""'combien coûte un ticket', 'how much did the renovation cost': the thing priced."""


def _stem(word: str) -> str:
    return fold(word)[:5]


def fits_strictly(
    q_type: AnswerType, question: str, text: str, sentence: str, passage: str = ""
) -> bool:
    """Whether ``text`` is plainly of the kind asked, as a stated answer must be (``fits_type``
    only passes over what cannot be the answer): 'qui' and 'où' a name (a capitalised word
    past any determiner: 'le cinquième échelon du football français' names no one), 'quand' a
    date, 'combien de X' a number given in X, 'combien coûte X' an amount from a passage
    that speaks of X (a ticket's price is not the line's budget)."""
    if not fits_type(q_type, text):
        return False
    kind, folded = q_type.kind, fold(text)
    if kind == "person" and who_is(question):  # 'Qui est X ?': a description answers
        return True
    if kind in ("person", "place"):
        words = DETERMINER.sub("", text.strip()).split()
        return any(w[:1].isupper() for w in words)
    if kind == "date":
        return bool(YEAR.search(text) or DATE.search(folded) or re.search(r"\d", text))
    if kind == "number":
        unit = UNIT.search(question)
        if unit is None:
            return True
        at = sentence.find(text)
        after = sentence[at + len(text) : at + len(text) + 40] if at >= 0 else ""
        return _stem(unit.group(1)) in {_stem(w) for w in re.findall(r"\w+", text + " " + after)}
    if kind == "amount":
        thing = COST.search(question)
        if thing is None:
            return True
        words = re.findall(r"\w+", (passage or sentence))
        return _stem(thing.group(1)) in {_stem(w) for w in words}
    return True


def best_span(
    question: str,
    ranked: list[Candidate],
    idf: dict[str, float],
    language: str,
    model: Model | None = None,
    q_type: AnswerType | None = None,
) -> ShortAnswer | None:
    """The span most likely to answer, or None when the sentences yield no candidate.

    Spans come from the best sentence's passage. For 'combien' (a count, an amount) a
    passage with no span that fits leaves the answer to the next passages that have one
    (``COUNT_PASSAGES``): 'Combien a coûté la rénovation du pont ?' is answered by the
    article's next paragraph ('ont coûté 8,6 millions d’euros'), not by the date of its
    first."""
    parsed = nlp.available(language)
    q_type = q_type or answer_type(question)
    m = model or load_model(model_name(parsed))
    name = who_is(question)
    described = describe(name, ranked, parsed) if name else None
    if described is not None:  # 'Qui est Sophie Lemaire ?': how the articles describe her
        span = SpanCandidate(described.start, described.end, described.text, {"description"})
        return ShortAnswer(described.text, described.sentence, span, DESCRIBED_SCORE, 1.0)
    first: ShortAnswer | None = None
    # the best sentence's passage, then (for a count or an amount) the next ones as retrieval
    # ranked them: a sentence that shares the question's names in a passage retrieval put
    # last is no place to look for the figure ('9 400 euros' lost to a scam in the same town
    # is not the bridge's cost)
    first_rank = ranked[0].passage.rank
    others = sorted({c.passage.rank for c in ranked} - {first_rank})
    order = [first_rank, *others]
    tries = order[:COUNT_PASSAGES] if q_type.kind in ("number", "amount") else order[:1]
    for rank in tries:
        same = [c for c in ranked if c.passage.rank == rank]
        found = _best_in_passage(question, same, idf, language, m, q_type, parsed)
        if found is None:
            continue
        span, fits = found
        if fits:
            return _named(span, q_type, parsed)
        first = first or span
    return first


DESCRIBED_SCORE = 0.5
"""The span score given to a description (``describe``), which the span model did not score:
the evidence model reads it as a middling span."""
COUNT_PASSAGES = 3
"""Passages searched, best first, for a span that fits 'combien'."""


def _best_in_passage(
    question: str,
    ranked: list[Candidate],
    idf: dict[str, float],
    language: str,
    model: Model,
    q_type: AnswerType,
    parsed: bool,
) -> tuple[ShortAnswer, bool] | None:
    """The best span of one passage's sentences, and whether it fits the type asked for
    (the best of all when none fits)."""
    pairs, rows = span_rows(question, ranked, idf, language, parsed, q_type)
    if not rows:
        return None
    scores = model.score(rows)
    ok = [j for j, (_, span) in enumerate(pairs) if fits_type(q_type, span.text)]
    i = max(ok, key=lambda j: scores[j]) if ok else int(scores.argmax())
    sent, span = pairs[i]
    rivals = [
        float(scores[j])
        for j, (other_sent, other) in enumerate(pairs)
        if other_sent is not sent or other.end <= span.start or other.start >= span.end
    ]
    margin = float(scores[i]) - max(rivals, default=float(scores[i]) - 1.0)
    short = ShortAnswer(span.text, sent, span, float(scores[i]), margin, bool(ok), rows[i])
    return short, bool(ok)


DESCRIPTION = re.compile(r"^(le|la|les|l['’]|ce|cet|cette|ces)\s*[^\W\d_]", re.IGNORECASE)
"""A span that describes rather than names: 'Le chef d’entreprise de 62 ans'."""


def _named(short: ShortAnswer, q_type: AnswerType, parsed: bool) -> ShortAnswer:
    """For 'qui', the person's name where the best span only describes them at the head of
    its sentence and the sentence before names someone: a news article names a person once,
    then describes them ('Un an après sa défaite, Gilles Fabre a pris sa revanche. Le chef
    d’entreprise de 62 ans a remporté...'). The name's sentence becomes the one cited, and the
    quote carries both. Needs the French parser's entities; fired for 1 of 1,199 PIAF dev
    questions (encyclopedic text repeats names), changing no answer's correctness."""
    span, sent = short.span, short.sentence
    text = span.text
    if (
        not parsed
        or q_type.kind != "person"
        or span.start > 3
        or not DESCRIPTION.match(text)
        or any(w[:1].isupper() for w in text.split()[1:])
    ):
        return short
    before = previous_sentence(sent.passage.text, sent.sentence)
    if before is None:
        return short
    people = [e for e in nlp.parse([before.text])[0].ents if e.label_ == "PER"]
    if not people:
        return short
    subject = [e for e in people if e.root.dep_.startswith("nsubj")]
    name = (subject or people)[0]
    named = SpanCandidate(name.start_char, name.end_char, name.text, {"name"})
    cited = Candidate(sent.passage, before, sent.score, sent.coverage)
    return ShortAnswer(name.text, cited, named, short.score, short.margin, True, short.row)
