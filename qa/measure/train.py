"""Fitting the read path's learned models (``ancre eval --calibrate``).

Three models are fitted on the questions given (use the train split, ``--split train``, and
judge the result on the validation articles):

- ``rerank`` (logistic regression): a passage of the question's article that holds a gold
  answer, against the other passages of the hybrid search's best ``rerank.POOL``;
- ``spans`` and ``spans-rules`` (gradient-boosted trees, LightGBM LambdaRank): the order of
  each question's candidate spans (those of the best sentences, with spaCy's parse, and
  with the rules alone for languages without one), a span holding a gold answer without
  restating the question first, then one holding it while restating it (``span_grade``);
- ``rerank-llm`` (logistic regression, with a llama.cpp generator): the reranker's log-odds
  and the question's likelihood gain (``likelihood.question_gains``) of its best
  ``rerank.LLM_DEPTH`` passages, where the reranker is unsure (``rerank.reranker_unsure``);
- ``evidence`` (logistic regression, ``calibrate``): answerable against unanswerable.

Each is written as ``<name>.json`` and read by ``ancre.qa.learned``: the answer path needs
neither scikit-learn nor LightGBM.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ancre.index import analyze
from ancre.qa.learned import Model, load_model, save_model
from ancre.qa.reading.likelihood import TokenScorer, question_gains
from ancre.qa.reading.sentences import rank_sentences
from ancre.qa.reading.shortanswer import model_name, span_rows
from ancre.qa.reading.spans import FEATURES as SPAN_FEATURES
from ancre.qa.retrieval.rerank import FEATURES as RERANK_FEATURES
from ancre.qa.retrieval.rerank import (
    LLM_DEPTH,
    LLM_FEATURES,
    LLM_MARGIN,
    POOL,
    likelihood_rows,
    passage_features,
    reranker_unsure,
)
from ancre.qa.retrieval.search import Retriever
from ancre.qa.settings import AnswerSettings

from .evaluate import progress_bar
from .metrics import contains_answer, holds_answer
from .questions import Question

log = logging.getLogger(__name__)

SENTENCE_FEATURES = [
    "sentence_rank",
    "sentence_score",
    "sentence_coverage",
    "passage_rank",
    "passage_score",
    "sentence_lemma_coverage",
]
QUESTION_INSIDE = 0.5
"""A span that holds a gold answer counts as the answer when at most this share of the
question (idf-weighted) is inside it. Without this condition the model learned to pick long
clauses that restate the question around the answer ('le second tour de l'élection
municipale partielle de Saint-Aubin-des-Prés' for 'qui a remporté...'): 0.285 of PIAF
validation questions got a short answer holding the gold one, 10.0 words long on average,
3 of the 12 sample questions a right one; with it 0.243, 8.3 words, 8 of 12. Ranking
the two grades (this one first, then a span restating the question) rather than classifying
the first alone: 0.256 -> 0.273 of validation questions, 9.0 -> 9.4 words (experiment on
cached spans; ranking the first grade alone 0.252, ranking any span holding a gold answer
0.285 with 10.6 words)."""
TREES = {
    "n_estimators": 150,
    "num_leaves": 7,
    "learning_rate": 0.05,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "random_state": 0,
    "verbose": -1,
}
"""Small trees: bigger ones (200 x 15 leaves) fitted the training articles better and the
validation articles worse (span accuracy 0.414 / 0.273 against 0.328 / 0.283)."""


def fit_logistic(
    x: np.ndarray, y: np.ndarray, features: Sequence[str], name: str, c: float = 1.0
) -> Model:
    """Logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    fitted = LogisticRegression(C=c, max_iter=5000).fit((x - mean) / scale, y)
    return Model(
        name=name,
        kind="logistic",
        features=tuple(features),
        mean=mean,
        scale=scale,
        weights=fitted.coef_[0].astype("float64"),
        bias=float(fitted.intercept_[0]),
    )


def fit_trees(
    x: np.ndarray,
    y: np.ndarray,
    features: Sequence[str],
    name: str,
    groups: Sequence[int] | None = None,
) -> Model:
    """Gradient-boosted trees (LightGBM), flattened into ``learned.Model``'s node table.
    With ``groups`` (the number of consecutive rows of each question), a ranker
    (LambdaRank) learns the order of each question's rows, ``y`` being graded relevance."""
    try:
        import lightgbm
    except ImportError:
        raise RuntimeError("fitting the span models needs LightGBM: pip install lightgbm") from None
    if groups is None:
        booster = lightgbm.LGBMClassifier(**TREES).fit(x, y).booster_
    else:
        booster = lightgbm.LGBMRanker(**TREES).fit(x, y, group=list(groups)).booster_
    table: dict[str, list] = {k: [] for k in ("feature", "threshold", "left", "right", "value")}

    def add(node: dict[str, Any]) -> int:
        i = len(table["feature"])
        for k, v in (("feature", -1), ("threshold", 0.0), ("left", -1), ("right", -1)):
            table[k].append(v)
        table["value"].append(float(node.get("leaf_value", 0.0)))
        if "leaf_value" not in node:
            table["feature"][i] = node["split_feature"]
            table["threshold"][i] = node["threshold"]
            table["left"][i] = add(node["left_child"])
            table["right"][i] = add(node["right_child"])
        return i

    roots = [add(t["tree_structure"]) for t in booster.dump_model()["tree_info"]]
    n = len(features)
    model = Model(
        name=name,
        kind="trees",
        features=tuple(features),
        mean=np.zeros(n),
        scale=np.ones(n),
        weights=np.zeros(n),
        bias=0.0,
        nodes={k: np.asarray(v) for k, v in table.items()},
        roots=np.asarray(roots),
    )
    check = x[:200]
    raw = booster.predict(check, raw_score=True)
    if not np.allclose(model.margin([dict(zip(features, r, strict=True)) for r in check]), raw):
        raise RuntimeError("the flattened trees disagree with LightGBM")
    return model


def rerank_data(
    questions: Sequence[Question], retriever: Retriever, s: AnswerSettings, progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows of the hybrid search's best ``POOL`` passages of answerable questions,
    and whether each holds a gold answer in the question's article."""
    rows, labels = [], []
    language = retriever.language
    for q in progress_bar([q for q in questions if q.answerable], "rerank", progress):
        passages = retriever.search(
            q.question,
            POOL,
            lexical_weight=s.lexical_weight,
            dense_weight=s.dense_weight,
            rerank=False,
        )
        idf = retriever.term_stats(list(dict.fromkeys(analyze(q.question, language))))[0]
        for p, f in zip(
            passages, passage_features(q.question, passages, idf, language), strict=True
        ):
            rows.append([f.get(k, 0.0) for k in RERANK_FEATURES])
            labels.append(holds_answer(p, q.doc_id, q.answers))
    return np.asarray(rows), np.asarray(labels)


def likelihood_rerank_data(
    questions: Sequence[Question],
    retriever: Retriever,
    s: AnswerSettings,
    scorer: TokenScorer,
    progress: bool,
    margin: float = LLM_MARGIN,
) -> tuple[np.ndarray, np.ndarray]:
    """``rerank-llm``'s rows (``rerank.likelihood_rows``) of the reranker's best
    ``LLM_DEPTH`` passages of the answerable questions where the reranker is unsure (those
    the answerer rescores), and whether each holds a gold answer in the question's article."""
    rows, labels = [], []
    for q in progress_bar([q for q in questions if q.answerable], "likelihood", progress):
        text = " ".join(q.question.split())
        passages = retriever.search(
            text, s.top_k, lexical_weight=s.lexical_weight, dense_weight=s.dense_weight
        )
        if not reranker_unsure(passages, margin):
            continue
        head = passages[:LLM_DEPTH]
        for p, f in zip(
            head, likelihood_rows(head, question_gains(scorer, text, head)), strict=True
        ):
            rows.append([f[k] for k in LLM_FEATURES])
            labels.append(holds_answer(p, q.doc_id, q.answers))
    return np.asarray(rows), np.asarray(labels)


def fit_likelihood_rerank(
    questions: Sequence[Question],
    retriever: Retriever,
    settings: AnswerSettings,
    scorer: TokenScorer,
    out: str | Path,
    *,
    progress: bool = False,
    margin: float = LLM_MARGIN,
) -> Path:
    """Fit ``rerank-llm`` (after the reranker: it reorders the reranker's passages) and
    write it into ``out``; ``margin`` says which questions count as unsure."""
    x, y = likelihood_rerank_data(questions, retriever, settings, scorer, progress, margin)
    if len(set(y.tolist())) < 2:
        raise ValueError(
            "fitting rerank-llm needs unsure questions whose passages both hold and miss "
            f"the answer; {len(y)} passages were scored"
        )
    model = fit_logistic(x, y, LLM_FEATURES, "rerank-llm")
    path = save_model(_noted(model, questions, len(y)), out)
    load_model.cache_clear()
    return path


def span_data(
    questions: Sequence[Question],
    retriever: Retriever,
    s: AnswerSettings,
    parsed: bool,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Feature rows of the candidate spans of answerable questions (as the answerer makes
    them), their grade (``span_grade``) and the number of rows of each question."""
    features = [*SPAN_FEATURES, *SENTENCE_FEATURES]
    rows, labels, groups = [], [], []
    language = retriever.language
    for q in progress_bar([q for q in questions if q.answerable], "spans", progress):
        passages = retriever.search(
            q.question, s.top_k, lexical_weight=s.lexical_weight, dense_weight=s.dense_weight
        )
        idf = retriever.term_stats(list(dict.fromkeys(analyze(q.question, language))))[0]
        ranked = rank_sentences(q.question, passages, idf, language)
        pairs, feats = span_rows(q.question, ranked, idf, language, parsed)
        for (_, span), f in zip(pairs, feats, strict=True):
            rows.append([f.get(k, 0.0) for k in features])
            labels.append(span_grade(span.text, f["q_inside"], q.answers))
        if pairs:
            groups.append(len(pairs))
    return np.asarray(rows), np.asarray(labels), groups


def span_grade(text: str, q_inside: float, answers: Sequence[str]) -> int:
    """How good a candidate is: 2 when it holds a gold answer without restating more than
    ``QUESTION_INSIDE`` of the question, 1 when it holds one but restates the question,
    else 0."""
    if not contains_answer(text, answers):
        return 0
    return 2 if q_inside <= QUESTION_INSIDE else 1


def fit_models(
    questions: Sequence[Question],
    retriever: Retriever,
    settings: AnswerSettings,
    out: str | Path,
    *,
    progress: bool = False,
) -> list[Path]:
    """Fit the reranker, then the span models, and write them into ``out``; the evidence
    model comes after (``calibrate``). Each stage reads the passages and spans that the
    models in use give: the package's, or the new ones when ``out`` is the package's
    weights folder."""
    written = []
    x, y = rerank_data(questions, retriever, settings, progress)
    rerank = fit_logistic(x, y, RERANK_FEATURES, "rerank")
    written.append(save_model(_noted(rerank, questions, len(y)), out))
    load_model.cache_clear()  # when ``out`` is the package's folder, the new one is used next
    for parsed in (True, False):
        x, y, groups = span_data(questions, retriever, settings, parsed, progress)
        features = [*SPAN_FEATURES, *SENTENCE_FEATURES]
        spans = fit_trees(x, y, features, model_name(parsed), groups)
        written.append(save_model(_noted(spans, questions, len(y)), out))
    load_model.cache_clear()
    return written


def _noted(model: Model, questions: Sequence[Question], rows: int) -> Model:
    articles = len({q.doc_id for q in questions})
    info = {"questions": len(questions), "articles": articles, "rows": rows}
    return replace(model, info=info)
