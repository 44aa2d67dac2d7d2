"""What kind of answer a question asks for: a person for 'qui', a place for 'où', a date for
'quand', a quantity for 'combien', and for 'quel + noun' that noun's kind ('quel pape' -> a
person, 'quelle ville' -> a place, 'quelle année' -> a date).

Rules on the question's words (French and English): the question is short and its
interrogative word is explicit, so a parser adds little here; the answer's candidates are
where the French parser helps (see ``spans``). The type is a feature of the learned scorers,
never a filter: PIAF answers are often phrases whatever the question word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ancre.index import fold

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
