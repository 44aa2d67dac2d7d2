"""What kind of answer a question asks for, and whether a text can be that answer: the one
place that decides both.

- ``answer_type``: a person for 'qui', a place for 'où', a date for 'quand', a quantity for
  'combien', and for 'quel + noun' that noun's kind ('quel pape' -> a person, 'quelle ville' ->
  a place, 'quelle année' -> a date); ``question_type`` for a follow-up;
- ``answer_type_bonus``: whether a sentence holds the kind of answer asked (sentence ranking);
- ``fits_type`` / ``fits_strictly``: whether a span can be / plainly is of the kind asked;
- ``who_is``: 'Qui est X ?' asks for a description of X, not for a name.

Rules on the question's words (French and English): the question is short and its
interrogative word is explicit, so a parser adds little here; the answer's candidates are
where the French parser helps (see ``spans``). The type is a feature of the learned scorers,
never a filter: PIAF answers are often phrases whatever the question word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ancre.index import fold

from .lexicon import (
    CALENDAR,
    CAPITAL,
    CENTURIES,
    MONTHS,
    NAME_IN_SENTENCE,
    NUMBER_WORDS,
    YEAR,
    name_pattern,
)

KINDS = (
    "person",
    "place",
    "date",
    "number",
    "amount",
    "reason",
    "manner",
    "definition",
    "thing",
    "other",
)
"""The answer types, in the order of the scorers' one-hot features."""

FOCUS_KINDS = {
    "person": """pape roi reine prince princesse empereur imperatrice president presidente
        auteur autrice ecrivain poete peintre artiste acteur actrice chanteur chanteuse joueur
        joueuse entraineur personne personnage homme femme fils fille pere mere frere soeur
        epoux epouse general ministre dirigeant chef fondateur fondatrice createur inventeur
        architecte compositeur realisateur saint philosophe scientifique savant medecin
        souverain dynastie famille equipe groupe club parti entreprise societe compagnie
        organisation association architecte heros heroine who whom king queen president
        author writer player person man woman leader founder team company""",
    "place": """pays ville villes region lieu lieux endroit continent ile iles departement
        capitale province etat territoire quartier commune village fleuve riviere mer ocean
        montagne batiment port pays stade country city place region town state river""",
    "date": """annee annees date jour mois siecle epoque periode saison decennie heure
        moment year date day month century period""",
    "number": """nombre nombres age pourcentage taux taille hauteur longueur largeur
        profondeur superficie surface population distance poids vitesse temperature duree
        score proportion quantite number age percentage size height length population""",
    "amount": """prix montant cout budget somme salaire price cost amount budget""",
}
_FOCUS = {fold(w): kind for kind, words in FOCUS_KINDS.items() for w in words.split()}

_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "amount",
        re.compile(
            r"\bcombien\b(?!\s+(de|d'))\W+(\w+\W+){0,5}?(co[uû]t|pay|vend|rapport|gagn|valu|d[ée]pens)|"
            r"\bhow much\b.*\b(cost|pay|sold|earn)",
        ),
    ),
    ("date", re.compile(r"\b(quand|depuis quand|jusqu'?à quand|when|what year|which year)\b")),
    (
        "number",
        re.compile(r"\b(combien|how (many|much|old|long|far|tall|big))\b"),
    ),
    ("place", re.compile(r"(^|\s)(où|d'où|par où|where)\b|^ou\b")),
    ("thing", re.compile(r"\bcomment (s'appel|se nomm|nomm|appel)|\bwhat is the name\b")),
    ("reason", re.compile(r"\b(pourquoi|pour quelle raison|why)\b")),
    ("manner", re.compile(r"\b(comment|de quelle (façon|manière)|how)\b")),
    (
        "definition",
        re.compile(r"\b(qu'est-ce que|qu'est ce que|que signifie|que veut dire|what is an?)\b"),
    ),
    (
        "person",
        re.compile(
            r"(^|\b(à|a|de|par|pour|avec|contre|chez|selon|sur|et|mais|alors|puis|to|by|for|"
            r"with|from|and|but|so)\s+)(qui|who|whom|whose)\b"
        ),
    ),
]
_WHICH = re.compile(
    r"\b(quel|quelle|quels|quelles|lequel|laquelle|lesquels|lesquelles|which|what)\b(.*)"
)
_SKIP_WORDS = """est sont etait etaient fut furent a ete ont sera seront is are was were le la
    les l un une des du de d sa son ses leur leurs the an deux trois quatre cinq principal
    principale principaux principales premier premiere premiers premieres dernier derniere
    derniers dernieres autre autres grand grande nouveau nouvelle nouveaux nouvelles seul seule
    two three first last main other new"""
_SKIP = set(_SKIP_WORDS.split())
_NAME = {"nom", "noms", "name", "names", "titre", "titres", "appellation"}


def _focus(rest: str) -> str:
    """The first noun-like word after 'quel' (past verbs, articles, numerals, 'nom de')."""
    words = [fold(w) for w in re.findall(r"\w+", rest.replace("'", " "))]
    for i, w in enumerate(words):
        if w in _SKIP:
            continue
        if w in _NAME:  # 'quel est le nom du roi' -> roi
            nxt = [x for x in words[i + 1 : i + 4] if x not in _SKIP and x not in ("of",)]
            return nxt[0] if nxt else w
        return w
    return ""


def _kind_of(focus: str) -> str:
    return _FOCUS.get(focus) or (_FOCUS.get(focus[:-1], "") if focus.endswith(("s", "x")) else "")


@dataclass(frozen=True)
class AnswerType:
    kind: str
    """One of ``KINDS``."""
    focus: str = ""
    """The noun after 'quel' ('quel pape' -> 'pape'), folded; empty when there is none."""


def answer_type(question: str) -> AnswerType:
    """The kind of answer ``question`` asks for (and its focus noun for 'quel + noun')."""
    q = question.casefold().replace("’", "'")
    which = _WHICH.search(q)
    focus = _focus(which.group(2)) if which else ""
    if _kind_of(focus):
        return AnswerType(_kind_of(focus), focus)
    for kind, pattern in _RULES:
        if pattern.search(q):
            return AnswerType(kind, focus if which else "")
    if which:
        return AnswerType("thing", focus)
    return AnswerType("other")


def question_type(asked: str, query: str = "") -> AnswerType:
    """The type of answer asked for. A follow-up is searched with the question before it
    ('Quand ouvrira la ligne C ? Et combien de stations ?'): its own interrogative word decides
    when it has one, the searched text's otherwise ('Et en 2025 ?' after 'Qui a gagné ?')."""
    own = answer_type(asked)
    return own if own.kind != "other" or not query else answer_type(query)


QUESTION_TYPES = [
    (
        re.compile(
            r"\b(combien|how much)\b.*\b(co[uû]t|pay|vend|sold|cost)|"
            r"\bquel(le)? (est |était |a été )?(le |la )?(co[uû]t|prix|montant|budget)",
            re.I,
        ),
        re.compile(r"€|\$|£|\b(euros?|dollars?|francs?|livres?)\b", re.I),
    ),
    (
        re.compile(
            r"\b(quand|quelle (date|annee|année|epoque|époque)|en quelle|depuis quand|"
            r"when|what year|which year)\b",
            re.I,
        ),
        re.compile(rf"{YEAR.pattern}|\b({MONTHS}|{CENTURIES})\b", re.I),
    ),
    (
        re.compile(
            r"\b(combien|quel (nombre|montant|pourcentage|âge|age)|how (many|much|old))\b", re.I
        ),
        re.compile(rf"\d|\b({NUMBER_WORDS})s?\b", re.I),
    ),
    (
        re.compile(r"\b(qui|who|whom)\b", re.I),
        NAME_IN_SENTENCE,
    ),
]
"""(what the question asks, what a sentence that answers it holds): an amount, a date, a
count, a name; the first whose question pattern matches decides."""


def answer_type_bonus(question: str, sentence: str) -> float:
    """1 when ``sentence`` holds the kind of answer ``question`` asks for (an amount for
    'combien a coûté', a date for 'quand'...), 0 when it does not, 0.5 for other questions."""
    for q_pattern, s_pattern in QUESTION_TYPES:
        if q_pattern.search(question):
            return 1.0 if s_pattern.search(sentence) else 0.0
    return 0.5


_INITIAL_OR_WORD = rf"[{CAPITAL}][\w’'.-]*"
WHO_IS = re.compile(
    r"^\s*(?i:qui|who)\s+(?i:est|était|etait|fut|sont|is|was)\s+"
    rf"(?P<name>{name_pattern(_INITIAL_OR_WORD)})"
    r"\s*\?*\s*$"
)
"""'Qui est Sophie Lemaire ?', 'Who was Jane Doe?': the question asks who a named person
is (a description), not for a name."""


def who_is(question: str) -> str:
    """The name that ``question`` asks about, when it asks who that person is; else ''."""
    m = WHO_IS.match(question)
    return m.group("name") if m else ""


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
FOLDED_DATE = re.compile(
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
quantity or a thing (docs/benchmarks.md, "Short answers")."""
NAMING_KINDS = frozenset({"person", "place", "date", "number", "amount", "thing"})


def fits_type(q_type: AnswerType, text: str) -> bool:
    """False for a short answer that cannot be of the type asked for. A date or a number
    alone ('2025', 'dimanche 23 mars 2025'), or a phrase that opens on a figure, for 'qui'
    or 'où' (a word of three letters or more that is not a date's or a number's is needed).
    No figure or number word, but those of a date, or a year alone, for 'combien'
    ('circuleront le samedi 13 septembre' for 'combien de stations'). No currency for
    'combien a coûté'. A predicate ('a ainsi validé...') for any question that asks to name
    something.

    Used for a verified draft and for the span model's candidates alike. It only passes over
    what cannot be the answer: preferring spans of the asked type outright measured worse,
    as people and places are often described (docs/benchmarks.md, "Short answers")."""
    kind = q_type.kind
    if kind in NAMING_KINDS and PREDICATE.match(text):
        return False
    if kind == "amount":
        return bool(CURRENCY.search(text))
    if kind == "number":
        return not YEAR.fullmatch(text.strip()) and bool(
            NUMERAL.search(FOLDED_DATE.sub(" ", fold(text)))
        )
    if kind not in ("person", "place"):
        return True
    if text[:1].isdigit():  # '2 à 1 lors de la journée' is a score, not who or where
        return False
    return any(len(w) >= 3 and fold(w) not in DATE_WORDS for w in re.findall(r"[^\W\d_]+", text))


def is_dated(text: str) -> bool:
    """Whether ``text`` writes a date or a time: a figure, a month, a day, a century."""
    return bool(re.search(r"\d", text) or FOLDED_DATE.search(fold(text)))


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
        return bool(YEAR.search(text) or FOLDED_DATE.search(folded) or re.search(r"\d", text))
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
