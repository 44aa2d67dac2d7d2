"""Calibration of the abstention model (``ancre eval --calibrate``).

The evidence features of ``ancre.qa.reading.evidence.weigh_evidence`` are collected for answerable
and unanswerable questions over the top_k passages; a logistic regression (scikit-learn,
L2, both classes weighted equally) fits the model that ``qa/weights/evidence.json`` holds
(written with ``--weights-out``), and a table shows abstention against false abstention by
threshold, to choose ``abstain_threshold``. With a ``scorer`` (the llama.cpp generator) the
likelihood feature joins them and the model is ``evidence-llm``, the one the answerer uses
when it has that generator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ancre.qa.learned import Model, load_model
from ancre.qa.reading.likelihood import TokenScorer, reused_gain
from ancre.qa.retrieval.rerank import reread
from ancre.qa.retrieval.search import Retriever
from ancre.qa.settings import AnswerSettings

from .evaluate import progress_bar
from .questions import Question

THRESHOLDS = [round(0.3 + 0.05 * i, 2) for i in range(9)]
FINE_THRESHOLDS = [round(0.01 * i, 2) for i in range(1, 100)]
MAX_FALSE_ABSTENTION = 0.10
L2 = 1e-3
"""Weight penalty per question (scikit-learn's C is 1 / (questions x L2))."""


def fit_logistic(x: Any, y: Any, l2: float = L2) -> tuple[Any, float]:
    """(weights, bias) of a logistic regression on the raw features, both classes weighted
    equally; the penalty is on the weights, not the bias."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(
        class_weight="balanced", C=1.0 / (len(y) * l2), tol=1e-8, max_iter=10_000
    )
    model.fit(x, y)
    return model.coef_[0], float(model.intercept_[0])


def auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Area under the ROC curve; None unless both labels occur."""
    from sklearn.metrics import roc_auc_score

    if len(set(labels)) < 2:
        return None
    return float(roc_auc_score(labels, scores))


def threshold_table(
    scores: Sequence[float], labels: Sequence[int], thresholds: Sequence[float] = THRESHOLDS
) -> list[dict[str, float]]:
    """For each threshold: abstention on unanswerable (label 0) and false abstention on
    answerable (label 1) questions, abstaining when score < threshold."""
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    return [
        {
            "threshold": t,
            "abstention": sum(s < t for s in neg) / len(neg) if neg else 0.0,
            "false_abstention": sum(s < t for s in pos) / len(pos) if pos else 0.0,
        }
        for t in thresholds
    ]


def suggest_threshold(
    table: list[dict[str, float]], max_false: float = MAX_FALSE_ABSTENTION
) -> dict[str, float] | None:
    """The row with the most abstention whose false abstention stays within ``max_false``."""
    allowed = [r for r in table if r["false_abstention"] <= max_false]
    return max(allowed, key=lambda r: (r["abstention"], -r["false_abstention"]), default=None)


@dataclass
class Calibration:
    """A fitted abstention model and how it and the current one separate the questions."""

    questions: int
    answerable: int
    top_k: int
    without_features: int
    """Questions with no passage or no content word (scored 0)."""
    weights: dict[str, float]
    bias: float
    model: Model
    """The fitted model (raw features: mean 0, scale 1)."""
    fitted_auc: float | None
    """In-sample."""
    current_auc: float | None
    table: list[dict[str, float]]
    suggested: dict[str, float] | None
    searched: str
    """Where the suggested threshold was searched."""
    threshold: float
    """The abstain_threshold in effect, and the current model's figures at it:"""
    at_threshold: dict[str, float] = field(default_factory=dict)


def calibrate(
    questions: Sequence[Question],
    retriever: Retriever,
    settings: AnswerSettings,
    *,
    scorer: TokenScorer | None = None,
    progress: bool = False,
) -> Calibration:
    """Fit the abstention model on ``questions`` (both answerable and unanswerable ones),
    retrieving as the answerer does with ``settings``; with ``scorer``, the model that also
    weighs the question's likelihood (``evidence-llm``)."""
    labels = [int(q.answerable) for q in questions]
    if not 0 < sum(labels) < len(labels):
        raise ValueError(
            "--calibrate needs both answerable and unanswerable questions "
            "(for example questions.jsonl and unanswerable.jsonl)"
        )
    name = "evidence" if scorer is None else "evidence-llm"
    retriever.refresh()
    feats: list[dict[str, float]] = []
    current: list[float] = []
    for q in progress_bar(questions, "features", progress):
        text = " ".join(q.question.split())
        passages = (
            retriever.search(
                text,
                settings.top_k,
                lexical_weight=settings.lexical_weight,
                dense_weight=settings.dense_weight,
                rerank=settings.rerank,
            )
            if text
            else []
        )
        passages, gains, ev = reread(text, passages, retriever, scorer, settings.rerank)
        if scorer is not None and ev.features and "question_gain" not in ev.features:
            # the answerer skips it where the plain model is sure; the fit needs it everywhere
            ev.features["question_gain"] = reused_gain(scorer, text, passages[0], gains)
        feats.append(ev.features)
        current.append(ev.score if passages else 0.0)
    names = list(dict.fromkeys([*load_model(name).features, *(k for f in feats for k in f)]))
    usable = [i for i, f in enumerate(feats) if f]
    x = np.array([[feats[i].get(k, 0.0) for k in names] for i in usable])
    y = np.array([labels[i] for i in usable])
    w, b = fit_logistic(x, y)
    scores = [0.0] * len(questions)
    for i, z in zip(usable, x @ w + b, strict=True):
        scores[i] = 1.0 / (1.0 + math.exp(-float(z)))
    table = threshold_table(scores, labels)
    best = suggest_threshold(table)
    searched = f"{THRESHOLDS[0]}..{THRESHOLDS[-1]}"
    if best is None:  # look further on a fine grid
        best = suggest_threshold(threshold_table(scores, labels, FINE_THRESHOLDS))
        searched = f"{FINE_THRESHOLDS[0]}..{FINE_THRESHOLDS[-1]} (none in {searched} qualifies)"
    return Calibration(
        questions=len(questions),
        answerable=sum(labels),
        top_k=settings.top_k,
        without_features=len(questions) - len(usable),
        weights={k: round(float(v), 3) for k, v in zip(names, w, strict=True)},
        bias=round(b, 3),
        model=Model(
            name=name,
            kind="logistic",
            features=tuple(names),
            mean=np.zeros(len(names)),
            scale=np.ones(len(names)),
            weights=np.asarray(w, dtype="float64"),
            bias=float(b),
            info={"questions": len(questions), "answerable": sum(labels)},
        ),
        fitted_auc=auc(scores, labels),
        current_auc=auc(current, labels),
        table=table,
        suggested=best,
        searched=searched,
        threshold=settings.abstain_threshold,
        at_threshold=threshold_table(current, labels, [settings.abstain_threshold])[0],
    )


def format_calibration(c: Calibration) -> str:
    """The report to read (and the two constants to paste) after ``calibrate``."""

    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = [
        f"calibration on {c.questions} questions ({c.answerable} answerable, "
        f"{c.questions - c.answerable} unanswerable), features of weigh_evidence over the top "
        f"{c.top_k} passages; logistic regression (scikit-learn, L2 {L2:g} per question, "
        "classes weighted equally)"
    ]
    if c.without_features:
        lines.append(
            "questions without features (no passage or no content word), counted as score "
            f"0: {c.without_features}"
        )
    lines += [
        f"{c.model.name} weights = {c.weights!r}",
        f"{c.model.name} bias = {c.bias!r}",
        f"AUC {share(c.fitted_auc)} (fitted, in-sample); current model "
        f"(qa/weights/{c.model.name}.json) {share(c.current_auc)}",
        "",
        f"  {'threshold':>9}  {'abstention (unanswerable)':>26}  "
        f"{'false abstention (answerable)':>30}",
    ]
    for r in c.table:
        lines.append(
            f"  {r['threshold']:>9.2f}  {r['abstention']:>26.3f}  {r['false_abstention']:>30.3f}"
        )
    best = c.suggested
    if best is None:
        lines.append(f"\nno threshold keeps false abstention <= {MAX_FALSE_ABSTENTION:.2f}")
    else:
        lines.append(
            f"\nsuggested abstain_threshold = {best['threshold']:.2f} (the most abstention with "
            f"false abstention <= {MAX_FALSE_ABSTENTION:.2f}, searched in {c.searched}): "
            f"abstains on {best['abstention']:.1%} of unanswerable questions, "
            f"{best['false_abstention']:.1%} of answerable ones"
        )
    now = c.at_threshold
    lines.append(
        f"current model at abstain_threshold {c.threshold:.2f}: abstention "
        f"{now['abstention']:.3f}, false abstention {now['false_abstention']:.3f}"
    )
    return "\n".join(lines)
