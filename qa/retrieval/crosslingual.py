"""Questions in another language than the index's: an English question over French articles
(or the reverse) is searched with its content words translated by a bilingual word list
(``en-fr.tsv``), next to its names, numbers and untranslated words, which the two languages
share. ``Query`` also says which of the question's content words the index does not know,
so that an answer built on words the index has never seen is not stated as sure."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from ancre.index import analyze, detect_language, fold, function_words

from ..templates import render

CODES = {"fr": "french", "en": "english"}
"""``ancre.index.detect_language``'s codes and the index's language (a Snowball name)."""
WORD_LIST = "en-fr.tsv"
WORD = re.compile(r"\w+(?:['’-]\w+)*")
LONGEST = 3
"""Words in the longest phrase of the word list."""

Translator = Callable[[str, str, str], str]
"""(question, its language, the index's language) -> the question in the index's language:
a language model, optionally, next to the word list."""


@dataclass(frozen=True)
class Query:
    """What is searched for a question, and what the index knows of its words."""

    asked: str
    """The question as given (a follow-up with the question before it)."""
    text: str
    """The searched text: ``asked`` itself in the index's language, else its names,
    numbers and untranslated words followed by the translations of the others."""
    language: str
    """The question's language (``french``, ``english``)."""
    index_language: str
    translations: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(the question's word or phrase, its words in the index's language)."""
    content_words: tuple[str, ...] = ()
    """The question's words other than function words, as written."""
    unknown: tuple[str, ...] = ()
    """The content words that no term of the index matches, even translated."""
    model_translation: str = ""
    """The translator's version of the question (empty without one)."""

    @property
    def crosslingual(self) -> bool:
        return self.language != self.index_language

    @property
    def unknown_share(self) -> float:
        """Share of the question's content words that the index does not know (0 when it has
        none): near 1, what the passages say cannot be about the question."""
        return len(self.unknown) / len(self.content_words) if self.content_words else 0.0


def question_language(question: str, index_language: str) -> str:
    """The question's language as the index names languages; the index's own when the
    question's cannot be told apart from it (only French and English are detected)."""
    if index_language not in CODES.values():
        return index_language
    return CODES[detect_language(question)]


def _key(words: list[str], language: str) -> tuple[str, ...]:
    return tuple(analyze(" ".join(words), language, stem=True) or [fold(w) for w in words])


@lru_cache(maxsize=1)
def _entries() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(English word or phrase, its French words) of the word list, in file order."""
    path = files("ancre.qa.retrieval").joinpath(WORD_LIST)
    entries = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        english, tab, french = line.partition("\t")
        if not tab or not english.strip() or "\t" in french:
            raise ValueError(
                f"qa/retrieval/{WORD_LIST} line {n}: expected 'english<TAB>french, ...'"
            )
        entries.append((english.strip(), tuple(w.strip() for w in french.split(",") if w.strip())))
    return tuple(entries)


@lru_cache(maxsize=4)
def word_list(source: str, target: str) -> Mapping[tuple[str, ...], tuple[str, ...]]:
    """The word list read from ``source`` to ``target`` (``english``/``french``): the stems
    of a word or phrase -> its words in ``target``. Empty for any other pair of languages."""
    if {source, target} != {"english", "french"}:
        return {}
    table: dict[tuple[str, ...], list[str]] = {}
    for english, french in _entries():
        if source == "english":
            pairs = [(english.split(), list(french))] if french else []
        else:
            pairs = [(w.split(), [english]) for w in french]
        for words, meaning in pairs:
            key = _key(words, source)
            if key:
                known = table.setdefault(key, [])
                known += [m for m in meaning if m not in known]
    return {k: tuple(v) for k, v in table.items()}


@lru_cache(maxsize=4)
def list_function_words(language: str) -> frozenset[str]:
    """The words the list marks as function words (no translation), folded: 'will', 'can'."""
    if language != "english":
        return frozenset()
    return frozenset(fold(english) for english, french in _entries() if not french)


def _is_name_or_number(word: str, first: bool) -> bool:
    """Names and numbers are the same in both languages: 'Bellerive-sur-Loire', '2025',
    'AS'. A capital at the start of the question says nothing."""
    return any(c.isdigit() for c in word) or (not first and word[:1].isupper())


def translate(
    question: str, source: str, target: str
) -> tuple[list[str], list[tuple[str, tuple[str, ...]]], list[str]]:
    """(the words kept as they are: names, numbers, words not in the list; the
    translations found; the content words) of ``question`` from ``source`` to ``target``.
    The longest phrase of the list wins ('town hall' -> 'mairie')."""
    table = word_list(source, target)
    own_function = function_words(source) | list_function_words(source)

    def function(word: str) -> bool:
        return fold(word) in own_function

    words = WORD.findall(question.replace("’", "'"))
    kept: list[str] = []
    found: list[tuple[str, tuple[str, ...]]] = []
    content: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if function(word) and not _is_name_or_number(word, i == 0):
            i += 1
            continue
        if _is_name_or_number(word, i == 0):  # kept, and translated if it is a word too
            kept.append(word)  # ('March', 'Bridge')
            content.append(word)
            meaning = table.get(_key([word], source)) if not word[:1].isdigit() else None
            if meaning:
                found.append((word, meaning))
            i += 1
            continue
        for size in range(min(LONGEST, len(words) - i), 0, -1):
            span = words[i : i + size]
            if size > 1 and (
                function(span[-1]) or any(_is_name_or_number(w, False) for w in span[1:])
            ):
                continue
            meaning = table.get(_key(span, source))
            if meaning:
                found.append((" ".join(span), meaning))
                content.append(" ".join(span))
                i += size
                break
        else:
            if analyze(word, source):
                kept.append(word)
                content.append(word)
            i += 1
    return kept, found, content


def build_query(
    asked: str,
    index_language: str,
    known: Callable[[list[str]], Mapping[str, int]] | None = None,
    translator: Translator | None = None,
) -> Query:
    """The ``Query`` for ``asked`` over an index in ``index_language``; ``known`` gives the
    index's chunk frequency of analysed terms (``Retriever.term_stats``'s second part; None:
    not looked up, ``unknown`` stays empty); ``translator`` (optional) adds its version of the
    question to the searched text."""
    language = question_language(asked, index_language)
    found: list[tuple[str, tuple[str, ...]]] = []
    machine = ""
    if language == index_language:
        text = asked
        options = {w: analyze(w, index_language) for w in WORD.findall(asked)}
        content = list(options)
    else:
        kept, found, content = translate(asked, language, index_language)
        machine = translator(asked, language, index_language).strip() if translator else ""
        text = " ".join([*kept, *(w for _, meaning in found for w in meaning), machine])
        options = {w: analyze(w, index_language) for w in kept}
        for phrase, meaning in found:  # a name that is a word too keeps both ('March', 'mars')
            options[phrase] = options.get(phrase, []) + analyze(" ".join(meaning), index_language)
    content = [w for w in content if options.get(w)]  # not a stop word nor a lone letter
    unknown = []
    if known is not None:
        df = known(sorted({t for w in content for t in options[w]}))
        unknown = [w for w in content if not any(df.get(t, 0) for t in options[w])]
    return Query(
        asked,
        text.strip() or asked,
        language,
        index_language,
        tuple(found),
        tuple(content),
        tuple(unknown),
        machine,
    )


def model_translator(generator, max_tokens: int = 48) -> Translator:
    """A ``Translator`` from a ``Generator`` (the bundled Gemma: ``llm.load_generator``) and
    the two-example prompt ``prompts/translate.{fr,en}.txt``. Off by default: it costs a
    model pass per question in another language, for recall@1 more than recall@5
    (docs/benchmarks.md)."""

    def translated(question: str, language: str, index_language: str) -> str:
        code = next((c for c, name in CODES.items() if name == language), "")
        if not code or CODES.get("fr" if code == "en" else "en") != index_language:
            return ""
        prompt = render("translate", code, question=question)
        return "".join(generator.generate(prompt, max_tokens, 0.0, stop=["\n"])).strip()

    return translated
