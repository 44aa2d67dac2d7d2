"""Text analysis for the lexical (BM25) index: case and accent folding, elisions, stop
words and Snowball stemming (PyStemmer). The index itself is SQLite FTS5 (see
stores/directory/layout.py), fed with the analysed tokens so that any language works with
the same code."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

ANALYSIS = "words-elisions-stopwords-snowball"
"""Which analysis built a lexical index (recorded in its manifest). spaCy's French lemmas
were measured instead of the Snowball stems and lost recall (chunk recall@5 on PIAF dev
0.843 against 0.858; docs/benchmarks.md), so the stems stay."""
TOKEN = re.compile(r"\w+", re.UNICODE)
APOSTROPHES = ("’", "ʼ", "‘", "`")
"""Characters written for an apostrophe, read as "'"."""


def straighten(text: str) -> str:
    """``text`` with every apostrophe written as "'" (``str.replace`` per character: a
    ``str.translate`` table was most of ``analyze``'s time, docs/benchmarks.md)."""
    for a in APOSTROPHES:
        if a in text:
            text = text.replace(a, "'")
    return text


# French elided articles and pronouns (l'avion, qu'il, jusqu'à): the part before the
# apostrophe is dropped; English possessives ('s) are dropped too.
ELISIONS = {
    "l",
    "d",
    "j",
    "m",
    "n",
    "s",
    "t",
    "c",
    "qu",
    "lorsqu",
    "puisqu",
    "jusqu",
    "quoiqu",
    "presqu",
}

STOPWORDS = {
    "french": """a au aux avec ce ces cet cette dans de des du elle elles en et est été
        être eu il ils je la le les leur leurs lui ma mais me même mes moi mon ne nos notre
        nous on ou où par pas pour qu que qui sa se ses son sont sur ta te tes toi ton tu un
        une vos votre vous y ont avait était sera sont fait faire plus comme aussi ainsi
        dont lors quel quelle quels quelles quoi combien comment pourquoi quand ceux celle
        celui cela ça avoir a-t-il si sans sous entre vers chez""",
    "english": """a an the and or of to in on at by for with from is are was were be been
        it its this that these those as which who whom whose what when where why how do
        does did has have had not no but if than then so such into about over much many""",
}


def fold(text: str) -> str:
    """Lower case, accents removed: 'Élysée' -> 'elysee'."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


@lru_cache(maxsize=8)
def function_words(language: str) -> frozenset[str]:
    """The stop words of one language alone, folded (language detection counts them)."""
    return frozenset(fold(w) for w in STOPWORDS.get(language, "").split())


@lru_cache(maxsize=8)
def _stopwords(language: str) -> frozenset[str]:
    words = set(STOPWORDS["english"].split())
    words.update(STOPWORDS.get(language, "").split())
    return frozenset(fold(w) for w in words)


@lru_cache(maxsize=8)
def _stemmer(language: str):
    if language in ("", "none"):
        return None
    import Stemmer

    try:
        return Stemmer.Stemmer(language)
    except KeyError:
        raise ValueError(
            f"unknown stemmer language {language!r} (ANCRE_LANGUAGE); "
            f"choose one of: none, {', '.join(Stemmer.algorithms())}"
        ) from None


def detect_language(text: str) -> str:
    """'fr' or 'en' from function words (and French accents); French when unsure: the
    language a question is answered in."""
    words = [
        fold(w) for w in re.findall(r"[\w-]+", text.lower().replace("’", "'").replace("'", " "))
    ]
    french, english = function_words("french"), function_words("english")
    fr = sum(w in french for w in words) + 2 * len(re.findall(r"[éèêàçùâîôû]", text.lower()))
    en = sum(w in english for w in words)
    return "en" if en > fr else "fr"


def analyze(text: str, language: str = "french", stem: bool = True) -> list[str]:
    """Tokens for the lexical index: stemmed (unless ``stem=False``), folded, without stop
    words or elisions."""
    text = straighten(text).casefold()
    pieces = []
    for tok in re.findall(r"\w+'?", text):
        if tok.endswith("'"):
            base = tok[:-1]
            if base in ELISIONS or len(base) == 1:
                continue
            tok = base
        pieces.append(tok)
    if stem:
        _stemmer(language)  # an unknown language fails here, even on a text without words
    out = []
    for tok in pieces:
        term = _term(tok, language, stem)
        if term is not None:
            out.append(term)
    return out


@lru_cache(maxsize=1 << 16)
def _term(tok: str, language: str, stem: bool) -> str | None:
    """The index term of one word (None: a stop word or a lone letter). Cached: words
    repeat, and folding and stemming each one again was most of ``analyze``'s time."""
    folded = fold(tok)
    if folded in _stopwords(language) or (len(folded) == 1 and not folded.isdigit()):
        return None
    stemmer = _stemmer(language) if stem else None
    return fold(stemmer.stemWord(tok) if stemmer is not None and not tok.isdigit() else tok)


def term_key(token: str) -> str:
    """The term a token is looked up by. FTS5's tokenizer splits analysed tokens at
    underscores (which Python's ``\\w`` keeps): a chunk's length counts the parts, each part
    is a term, and the whole token is kept too, as the phrase FTS5 would match."""
    if "_" not in token:
        return token
    return "_".join(p for p in token.split("_") if p)


def indexed_terms(body: str) -> tuple[list[str], int]:
    """The terms an analysed text (tokens joined by spaces) is indexed under, once per
    occurrence, and its length in tokens, as SQLite FTS5 counts them: an underscored token
    counts as its parts, each a term, and is kept whole too (``term_key``)."""
    tokens = body.split()
    if "_" not in body:
        return tokens, len(tokens)
    parts = [p for token in tokens for p in token.split("_") if p]
    return parts + [k for k in map(term_key, tokens) if "_" in k], len(parts)


def fts_query(tokens: list[str]) -> str:
    """An FTS5 MATCH expression: any of the tokens (BM25 ranks by how many and how rare)."""
    unique = list(dict.fromkeys(t for t in tokens if t))
    return " OR ".join(f'"{t}"' for t in unique)
