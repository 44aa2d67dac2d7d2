"""Fitting the confidence of short answers (``ancre eval --fit-confidence RUN.json``).

The rows of an evaluation (``ancre eval --json``, run on the training articles) carry each
answer's signals and whether its likely answer held a gold answer. A logistic regression
(scikit-learn, L2, classes as they come so that the probability stays calibrated) fits
``qa/weights/confidence.json``; the table of thresholds shows the precision and coverage of the
stated answers each one would give, to choose ``AnswerSettings.state_above``. The figures of a
run and its curve (``plot``) judge a fitted model on other articles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ancre.qa.learned import Model

from .calibrate import auc
from .metrics import Row, calibration_metrics, precision_coverage, statable

TARGET_PRECISION = 0.80
"""The precision on the training articles that ``state_above`` is chosen for: above the
issue's 0.70, because the same threshold gave 0.10-0.15 less on the validation articles
(other articles, as a user's are: docs/benchmarks.md, "Stated answers")."""
C = 0.03
"""scikit-learn's inverse penalty: strong, the signals are few and correlated."""
THRESHOLDS = [round(0.3 + 0.05 * i, 2) for i in range(11)]


@dataclass
class ConfidenceFit:
    model: Model
    rows: int
    fitted_auc: float | None
    fitted_ece: float | None
    table: list[dict[str, float]]
    """Per threshold: precision, coverage, unanswerable questions stated (the fitted rows)."""
    suggested: float | None
    """The lowest threshold whose precision on the fitted rows reaches TARGET_PRECISION."""


def usable(row: Row) -> bool:
    """Whether the answer has a likely answer and its signals (abstentions have none)."""
    return bool(row.likely_answer) and not row.abstained and bool(row.signals)


def training_rows(rows: Sequence[Row]) -> list[Row]:
    """The answers the confidence is fitted on."""
    return [r for r in rows if usable(r)]


def fit_confidence(rows: Sequence[Row], c: float = C) -> ConfidenceFit:
    """Fit the confidence model on the rows of an evaluation run."""
    from sklearn.linear_model import LogisticRegression

    fitted = training_rows(rows)
    labels = [int(bool(r.likely_contains)) for r in fitted]
    if len(set(labels)) < 2:
        raise ValueError("--fit-confidence needs answers both right and wrong (a full eval run)")
    names = sorted({k for r in fitted for k in r.signals})
    x = np.array([[r.signals.get(k, 0.0) for k in names] for r in fitted])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    fit = LogisticRegression(C=c, max_iter=10_000, tol=1e-8).fit((x - mean) / scale, labels)
    model = Model(
        name="confidence",
        kind="logistic",
        features=tuple(names),
        mean=mean,
        scale=scale,
        weights=fit.coef_[0],
        bias=float(fit.intercept_[0]),
        info={"answers": len(fitted), "right": sum(labels), "C": c},
    )
    probabilities = model.score([r.signals for r in fitted])
    scored = [replace(r, confidence=float(p)) for r, p in zip(fitted, probabilities, strict=True)]
    every = scored + [r for r in rows if not usable(r)]
    table = threshold_table(every)
    suggested = next(
        (t["threshold"] for t in table if t["precision"] and t["precision"] >= TARGET_PRECISION),
        None,
    )
    return ConfidenceFit(
        model=model,
        rows=len(fitted),
        fitted_auc=auc([r.confidence or 0.0 for r in scored], labels),
        fitted_ece=calibration_metrics(scored)["confidence_ece"],
        table=table,
        suggested=suggested,
    )


def threshold_table(rows: Sequence[Row], thresholds: Sequence[float] = THRESHOLDS) -> list[dict]:
    """Precision and coverage of stated answers, and the share of unanswerable questions
    stated, if answers were stated from each confidence up (and fitting the kind asked)."""
    answerable = [r for r in rows if r.answerable and r.answers]
    unanswerable = [r for r in rows if not r.answerable]
    out = []
    for t in thresholds:
        stated = [r for r in rows if statable(r) and (r.confidence or 0.0) >= t]
        right = [r for r in stated if r.answerable and r.likely_contains]
        n_answerable = sum(1 for r in stated if r.answerable)
        out.append(
            {
                "threshold": t,
                "precision": len(right) / n_answerable if n_answerable else None,
                "coverage": n_answerable / len(answerable) if answerable else 0.0,
                "unanswerable": (len(stated) - n_answerable) / len(unanswerable)
                if unanswerable
                else 0.0,
            }
        )
    return out


def format_fit(fit: ConfidenceFit) -> str:
    lines = [
        f"confidence model fitted on {fit.rows} answers with a likely answer "
        f"({fit.model.info['right']} right); logistic regression, C={fit.model.info['C']}",
        f"AUC {fit.fitted_auc:.3f}, ECE {fit.fitted_ece:.3f} (fitted, in-sample)",
        "",
        f"  {'threshold':>9}  {'precision':>9}  {'coverage':>8}  {'unanswerable stated':>19}",
    ]
    for t in fit.table:
        precision = "-" if t["precision"] is None else f"{t['precision']:.3f}"
        lines.append(
            f"  {t['threshold']:>9.2f}  {precision:>9}  {t['coverage']:>8.3f}  "
            f"{t['unanswerable']:>19.3f}"
        )
    if fit.suggested is None:
        lines.append(f"\nno threshold reaches a precision of {TARGET_PRECISION:.2f}")
    else:
        lines.append(
            f"\nsuggested state_above = {fit.suggested:.2f} (the lowest threshold whose stated "
            f"answers hold a gold answer for >= {TARGET_PRECISION:.0%} of them)"
        )
    return "\n".join(lines)


def plot(rows: Sequence[Row], threshold: float, path: str | Path) -> Path:
    """A PNG of the run's precision-coverage curve (the threshold marked) beside its
    reliability diagram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = precision_coverage(rows)
    calib = calibration_metrics(rows)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=100)
    if curve:
        left.plot([p["coverage"] for p in curve], [p["precision"] for p in curve], lw=1.5)
        at = [p for p in curve if p["threshold"] >= threshold]
        if at:
            left.plot(at[-1]["coverage"], at[-1]["precision"], "o", color="C3")
            left.annotate(
                f"state_above {threshold:.2f}",
                (at[-1]["coverage"], at[-1]["precision"]),
                textcoords="offset points",
                xytext=(8, 6),
            )
    left.axhline(TARGET_PRECISION, color="grey", lw=0.8, ls="--")
    left.set(
        xlabel="answerable questions with a stated answer",
        ylabel="stated answers holding gold",
        xlim=(0, 1),
        ylim=(0, 1),
        title="stated answers",
    )
    bins = calib["reliability"]
    right.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    if bins:
        right.plot([b["confidence"] for b in bins], [b["right"] for b in bins], "o-")
    ece = calib["confidence_ece"]
    right.set(
        xlabel="confidence",
        ylabel="share right",
        xlim=(0, 1),
        ylim=(0, 1),
        title="reliability" + (f" (ECE {ece:.3f})" if ece is not None else ""),
    )
    fig.tight_layout()
    out = Path(path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def rows_of(payload: dict[str, Any]) -> list[Row]:
    """The rows of an ``ancre eval --json`` file."""
    fields = set(Row.__dataclass_fields__)
    return [Row(**{k: v for k, v in r.items() if k in fields}) for r in payload.get("rows", [])]
