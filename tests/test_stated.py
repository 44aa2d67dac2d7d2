"""Stated answers: a short answer in bold only when ancre is confident of it and it is of the
kind asked; otherwise the closest passage, to read. The confidence, its calibration figures and
its fit; follow-ups that ask something new. Fast tests use the hashing embedder (and articles
written here); the ``slow`` ones the real models on the samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ancre.index import build
from ancre.qa import AnswerSettings, ask
from ancre.qa.learned import Model
from ancre.qa.measure import confidence_fit
from ancre.qa.measure.metrics import Row, calibration_metrics, precision_coverage
from ancre.qa.reading.confidence import DRAFT_RANGES, confidence, highest_confidence
from ancre.qa.reading.qtype import answer_type, fits_strictly
from ancre.samples import ARTICLES
from conftest import HashEmbedder

FINAL = """# Rugby : le RC Vernay champion de France de Fédérale 1

Publié le 2 juin 2025

Le RC Vernay a remporté dimanche la finale du championnat de France de Fédérale 1 face à l'US \
Chantenay, sur le score de 24 à 17, au stade Marcel-Michelin de Clermont-Ferrand, devant 9 000 \
spectateurs.

Menés 17 à 14 à l'heure de jeu, les Vernaysiens ont renversé la rencontre dans le dernier quart \
d'heure. L'essai décisif a été marqué par l'ailier Tomas Ferreira à la 74e minute, après une \
percée de son demi de mêlée. L'ouvreur Julien Marty a ajouté la transformation.

« C'est la récompense de trois saisons de travail », a déclaré l'entraîneur Patrick Dumas.
"""
SCORE = "Quel a été le score de la finale de Fédérale 1 entre le RC Vernay et l'US Chantenay ?"
TRAM = "Quand la ligne C du tramway de Bellerive-sur-Loire ouvrira-t-elle ?"


@pytest.fixture(scope="module")
def rugby_index(tmp_path_factory) -> Path:
    """The sample articles and a match report, indexed with the hashing embedder."""
    folder = tmp_path_factory.mktemp("rugby")
    (folder / "finale-federale-1.md").write_text(FINAL, encoding="utf-8")
    index_dir = folder / "index"
    build([ARTICLES, folder / "finale-federale-1.md"], index_dir=index_dir, embedder=HashEmbedder())
    return index_dir


def asked(index_dir, question, history=None, **options):
    settings = AnswerSettings(llm="none", **options)
    return ask(
        question, index_dir=index_dir, embedder=HashEmbedder(), settings=settings, history=history
    )


# ---------------------------------------------------------------- the kind asked


@pytest.mark.parametrize(
    ("question", "text", "sentence", "fits"),
    [
        # a ticket's price is not the line's budget
        (
            "Combien coûte un ticket de tramway ?",
            "312 millions d'euros",
            "La ligne a coûté.",
            False,
        ),
        ("Combien coûte un ticket de tramway ?", "1,70 euro", "Le ticket coûte 1,70 euro.", True),
        # a description is not who scored
        ("Qui a marqué le but ?", "le cinquième échelon du football français", "", False),
        ("Qui a marqué le but ?", "Karim Benali", "", True),
        ("Et qui a marqué l'essai décisif ?", "sur le score de 24 à 17", "", False),
        # but 'Qui est X ?' is answered by how the articles describe X
        ("Qui est Sophie Lemaire ?", "ingénieure responsable des ouvrages d’art", "", True),
        # a count in the unit asked
        ("Combien d'hectares ont brûlé ?", "la moitié avec des pertes", "la moitié avec", False),
        ("Combien d'hectares ont brûlé ?", "1 200", "1 200 hectares ont brûlé", True),
        # a date for 'quand'
        ("Quand la ligne C ouvrira-t-elle ?", "La Société des transports (STB)", "", False),
        ("Quand la ligne C ouvrira-t-elle ?", "13 septembre 2025", "", True),
        ("Où s'est jouée la finale ?", "au stade Marcel-Michelin", "", True),
        ("Où s'est jouée la finale ?", "dans le dernier quart d'heure", "", False),
    ],
)
def test_a_stated_answer_must_plainly_be_of_the_kind_asked(question, text, sentence, fits):
    assert fits_strictly(answer_type(question), question, text, sentence or text) is fits


def test_a_follow_up_that_asks_who_asks_for_a_person():
    assert answer_type("Et qui a marqué l'essai décisif ?").kind == "person"
    assert answer_type("And who scored the try?").kind == "person"


# ---------------------------------------------------------------- three ways to answer


def test_below_the_threshold_the_closest_passage_is_given_to_read(tiny_index):
    answer = asked(tiny_index, TRAM, state_above=1.01)
    assert answer.mode == "evidence" and not answer.short_answer and not answer.abstained
    assert answer.likely_answer and answer.likely_answer in answer.citations[0].sentence
    assert 0.0 < answer.confidence < 1.0 and answer.signals["fits"] == 1.0
    assert answer.text.startswith("Passage le plus proche, à lire :\n\n> « ")
    stated = asked(tiny_index, TRAM, state_above=0.0)
    assert stated.mode == "stated" and stated.short_answer == stated.likely_answer
    assert stated.text.startswith(stated.short_answer + " [")
    assert stated.confidence == answer.confidence  # how sure does not depend on the threshold


def test_a_likely_answer_of_another_kind_is_never_stated(tiny_index):
    answer = asked(tiny_index, "Combien coûte un ticket de tramway à Bellerive-sur-Loire ?")
    assert answer.signals.get("fits") == 0.0 or answer.abstained
    assert not answer.short_answer


def test_a_question_of_one_word_with_nothing_before_it_is_not_stated(rugby_index):
    answer = asked(rugby_index, "À quelle minute ?", state_above=0.0)
    assert not answer.short_answer


def test_the_confidence_is_the_fitted_models_probability():
    model = Model(
        "confidence",
        "logistic",
        ("evidence", "fits"),
        np.zeros(2),
        np.ones(2),
        np.array([2.0, 1.0]),
        -1.0,
    )
    low = confidence({"evidence": 0.1, "fits": 0.0}, model)
    high = confidence({"evidence": 0.9, "fits": 1.0}, model)
    assert 0 < low < 0.5 < high < 1 and confidence({}, model) == 0.0


def test_the_highest_confidence_a_draft_could_reach_bounds_every_draft():
    names = ("evidence", "fits", "log_words", "echoed")
    model = Model(
        "confidence",
        "logistic",
        names,
        np.full(4, 0.5),
        np.array([1.0, 0.5, 2.0, 1.0]),
        np.array([2.0, 1.0, -0.5, 0.3]),
        -1.0,
    )
    known = {"evidence": 0.6, "fits": 0.0, "log_words": 0.4, "echoed": 0.5}
    best = highest_confidence(known, DRAFT_RANGES, model)
    corners = [
        confidence({**known, "fits": f, "log_words": w, "echoed": e}, model)
        for f in (0.0, 1.0)
        for w in DRAFT_RANGES["log_words"]
        for e in (0.0, 1.0)
    ]
    assert best == max(corners) > confidence(known, model)
    assert highest_confidence({**known, "evidence": 0.1}, DRAFT_RANGES, model) < best
    trees = Model("confidence", "trees", names, np.zeros(4), np.ones(4), np.zeros(4), 0.0)
    assert highest_confidence(known, DRAFT_RANGES, trees) == 1.0


# ---------------------------------------------------------------- follow-ups


def test_a_follow_up_is_answered_about_what_it_asks_not_what_was_asked_before(rugby_index):
    first = asked(rugby_index, SCORE, state_above=0.0)
    assert "24 à 17" in first.likely_answer
    history = [{"role": "user", "content": SCORE}, {"role": "assistant", "content": first.text}]
    who = asked(rugby_index, "Et qui a marqué l'essai décisif ?", history, state_above=0.0)
    assert who.likely_answer == "Tomas Ferreira" and "essai" in who.citations[0].sentence
    history += [{"role": "user", "content": "Et qui a marqué l'essai décisif ?"}]
    # the subject is still the match (the scorer's try), not a minute of another article
    when = asked(rugby_index, "À quelle minute ?", history)
    assert "74e minute" in when.text and when.citations[0].doc_id.endswith("federale-1.md")


# ---------------------------------------------------------------- measuring it


def row(n, confidence_, right, answerable=True, fits=1.0) -> Row:
    return Row(
        id=str(n),
        file="q",
        question="q",
        doc_id="d",
        answerable=answerable,
        answers=["a"] if answerable else [],
        mode="evidence",
        abstained=False,
        likely_answer="x",
        likely_contains=right,
        confidence=confidence_,
        signals={"fits": fits, "evidence": confidence_},
    )


def test_calibration_figures():
    rows = [row(i, 0.85, i % 10 < 8) for i in range(10)] + [
        row(10 + i, 0.15, False) for i in range(10)
    ]
    m = calibration_metrics(rows)
    assert m["confidence_ece"] == pytest.approx(0.1)  # 0.85 for 0.8 right, 0.15 for 0
    assert m["confidence_brier"] == pytest.approx((8 * 0.15**2 + 2 * 0.85**2 + 10 * 0.15**2) / 20)
    assert [b["answers"] for b in m["reliability"]] == [10, 10]
    curve = precision_coverage(rows)
    assert curve[9]["precision"] == pytest.approx(0.8) and curve[9]["coverage"] == 0.5
    assert curve[-1]["coverage"] == 1.0


def test_the_confidence_is_fitted_on_a_run_and_the_threshold_chosen_for_precision(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(400):
        evidence = float(rng.random())
        rows.append(row(i, 0.0, bool(rng.random() < evidence), answerable=i % 5 > 0))
        rows[-1].signals = {"fits": 1.0, "evidence": evidence}
    fit = confidence_fit.fit_confidence(rows)
    assert fit.model.weights[fit.model.features.index("evidence")] > 0
    assert fit.fitted_ece < 0.1 and fit.suggested is not None
    chosen = next(t for t in fit.table if t["threshold"] == fit.suggested)
    assert chosen["precision"] >= confidence_fit.TARGET_PRECISION
    assert "suggested state_above" in confidence_fit.format_fit(fit)
    png = confidence_fit.plot(rows, 0.65, tmp_path / "curve.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    # the CLI reads an `ancre eval --json` file
    from dataclasses import asdict

    from ancre.ui.cli import main

    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps({"rows": [asdict(r) for r in rows]}), encoding="utf-8")
    assert main(["eval", "--fit-confidence", str(run_file), "--weights-out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "confidence.json").read_text(encoding="utf-8"))
    assert saved["name"] == "confidence" and "evidence" in saved["features"]


# ---------------------------------------------------------------- the real models


WRONG_BEFORE = [
    # (question, what must not be stated in bold)
    ("Combien coûte un ticket de tramway à Bellerive-sur-Loire ?", "312 millions"),
    ("Qui a marqué le but de la montée de l'AS Port-Joubert en National 3 ?", "échelon"),
    ("Quand la ligne C ouvrira-t-elle ?", "Société des transports"),
    ("Combien d'habitants compte Pontcharra-sur-Oise ?", "préfet"),
    ("How much did the renovation of the Montclar-sur-Vienne suspension bridge cost?", "9 400"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("question", "wrong"), WRONG_BEFORE)
def test_the_wrong_answers_once_stated_in_bold_are_not(sample_index, question, wrong):
    answer = ask(question, index_dir=sample_index, llm="none")
    assert wrong not in answer.short_answer
    assert answer.mode in ("evidence", "abstained") or answer.signals["fits"] == 1.0


def test_the_cli_underlines_the_likely_answer_of_an_evidence_answer_in_a_terminal(tiny_index):
    from ancre.ui.cli import UNDERLINE, format_answer

    answer = asked(tiny_index, TRAM, state_above=1.01)
    shown = format_answer(answer, mark=True)
    assert UNDERLINE[0] + answer.likely_answer + UNDERLINE[1] in shown
    assert "\x1b" not in format_answer(answer)  # piped: plain text
    assert shown.endswith(
        f"(evidence, {answer.confidence:.0%} sure, {answer.timings['total']:.1f} s)"
    )


def test_nothing_of_the_kind_asked_and_weak_evidence_abstains(tiny_index):
    """Spectators of a flood: no span gives a count of spectators; under
    ``abstain_unfitting_below`` ancre abstains rather than quote a passage that cannot answer."""
    question = "Combien de spectateurs ont assisté à la crue de l'Orgeval ?"
    kept = asked(tiny_index, question, abstain_unfitting_below=0.0, abstain_threshold=0.0)
    assert not kept.abstained and kept.signals["fits"] == 0.0, kept.likely_answer
    dropped = asked(tiny_index, question, abstain_unfitting_below=1.01, abstain_threshold=0.0)
    assert dropped.abstained and dropped.mode == "abstained" and not dropped.citations
    fitting = asked(tiny_index, TRAM, abstain_unfitting_below=1.01)
    assert not fitting.abstained  # its best span is a date
